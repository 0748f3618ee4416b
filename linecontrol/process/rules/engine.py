"""Checking a recipe: every rule of its route, each finding turned into a violation
that names its field, value, window and source."""

from __future__ import annotations

from dataclasses import dataclass

from linecontrol.config import LineConfig, Recipe
from linecontrol.process.derive import Derived, derive
from linecontrol.process.rules.compare import fmt
from linecontrol.process.rules.table import RULES, Violation


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
