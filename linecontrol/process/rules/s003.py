"""Rules from seed 003 (predrying relative to the solvent and the heat treatment)."""

from __future__ import annotations

from collections.abc import Iterator

from linecontrol.config import (
    LineConfig,
    Recipe,
)
from linecontrol.process.derive import Derived
from linecontrol.process.rules.compare import (
    at_most,
    between,
    cure_window,
    fmt_q,
    half_step,
    needs_bp,
    oven_field,
    ovens,
)
from linecontrol.process.rules.table import Finding, rule


@rule(
    "cure.temperature_003",
    "error",
    "003 claim 13: heat treatment at 200 to 400 °C",
    "heat treatment at 200-400 °C",
    routes=("coated-resin",),
)
def _cure_temp_003(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    yield from cure_window(recipe, 200.0, 400.0)


@rule(
    "predry.window",
    "error",
    "003 claim 11: predrying 70 to 130 °C lower than the solvent's boiling point",
    "predry 70-130 °C below the solvent's boiling point",
)
def _predry(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    bp = recipe.material.solvent_bp_c
    for oven in ovens(recipe, "predry"):
        if bp is None:
            yield from needs_bp(recipe, oven)
            continue
        for sp in oven.zones:
            yield from between(
                oven_field(oven, f"zones[{sp.zone}].temperature_c"),
                sp.temperature_c,
                bp - 130.0,
                bp - 70.0,
                "°C",
                "bp - 130",
                "bp - 70",
            )




@rule(
    "heat_treat.time",
    "error",
    "003 claim 13: heating in an inert gas at 200 to 400 °C for 1 to 30 hours",
    "heat treatment at 200-400 °C for 1-30 h (stated and on the web)",
    routes=("coated-resin",),
)
def _heat_treat_time(recipe: Recipe, line: LineConfig, d: Derived) -> Iterator[Finding]:
    h = half_step("°C")
    for oven in ovens(recipe, "cure"):
        holds = [
            (i, s)
            for i, s in enumerate(oven.steps)
            if s.kind == "hold" and 200.0 - h <= s.temperature_c <= 400.0 + h
        ]
        stated_h = sum(s.time_min for _, s in holds) / 60.0
        yield from between(
            oven_field(oven, "steps (hold time_min at 200-400 °C)"),
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
