"""Rules from seed 001 (cast polyimide laminate: coat, dry, imidize, roll-press)."""

from __future__ import annotations

from collections.abc import Iterator

from linecontrol.config import (
    INERT,
    LineConfig,
    PressStation,
    Recipe,
)
from linecontrol.process.derive import Derived
from linecontrol.process.rules.compare import (
    between,
    cure_window,
    fmt,
    fmt_q,
    oven_field,
    ovens,
    peak_hold,
)
from linecontrol.process.rules.table import Finding, rule


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
    "cure.temperature",
    "error",
    "001: curing for imidization about 200 to 450 °C",
    "imidization at 200-450 °C",
    routes=("cast-laminate", "cast-laminate-tpi", "sputter-fusion"),
)
def _cure_temp(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    yield from cure_window(recipe, 200.0, 450.0)


@rule(
    "cure.atmosphere",
    "error",
    "001 (inert gas to prevent deterioration by oxygen); 004 (nitrogen or vacuum); 003 claim 12",
    "imidization / heat treatment under inert gas or vacuum",
)
def _cure_atmosphere(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    for oven in ovens(recipe, "cure"):
        if oven.atmosphere not in INERT:
            yield Finding(
                oven_field(oven, "atmosphere"),
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
    for oven in ovens(recipe, "dry"):
        if oven.atmosphere not in INERT:
            yield Finding(
                oven_field(oven, "atmosphere"),
                oven.atmosphere,
                "one of 'n2', 'ar', 'he', 'vacuum' (preferred)",
            )


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
    "dry.window",
    "error",
    "001: the precursor solution is heat-dried at about 60 to 200 °C",
    "drying zones at 60-200 °C",
    routes=("cast-laminate",),
)
def _dry_window(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    for oven in ovens(recipe, "dry"):
        for sp in oven.zones:
            yield from between(
                oven_field(oven, f"zones[{sp.zone}].temperature_c"),
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
    for oven in ovens(recipe, "cure"):
        peak = peak_hold(oven)
        yield from between(
            oven_field(oven, "steps (peak hold temperature_c)"), peak, 300.0, 430.0, "°C"
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
