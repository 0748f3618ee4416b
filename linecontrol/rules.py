"""Process-window rules: is a recipe inside the windows the seed documents establish?

Every rule is a pure function of (recipe, line, derived values) with an id, a
severity and its source (seed file and passage). Route-specific rules apply to
their route only. Equipment limits come from the line config. A violation says
which field, which value, which window and which source, in plain words.

Windows are inclusive: a value on an edge is inside. Values are compared at a
stated resolution per unit (``RESOLUTION``): a value passes when it lies inside
the window widened by half a resolution step at each edge, which is the same as
rounding it to the resolution first. So floating-point error in a computed value
or edge (30,090 kg ÷ 30.09 cm = 1000.0000000000001 kg/cm; bp - 130 with bp
202.3 °C = 72.30000000000001 °C) never rejects a value that is on the edge, and
a value beyond an edge by more than half a step fails. Every comparison is
written so that a non-finite value falls outside (``not lo - h <= v <= hi + h``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any, Literal

from linecontrol.derive import Derived, derive
from linecontrol.line import (
    CoaterStation,
    LineConfig,
    OvenStation,
    PressStation,
    RewindStation,
    SputterStation,
    UnwindStation,
)
from linecontrol.recipe import INERT, Oven, Recipe

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Violation:
    rule: str
    severity: Severity
    field: str
    value: Any
    window: str
    source: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Finding:
    """What a rule function yields: the rule adds its id, severity and source."""

    field: str
    value: Any
    window: str
    detail: str = ""
    shown: str = ""  # the value as the message shows it (default: ``fmt(value)``)


RuleFn = Callable[[Recipe, LineConfig, Derived], Iterator[Finding]]


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    source: str
    summary: str
    fn: RuleFn
    routes: frozenset[str] | None = None  # None: every route


RULES: list[Rule] = []


def rule(
    id: str, severity: Severity, source: str, summary: str, routes: tuple[str, ...] | None = None
) -> Callable[[RuleFn], RuleFn]:
    def register(fn: RuleFn) -> RuleFn:
        RULES.append(
            Rule(
                id, severity, source, summary, fn, frozenset(routes) if routes is not None else None
            )
        )
        return fn

    return register


def fmt(v: Any) -> str:
    """A number as a person reads it: four significant digits, no exponent below 1e6."""
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            return str(v)
        if v == 0 or 1e-3 <= abs(v) < 1e4:
            return f"{v:.4g}"
        return f"{v:.0f}" if abs(v) < 1e6 else f"{v:.4g}"
    return str(v)


# The resolution each quantity is compared at, by unit: the smallest step that
# means something for a setpoint or a derived value on this kind of line (a
# controller's display step or finer). A value within half a step of an edge is
# on the edge.
RESOLUTION: dict[str, float] = {
    "°C": 0.01,
    "kg/cm": 0.001,
    "kg": 0.01,
    "MPa": 0.0001,
    "µm": 0.0001,
    "mm": 0.01,
    "m/min": 0.0001,
    "min": 0.001,
    "h": 0.0001,
    "N": 0.01,
    "wt%": 0.01,
    "ppm": 0.01,
    "slm": 0.01,
    "sccm": 0.01,
    "kW": 0.001,
    "ml/min": 0.001,
}


def half_step(unit: str) -> float:
    """Half the resolution of ``unit``: how far past an edge a value is still on it."""
    return RESOLUTION[unit] / 2.0


def fmt_q(v: float, unit: str) -> str:
    """``v`` at the resolution of ``unit`` (trailing zeros dropped), so a value that
    fails is never shown equal to the edge it fails; very large or non-finite
    values as ``fmt`` shows them."""
    if not math.isfinite(v) or abs(v) >= 1e9:
        return fmt(v)
    decimals = max(0, -math.floor(math.log10(RESOLUTION[unit]) + 1e-9))
    text = f"{v:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def between(
    field: str,
    value: float,
    lo: float,
    hi: float,
    unit: str,
    lo_label: str | None = None,
    hi_label: str | None = None,
) -> Iterator[Finding]:
    h = half_step(unit)
    if not (lo - h <= value <= hi + h):
        lo_t = f"{lo_label} = {fmt_q(lo, unit)}" if lo_label else fmt_q(lo, unit)
        hi_t = f"{hi_label} = {fmt_q(hi, unit)}" if hi_label else fmt_q(hi, unit)
        yield Finding(
            field, value, f"between {lo_t} and {hi_t} {unit}".rstrip(), shown=fmt_q(value, unit)
        )


def at_least(
    field: str, value: float, lo: float, unit: str, label: str | None = None
) -> Iterator[Finding]:
    if not (value >= lo - half_step(unit)):
        lo_t = f"{label} = {fmt_q(lo, unit)}" if label else fmt_q(lo, unit)
        yield Finding(field, value, f"at least {lo_t} {unit}".rstrip(), shown=fmt_q(value, unit))


def at_most(
    field: str, value: float, hi: float, unit: str, label: str | None = None
) -> Iterator[Finding]:
    if not (value <= hi + half_step(unit)):
        hi_t = f"{label} = {fmt_q(hi, unit)}" if label else fmt_q(hi, unit)
        yield Finding(field, value, f"at most {hi_t} {unit}".rstrip(), shown=fmt_q(value, unit))


def below(
    field: str, value: float, hi: float, unit: str, label: str | None = None
) -> Iterator[Finding]:
    # Strictly below at the resolution: a value that rounds to the edge is on it, not below.
    if not (value < hi - half_step(unit)):
        hi_t = f"{label} = {fmt_q(hi, unit)}" if label else fmt_q(hi, unit)
        yield Finding(field, value, f"below {hi_t} {unit}".rstrip(), shown=fmt_q(value, unit))


def _oven_field(oven: Oven, rest: str) -> str:
    return f"ovens[{oven.station}].{rest}"


# ---------------------------------------------------------------- structure vs line


@rule(
    "recipe.stations",
    "error",
    "line config",
    "stations exist on the line, in web order, of the kind each section needs",
)
def _stations(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    names = [s.name for s in line.stations]
    for i, name in enumerate(recipe.recipe.stations):
        if name not in names:
            yield Finding(f"recipe.stations[{i}]", name, f"one of the line's stations {names}")
    known = [n for n in recipe.recipe.stations if n in names]
    if known != sorted(known, key=names.index):
        yield Finding(
            "recipe.stations",
            known,
            f"listed in web order ({' → '.join(n for n in names if n in known)})",
        )
    for i, name in enumerate(recipe.recipe.stations):
        st = line.station(name)
        if (
            st is not None
            and st.name not in recipe.used_stations()
            and not isinstance(st, UnwindStation | RewindStation)
        ):
            yield Finding(
                f"recipe.stations[{i}]",
                name,
                "a station the recipe gives setpoints for (no section uses it)",
            )
    want: list[tuple[str, str, type]] = []
    want += [(f"coats[{i}].station", c.station, CoaterStation) for i, c in enumerate(recipe.coats)]
    want += [(f"ovens[{i}].station", o.station, OvenStation) for i, o in enumerate(recipe.ovens)]
    if recipe.sputter:
        want.append(("sputter.station", recipe.sputter.station, SputterStation))
    if recipe.press:
        want.append(("press.station", recipe.press.station, PressStation))
    for field, name, cls in want:
        st = line.station(name)
        if st is not None and not isinstance(st, cls):
            yield Finding(
                field, name, f"a station of kind {STATION_KIND[cls]!r} (it is {st.kind!r})"
            )


STATION_KIND: dict[type, str] = {
    CoaterStation: "coater",
    OvenStation: "oven",
    SputterStation: "sputter",
    PressStation: "press",
}

ROUTE_KINDS: dict[str, set[str]] = {
    "cast-laminate": {"coater", "oven", "press"},
    "cast-laminate-tpi": {"coater", "oven", "press"},
    "sputter-fusion": {"sputter", "oven", "press"},
    "coated-resin": {"coater", "oven"},
    "adhesion-film": {"coater", "oven", "sputter"},
}

# What each route unwinds: the cast routes coat metal foil (001, 003, 004); 000
# sputters onto a laminate with a thermoplastic PI surface (a PI film, claim 4, or
# a foil-backed one, claim 2); 002 coats a self-supporting precursor film and
# completes its imidation (claim 10).
ROUTE_SUBSTRATES: dict[str, tuple[str, ...]] = {
    "cast-laminate": ("metal_foil",),
    "cast-laminate-tpi": ("metal_foil",),
    "coated-resin": ("metal_foil",),
    "sputter-fusion": ("pi_film", "metal_foil"),
    "adhesion-film": ("pi_precursor_film",),
}


@rule(
    "recipe.route",
    "error",
    "docs/process.md route table; 002 claim 10 (coat a self-supporting precursor film, then heat)",
    "a route uses only its own stations, starts from its own substrate, has its own sections",
)
def _route(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    route = recipe.recipe.route
    if recipe.material.unwound not in ROUTE_SUBSTRATES[route]:
        yield Finding(
            "material.substrate",
            recipe.material.unwound,
            f"what the route {route!r} starts from: one of {list(ROUTE_SUBSTRATES[route])}",
        )
    if route == "adhesion-film" and (not recipe.coats or not any(_ovens(recipe, "cure"))):
        yield Finding(
            "recipe.route",
            route,
            "coat then heat to complete imidation: [[coats]] and a cure oven",
        )
    allowed = ROUTE_KINDS[recipe.recipe.route]
    for i, name in enumerate(recipe.recipe.stations):
        st = line.station(name)
        if st is None or isinstance(st, UnwindStation | RewindStation):
            continue
        if st.kind not in allowed:
            yield Finding(
                f"recipe.stations[{i}]",
                name,
                f"a station of the route {recipe.recipe.route!r}: kinds {sorted(allowed)}",
            )
    if recipe.recipe.route == "sputter-fusion" and (recipe.sputter is None or recipe.press is None):
        yield Finding(
            "recipe.route",
            recipe.recipe.route,
            "sputter then heat-and-press: [sputter] and [press] sections",
        )


@rule(
    "recipe.zones",
    "error",
    "line config",
    "oven zones exist and each step is laid on consistent setpoints",
)
def _zones(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    for oven in recipe.ovens:
        st = line.station(oven.station)
        if not isinstance(st, OvenStation):
            continue
        line_zones = [z.name for z in st.zones]
        for sp in oven.zones:
            if sp.zone not in line_zones:
                yield Finding(
                    _oven_field(oven, f"zones[{sp.zone}]"),
                    sp.zone,
                    f"one of {st.name}'s zones {line_zones}",
                )
        set_zones = {sp.zone for sp in oven.zones}
        missing = [z for z in line_zones if z not in set_zones]
        if missing:
            # The web crosses every zone of an oven it uses: each needs a setpoint.
            yield Finding(
                _oven_field(oven, "zones"),
                sorted(set_zones),
                f"a setpoint for every zone the web crosses (missing {missing})",
            )
        prev_c: float | None = None
        for i, step in enumerate(oven.steps):
            idx = [line_zones.index(z) for z in step.zones if z in line_zones]
            if idx and idx != list(range(idx[0], idx[0] + len(idx))):
                yield Finding(
                    _oven_field(oven, f"steps[{i}].zones"),
                    step.zones,
                    "adjacent zones in web order",
                )
            sps = [oven.zone(z) for z in step.zones]
            if step.kind == "hold":
                for hold_sp in sps:
                    if hold_sp is not None and not abs(
                        hold_sp.temperature_c - step.temperature_c
                    ) <= hold_sp.tolerance_c + half_step("°C"):
                        yield Finding(
                            _oven_field(oven, f"zones[{hold_sp.zone}].temperature_c"),
                            hold_sp.temperature_c,
                            f"the hold temperature of steps[{i}] ({fmt(step.temperature_c)} °C) "
                            f"within ±{fmt(hold_sp.tolerance_c)} °C",
                        )
            else:
                temps = [sp.temperature_c for sp in sps if sp is not None]
                lo = prev_c if prev_c is not None else -273.15
                h = half_step("°C")
                if temps != sorted(temps) or not all(
                    lo - h <= t <= step.temperature_c + h for t in temps
                ):
                    yield Finding(
                        _oven_field(oven, f"steps[{i}].zones"),
                        temps,
                        f"setpoints rising from {fmt(lo) if prev_c is not None else 'entry'}"
                        f" to {fmt(step.temperature_c)} °C along the ramp",
                    )
            prev_c = step.temperature_c


@rule(
    "line.residence",
    "error",
    "docs/process.md: residence = zone length ÷ line speed",
    "the line speed leaves every thermal step its required time",
)
def _residence(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    for s in d.steps:
        if not (s.residence_min >= s.required_min - half_step("min")):
            yield Finding(
                "web.speed_m_min",
                recipe.web.speed_m_min,
                f"at most {fmt(s.max_speed_m_min)} m/min",
                f"ovens[{s.oven}].steps[{s.index}] needs {fmt(s.required_min)} min at "
                f"{fmt(s.temperature_c)} °C over {'+'.join(s.zones)} ({fmt(s.length_m)} m); "
                f"at this speed the web spends {fmt(s.residence_min)} min there",
            )


# ---------------------------------------------------------------- equipment limits


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
                _oven_field(oven, f"zones[{sp.zone}].temperature_c"),
                sp.temperature_c,
                st.max_temp_c,
                "°C",
                f"{st.name} maximum",
            )
        if oven.atmosphere in INERT and not st.inert_capable:
            yield Finding(
                _oven_field(oven, "atmosphere"),
                oven.atmosphere,
                f"'air': {st.name} has no inert-gas supply",
            )
        if oven.n2_flow_slm is not None and st.max_n2_flow_slm is not None:
            yield from at_most(
                _oven_field(oven, "n2_flow_slm"),
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


# ---------------------------------------------------------------- process windows (seeds)


@rule(
    "line.speed",
    "error",
    "001, roll press paragraph: linear speed about 0.01 to 20 m/min",
    "linear speed 0.01-20 m/min",
)
def _line_speed(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    yield from between("web.speed_m_min", recipe.web.speed_m_min, 0.01, 20.0, "m/min")


@rule(
    "press.thermoplastic_surface",
    "error",
    "001, Comparative example 2 (no Tg: no adhesion); 000 claim 1 (thermoplastic surface)",
    "a heated-roll bond needs a thermoplastic surface with a known Tg",
    routes=("cast-laminate", "cast-laminate-tpi", "sputter-fusion"),
)
def _tp_surface(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    if recipe.press is not None and recipe.material.surface_tg_c is None:
        yield Finding(
            "material.surface_tg_c",
            None,
            "the Tg of the thermoplastic surface layer the press bonds to",
        )


@rule(
    "press.temp_vs_tg",
    "error",
    "001, heated roll press paragraph: about 30 to 250 °C higher than Tg",
    "press roll temperature between Tg + 30 and Tg + 250 °C",
    routes=("cast-laminate",),
)
def _press_tg(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    tg = recipe.material.surface_tg_c
    if recipe.press is None or tg is None:
        return
    yield from between(
        "press.temperature_c",
        recipe.press.temperature_c,
        tg + 30.0,
        tg + 250.0,
        "°C",
        "Tg + 30",
        "Tg + 250",
    )


@rule(
    "fuse.temp_vs_tg",
    "error",
    "000 claim 7 (Tg + 30 °C or more) and claim 6 (50 °C or higher)",
    "fusion temperature at least Tg + 30 °C and 50 °C",
    routes=("sputter-fusion",),
)
def _fuse_tg(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    tg = recipe.material.surface_tg_c
    if recipe.press is None or tg is None:
        return
    lo = max(tg + 30.0, 50.0)
    yield from at_least(
        "press.temperature_c",
        recipe.press.temperature_c,
        lo,
        "°C",
        "Tg + 30" if tg + 30.0 >= 50.0 else "claim 6 minimum",
    )


@rule(
    "press.linear_pressure",
    "error",
    "001, roll press paragraph: linear pressure about 5 to 1,000 kg/cm",
    "roll load ÷ bonded width between 5 and 1000 kg/cm",
)
def _linear_pressure(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    if d.linear_pressure_kg_cm is None:
        return
    for f in between("press.roll_load_kg", d.linear_pressure_kg_cm, 5.0, 1000.0, "kg/cm"):
        yield Finding(
            f.field,
            recipe.press.roll_load_kg if recipe.press else None,
            f"a linear pressure (load ÷ {fmt(recipe.web.width_mm / 10)} cm) {f.window}",
            f"gives {fmt_q(d.linear_pressure_kg_cm, 'kg/cm')} kg/cm",
        )


@rule(
    "press.roll_diameter",
    "error",
    "001, roll press paragraph: roll diameter about 500 mm or less, about 20 mm realistic",
    "press roll diameter 20-500 mm",
)
def _roll_diameter(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    st = line.station(recipe.press.station) if recipe.press else None
    if isinstance(st, PressStation):
        yield from between(
            f"line: stations[{st.name}].roll_diameter_mm", st.roll_diameter_mm, 20.0, 500.0, "mm"
        )


@rule(
    "press.temp_window_tpi",
    "error",
    "004, lamination paragraph: 300 to 350 °C (below: no adhesion; above: foil wrinkles)",
    "lamination at 300-350 °C for the 004 thermoplastic PI",
    routes=("cast-laminate-tpi",),
)
def _tpi_window(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    if recipe.press is not None:
        yield from between("press.temperature_c", recipe.press.temperature_c, 300.0, 350.0, "°C")


@rule(
    "tpi.tg",
    "error",
    "001 claim 1 (Tg 250-400 °C)",
    "thermoplastic PI Tg 250-400 °C",
    routes=("cast-laminate",),
)
def _tg_001(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    tg = recipe.material.surface_tg_c
    if tg is not None:
        yield from between("material.surface_tg_c", tg, 250.0, 400.0, "°C")


@rule(
    "tpi.tg_004",
    "error",
    "004 claim 3 (Tg 200-250 °C)",
    "thermoplastic PI Tg 200-250 °C",
    routes=("cast-laminate-tpi",),
)
def _tg_004(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    tg = recipe.material.surface_tg_c
    if tg is not None:
        yield from between("material.surface_tg_c", tg, 200.0, 250.0, "°C")


def _ovens(recipe: Recipe, purpose: str) -> Iterator[Oven]:
    return (o for o in recipe.ovens if o.purpose == purpose)


@rule(
    "cure.temperature",
    "error",
    "001: curing for imidization about 200 to 450 °C",
    "imidization at 200-450 °C",
    routes=("cast-laminate", "cast-laminate-tpi", "sputter-fusion"),
)
def _cure_temp(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    yield from _cure_window(recipe, 200.0, 450.0)


@rule(
    "cure.temperature_003",
    "error",
    "003 claim 13: heat treatment at 200 to 400 °C",
    "heat treatment at 200-400 °C",
    routes=("coated-resin",),
)
def _cure_temp_003(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    yield from _cure_window(recipe, 200.0, 400.0)


def _peak_hold(oven: Oven) -> float:
    """The imidization temperature: the hottest hold (lower zones are the ramp to it),
    or the hottest zone when the oven states no hold."""
    holds = [s for s in oven.steps if s.kind == "hold"]
    peak = max((s.temperature_c for s in holds), default=None)
    return peak if peak is not None else max(z.temperature_c for z in oven.zones)


def _cure_window(recipe: Recipe, lo: float, hi: float) -> Iterator[Finding]:
    for oven in _ovens(recipe, "cure"):
        peak = _peak_hold(oven)
        yield from between(_oven_field(oven, "steps (peak hold temperature_c)"), peak, lo, hi, "°C")
        for sp in oven.zones:
            yield from at_most(
                _oven_field(oven, f"zones[{sp.zone}].temperature_c"), sp.temperature_c, hi, "°C"
            )


@rule(
    "cure.atmosphere",
    "error",
    "001 (inert gas to prevent deterioration by oxygen); 004 (nitrogen or vacuum); 003 claim 12",
    "imidization / heat treatment under inert gas or vacuum",
)
def _cure_atmosphere(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    for oven in _ovens(recipe, "cure"):
        if oven.atmosphere not in INERT:
            yield Finding(
                _oven_field(oven, "atmosphere"),
                oven.atmosphere,
                "one of 'n2', 'ar', 'he', 'vacuum'",
            )


@rule(
    "dry.atmosphere",
    "warning",
    "001: drying and imidization preferably under He, Ar, N2",
    "drying preferably inert",
    routes=("cast-laminate",),
)
def _dry_atmosphere(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    for oven in _ovens(recipe, "dry"):
        if oven.atmosphere not in INERT:
            yield Finding(
                _oven_field(oven, "atmosphere"),
                oven.atmosphere,
                "one of 'n2', 'ar', 'he', 'vacuum' (preferred)",
            )


def _needs_bp(recipe: Recipe, oven: Oven) -> Iterator[Finding]:
    yield Finding(
        "material.solvent_bp_c",
        None,
        f"the solvent's boiling point (needed to check {oven.purpose} at {oven.station})",
    )


@rule(
    "dry.below_bp",
    "error",
    "004: dried at a temperature lower than the boiling point of the solvent",
    "drying zones below the solvent's boiling point",
)
def _dry_bp(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    bp = recipe.material.solvent_bp_c
    for oven in _ovens(recipe, "dry"):
        if bp is None:
            yield from _needs_bp(recipe, oven)
            continue
        for sp in oven.zones:
            yield from below(
                _oven_field(oven, f"zones[{sp.zone}].temperature_c"),
                sp.temperature_c,
                bp,
                "°C",
                f"{recipe.material.solvent} boiling point",
            )


@rule(
    "predry.window",
    "error",
    "003 claim 11: predrying 70 to 130 °C lower than the solvent's boiling point",
    "predry 70-130 °C below the solvent's boiling point",
)
def _predry(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    bp = recipe.material.solvent_bp_c
    for oven in _ovens(recipe, "predry"):
        if bp is None:
            yield from _needs_bp(recipe, oven)
            continue
        for sp in oven.zones:
            yield from between(
                _oven_field(oven, f"zones[{sp.zone}].temperature_c"),
                sp.temperature_c,
                bp - 130.0,
                bp - 70.0,
                "°C",
                "bp - 130",
                "bp - 70",
            )


@rule(
    "sputter.thickness",
    "error",
    "000 claim 5: conductor layer 0.01 to 5 µm",
    "dry-plated conductor 0.01-5 µm",
)
def _sputter_thickness(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    if recipe.sputter is None:
        return
    yield from between(
        "sputter.target_thickness_um", recipe.sputter.target_thickness_um, 0.01, 5.0, "µm"
    )
    if d.sputter_thickness_um is not None:
        for f in between("sputter.power_kw", d.sputter_thickness_um, 0.01, 5.0, "µm"):
            yield Finding(
                f.field,
                recipe.sputter.power_kw,
                f"a deposited thickness (rate x power ÷ speed) {f.window}",
                f"gives {fmt_q(d.sputter_thickness_um, 'µm')} µm",
            )


@rule(
    "sputter.matches_target",
    "warning",
    "docs/process.md: thickness = rate x power ÷ speed",
    "sputter power and speed give the target thickness (±10 %)",
)
def _sputter_target(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    if recipe.sputter is None or d.sputter_thickness_um is None:
        return
    t = recipe.sputter.target_thickness_um
    for f in between(
        "sputter.power_kw",
        d.sputter_thickness_um,
        0.9 * t,
        1.1 * t,
        "µm",
        "target - 10 %",
        "target + 10 %",
    ):
        yield Finding(
            f.field,
            recipe.sputter.power_kw,
            f"a deposited thickness {f.window}",
            f"gives {fmt_q(d.sputter_thickness_um, 'µm')} µm",
        )


@rule(
    "fuse.pressure",
    "error",
    "000 claim 9: pressure at the pressurizing 1 MPa or more",
    "fusion under at least 1 MPa",
    routes=("sputter-fusion",),
)
def _fuse_pressure(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    if recipe.press is None:
        return
    if d.areal_pressure_mpa is None:
        yield Finding(
            "line: press nip_contact_width_mm",
            None,
            "the nip contact width, to turn roll load into MPa",
        )
        return
    for f in at_least("press.roll_load_kg", d.areal_pressure_mpa, 1.0, "MPa"):
        yield Finding(
            f.field,
            recipe.press.roll_load_kg,
            f"an areal nip pressure {f.window}",
            f"gives {fmt_q(d.areal_pressure_mpa, 'MPa')} MPa",
        )


@rule(
    "o2.limit",
    "error",
    "line practice behind 001's 'prevent deterioration ... due to oxygen'",
    "an inert oven states its O2 limit, at most 100 ppm, and an N2 flow",
)
def _o2(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    for oven in recipe.ovens:
        if oven.atmosphere not in INERT or oven.atmosphere == "vacuum":
            continue
        if oven.o2_limit_ppm is None:
            yield Finding(
                _oven_field(oven, "o2_limit_ppm"),
                None,
                "an O2 limit for the inert atmosphere (typically 50-100 ppm)",
            )
        else:
            yield from at_most(_oven_field(oven, "o2_limit_ppm"), oven.o2_limit_ppm, 100.0, "ppm")
        if oven.n2_flow_slm is None:
            yield Finding(_oven_field(oven, "n2_flow_slm"), None, "an inert-gas purge flow")


@rule(
    "coat.solids",
    "error",
    "001: precursor solution 1 to 50 wt% solids",
    "solids 1-50 wt%",
    routes=("cast-laminate",),
)
def _solids_001(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    for i, coat in enumerate(recipe.coats):
        yield from between(f"coats[{i}].solids_wt_pct", coat.solids_wt_pct, 1.0, 50.0, "wt%")


@rule(
    "coat.solids_004",
    "error",
    "004: polyamic acid solution 10 to 30 wt% solids",
    "solids 10-30 wt%",
    routes=("cast-laminate-tpi",),
)
def _solids_004(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    for i, coat in enumerate(recipe.coats):
        yield from between(f"coats[{i}].solids_wt_pct", coat.solids_wt_pct, 10.0, 30.0, "wt%")


LAYER_004: dict[str, tuple[float, float]] = {
    "adhesion": (1.0, 5.0),
    "thermoplastic": (1.0, 5.0),
    "low_cte": (15.0, 50.0),
}


@rule(
    "coat.layer_thickness_004",
    "error",
    "004: adhesion and thermoplastic layers 1 to 5 µm, low-CTE layer 15 to 50 µm after cure",
    "004 layer thickness windows",
    routes=("cast-laminate-tpi",),
)
def _layers_004(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    for i, layer in enumerate(recipe.material.layers):
        if layer.role in LAYER_004:
            lo, hi = LAYER_004[layer.role]
            yield from between(
                f"material.layers[{i}].cured_thickness_um", layer.cured_thickness_um, lo, hi, "µm"
            )


@rule(
    "coat.matches_target",
    "warning",
    "docs/process.md: wet = flow ÷ (width x speed); cured ≈ wet x solids x ρsolution ÷ ρfilm",
    "pump flow gives the layer's target cured thickness (±10 %)",
)
def _coat_target(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    for i, c in enumerate(d.coats):
        if c.target_cured_um is None:
            continue
        t = c.target_cured_um
        for f in between(
            f"coats[{i}].flow_ml_min",
            c.cured_estimate_um,
            0.9 * t,
            1.1 * t,
            "µm",
            "target - 10 %",
            "target + 10 %",
        ):
            yield Finding(
                f.field,
                recipe.coats[i].flow_ml_min,
                f"a cured thickness {f.window}",
                f"gives {fmt(c.wet_um)} µm wet, about {fmt(c.cured_estimate_um)} µm cured",
            )


# ---------------------------------------------------------------- more 001 windows


@rule(
    "dry.window",
    "error",
    "001: the precursor solution is heat-dried at about 60 to 200 °C",
    "drying zones at 60-200 °C",
    routes=("cast-laminate",),
)
def _dry_window(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    for oven in _ovens(recipe, "dry"):
        for sp in oven.zones:
            yield from between(
                _oven_field(oven, f"zones[{sp.zone}].temperature_c"),
                sp.temperature_c,
                60.0,
                200.0,
                "°C",
            )


@rule(
    "cure.temperature_preferred",
    "warning",
    "001: curing for imidization about 200 to 450 °C, preferably about 300 to 430 °C",
    "imidization preferably at 300-430 °C",
    routes=("cast-laminate", "cast-laminate-tpi", "sputter-fusion"),
)
def _cure_preferred(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    for oven in _ovens(recipe, "cure"):
        peak = _peak_hold(oven)
        yield from between(
            _oven_field(oven, "steps (peak hold temperature_c)"), peak, 300.0, 430.0, "°C"
        )


@rule(
    "material.foil_thickness",
    "error",
    "001: the metal foil preferably about 5 µm to 1 mm thick",
    "metal foil 5-1000 µm",
    routes=("cast-laminate",),
)
def _foil_001(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    t = recipe.material.foil_thickness_um
    if t is not None:
        yield from between("material.foil_thickness_um", t, 5.0, 1000.0, "µm")


@rule(
    "film.total_thickness",
    "error",
    "001: the laminated polyimides preferably about 1 to 500 µm thick",
    "polyimide layers together 1-500 µm",
    routes=("cast-laminate",),
)
def _total_001(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    total = sum(layer.cured_thickness_um for layer in recipe.material.layers)
    for f in between("material.layers", total, 1.0, 500.0, "µm"):
        yield Finding(
            f.field,
            total,
            f"a total cured thickness {f.window}",
            f"the layers add up to {fmt_q(total, 'µm')} µm",
            shown=f.shown,
        )


# ---------------------------------------------------------------- more 003 windows


@rule(
    "heat_treat.time",
    "error",
    "003 claim 13: heating in an inert gas at 200 to 400 °C for 1 to 30 hours",
    "heat treatment at 200-400 °C for 1-30 h (stated and on the web)",
    routes=("coated-resin",),
)
def _heat_treat_time(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    h = half_step("°C")
    for oven in _ovens(recipe, "cure"):
        holds = [
            (i, s)
            for i, s in enumerate(oven.steps)
            if s.kind == "hold" and 200.0 - h <= s.temperature_c <= 400.0 + h
        ]
        stated_h = sum(s.time_min for _, s in holds) / 60.0
        yield from between(
            _oven_field(oven, "steps (hold time_min at 200-400 °C)"),
            stated_h,
            1.0,
            30.0,
            "h",
        )
        # The web may stay longer than the program asks (a slow line): what it gets counts too.
        got_h = (
            sum(
                span.residence_min
                for span in d.steps
                if span.oven == oven.station and span.index in {i for i, _ in holds}
            )
            / 60.0
        )
        for f in at_most("web.speed_m_min", got_h, 30.0, "h"):
            yield Finding(
                f.field,
                recipe.web.speed_m_min,
                f"fast enough that the heat treatment lasts {f.window}",
                f"the web spends {fmt_q(got_h, 'h')} h in the hold zones",
            )


# ---------------------------------------------------------------- 002: adhesion-enhanced PI film

AGENTS_002: tuple[str, ...] = ("aminosilane", "epoxysilane", "titanate")


@rule(
    "film.core_thickness",
    "error",
    "002 claim 7: the polyimide (A) core layer 10-35 µm thick",
    "one rigid low-CTE PI core layer of 10-35 µm",
    routes=("adhesion-film",),
)
def _core_002(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    cores = [(i, layer) for i, layer in enumerate(recipe.material.layers) if layer.role == "core"]
    if len(cores) != 1:
        yield Finding(
            "material.layers",
            [layer.name for _, layer in cores],
            "exactly one layer of role 'core' (the unwound film's polyimide A)",
        )
    for i, layer in cores:
        yield from between(
            f"material.layers[{i}].cured_thickness_um", layer.cured_thickness_um, 10.0, 35.0, "µm"
        )


@rule(
    "film.thin_layer",
    "error",
    "002 claims 1, 8, 10: a coated polyimide (B) thin layer 0.05-1 µm on at least one side",
    "heat-resistant PI thin layers of 0.05-1 µm, coated, at most one per side",
    routes=("adhesion-film",),
)
def _thin_002(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    thin = {layer.name for layer in recipe.material.layers if layer.role == "heat_resistant"}
    for i, layer in enumerate(recipe.material.layers):
        if layer.role == "heat_resistant":
            yield from between(
                f"material.layers[{i}].cured_thickness_um",
                layer.cured_thickness_um,
                0.05,
                1.0,
                "µm",
            )
    sides: dict[str, int] = {}
    for i, coat in enumerate(recipe.coats):
        if coat.layer not in thin:
            yield Finding(
                f"coats[{i}].layer",
                coat.layer,
                "a heat-resistant thin layer (role 'heat_resistant'): the route coats only those",
            )
            continue
        if coat.side in sides:
            yield Finding(
                f"coats[{i}].side",
                coat.side,
                f"a side without a thin layer yet (coats[{sides[coat.side]}] coats it)",
            )
        sides.setdefault(coat.side, i)
    if not sides:
        yield Finding(
            "coats", [], "at least one coat of a heat-resistant thin layer (on one or both sides)"
        )


@rule(
    "film.agent",
    "error",
    "002 claims 1, 6: the solution holds a heat-resistant surface treatment agent, "
    "an aminosilane, epoxysilane or titanate compound",
    "every thin-layer coat names its surface treatment agent",
    routes=("adhesion-film",),
)
def _agent_002(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    for i, coat in enumerate(recipe.coats):
        if coat.surface_treatment_agent not in AGENTS_002:
            yield Finding(
                f"coats[{i}].surface_treatment_agent",
                coat.surface_treatment_agent,
                f"one of {list(AGENTS_002)}",
            )


# ---------------------------------------------------------------- checking


@dataclass(frozen=True)
class Report:
    recipe: Recipe
    derived: Derived
    violations: list[Violation]

    @property
    def errors(self) -> list[Violation]:
        return [v for v in self.violations if v.severity == "error"]

    @property
    def warnings(self) -> list[Violation]:
        return [v for v in self.violations if v.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors


def check(recipe: Recipe, line: LineConfig) -> Report:
    d = derive(recipe, line)
    out: list[Violation] = []
    for r in RULES:
        if r.routes is not None and recipe.recipe.route not in r.routes:
            continue
        for f in r.fn(recipe, line, d):
            if f.value is None:
                msg = f"{f.field} is not given: needed as {f.window}"
            else:
                msg = f"{f.field} = {f.shown or fmt(f.value)}: must be {f.window}"
            if f.detail:
                msg += f"; {f.detail}"
            msg += f" ({r.source})"
            out.append(Violation(r.id, r.severity, f.field, f.value, f.window, r.source, msg))
    return Report(recipe, d, out)
