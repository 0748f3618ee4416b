"""Equipment limits, from the line config: every setpoint within what its station can do."""

from __future__ import annotations

from collections.abc import Iterator

from linecontrol.config import (
    INERT,
    CoaterStation,
    LineConfig,
    OvenStation,
    PressStation,
    Recipe,
    RewindStation,
    SputterStation,
    UnwindStation,
)
from linecontrol.process.derive import Derived
from linecontrol.process.rules.compare import (
    at_most,
    between,
    oven_field,
)
from linecontrol.process.rules.table import Finding, rule


@rule("equip.speed", "error", "line config", "line speed within the line's drive range")
def _equip_speed(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    yield from between(
        "web.speed_m_min",
        recipe.web.speed_m_min,
        line.line.speed_min_m_min,
        line.line.speed_max_m_min,
        "m/min",
        "line minimum",
        "line maximum",
    )


@rule("equip.tension", "error", "line config", "web tensions within the unwind and rewind ranges")
def _equip_tension(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    for st in line.stations:
        if isinstance(st, UnwindStation):
            yield from at_most(
                "web.unwind_tension_n",
                recipe.web.unwind_tension_n,
                st.max_tension_n,
                "N",
                f"{st.name} maximum",
            )
        if isinstance(st, RewindStation):
            yield from at_most(
                "web.rewind_tension_n",
                recipe.web.rewind_tension_n,
                st.max_tension_n,
                "N",
                f"{st.name} maximum",
            )


@rule("equip.oven", "error", "line config", "zone setpoints, N2 flow within the oven's limits")
def _equip_oven(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    for oven in recipe.ovens:
        st = line.station(oven.station)
        if not isinstance(st, OvenStation):
            continue
        for sp in oven.zones:
            yield from at_most(
                oven_field(oven, f"zones[{sp.zone}].temperature_c"),
                sp.temperature_c,
                st.max_temp_c,
                "°C",
                f"{st.name} maximum",
            )
        if oven.atmosphere in INERT and not st.inert_capable:
            yield Finding(
                oven_field(oven, "atmosphere"),
                oven.atmosphere,
                f"'air': {st.name} has no inert-gas supply",
            )
        if oven.n2_flow_slm is not None and st.max_n2_flow_slm is not None:
            yield from at_most(
                oven_field(oven, "n2_flow_slm"),
                oven.n2_flow_slm,
                st.max_n2_flow_slm,
                "slm",
                f"{st.name} N2 flow controller maximum",
            )


@rule(
    "equip.unwind",
    "error",
    "line config",
    "the unwind is fitted for the material the recipe unwinds",
)
def _equip_unwind(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    for st in line.stations:
        if isinstance(st, UnwindStation) and recipe.material.unwound not in st.materials:
            yield Finding(
                "material.substrate",
                recipe.material.unwound,
                f"a material {st.name} is fitted to unwind: one of {st.materials}",
            )


@rule(
    "equip.coater",
    "error",
    "line config",
    "coating width, pump flow and coated side within the coater",
)
def _equip_coater(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    for i, coat in enumerate(recipe.coats):
        st = line.station(coat.station)
        if not isinstance(st, CoaterStation):
            continue
        if coat.side not in st.sides:
            yield Finding(
                f"coats[{i}].side", coat.side, f"a side {st.name} is threaded to coat: {st.sides}"
            )
        yield from at_most(
            f"coats[{i}].width_mm",
            coat.width_mm,
            min(st.max_width_mm, recipe.web.width_mm),
            "mm",
            "coater and web width",
        )
        yield from at_most(
            f"coats[{i}].flow_ml_min",
            coat.flow_ml_min,
            st.max_flow_ml_min,
            "ml/min",
            f"{st.name} pump maximum",
        )


@rule("equip.sputter", "error", "line config", "cathode power, Ar flow, width within the sputter")
def _equip_sputter(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    sp = recipe.sputter
    st = line.station(sp.station) if sp else None
    if sp is None or not isinstance(st, SputterStation):
        return
    yield from at_most(
        "sputter.power_kw", sp.power_kw, st.max_power_kw, "kW", f"{st.name} supply maximum"
    )
    yield from at_most(
        "sputter.ar_flow_sccm",
        sp.ar_flow_sccm,
        st.max_ar_flow_sccm,
        "sccm",
        f"{st.name} Ar flow maximum",
    )
    yield from at_most(
        "web.width_mm", recipe.web.width_mm, st.max_width_mm, "mm", f"{st.name} coating width"
    )


@rule("equip.press", "error", "line config", "roll load, roll temperature, width within the press")
def _equip_press(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    p = recipe.press
    st = line.station(p.station) if p else None
    if p is None or not isinstance(st, PressStation):
        return
    yield from at_most(
        "press.roll_load_kg", p.roll_load_kg, st.max_roll_load_kg, "kg", f"{st.name} maximum"
    )
    yield from at_most(
        "press.temperature_c", p.temperature_c, st.max_temp_c, "°C", f"{st.name} maximum"
    )
    yield from at_most(
        "web.width_mm",
        recipe.web.width_mm,
        st.roll_face_width_mm,
        "mm",
        f"{st.name} roll face width",
    )
