"""Rules from seed 004 (thermoplastic polyimide laminate: solids, layers, lamination)."""

from __future__ import annotations

from collections.abc import Iterator

from linecontrol.config import (
    LineConfig,
    Recipe,
)
from linecontrol.process.derive import Derived
from linecontrol.process.rules.compare import (
    below,
    between,
    needs_bp,
    oven_field,
    ovens,
)
from linecontrol.process.rules.table import Finding, rule


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


@rule(
    "dry.below_bp",
    "error",
    "004: dried at a temperature lower than the boiling point of the solvent",
    "drying zones below the solvent's boiling point",
)
def _dry_bp(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    bp = recipe.material.solvent_bp_c
    for oven in ovens(recipe, "dry"):
        if bp is None:
            yield from needs_bp(recipe, oven)
            continue
        for sp in oven.zones:
            yield from below(
                oven_field(oven, f"zones[{sp.zone}].temperature_c"),
                sp.temperature_c,
                bp,
                "°C",
                f"{recipe.material.solvent} boiling point",
            )


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
