"""Rules from docs/process.md and line practice: coat and sputter thickness match
their targets, and the oxygen limit of an inert oven."""

from __future__ import annotations

from collections.abc import Iterator

from linecontrol.config import (
    INERT,
    LineConfig,
    Recipe,
)
from linecontrol.process.derive import Derived
from linecontrol.process.rules.compare import (
    at_most,
    between,
    fmt,
    fmt_q,
    oven_field,
)
from linecontrol.process.rules.table import Finding, rule


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
                oven_field(oven, "o2_limit_ppm"),
                None,
                "an O2 limit for the inert atmosphere (typically 50-100 ppm)",
            )
        else:
            yield from at_most(oven_field(oven, "o2_limit_ppm"), oven.o2_limit_ppm, 100.0, "ppm")
        if oven.n2_flow_slm is None:
            yield Finding(oven_field(oven, "n2_flow_slm"), None, "an inert-gas purge flow")


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
