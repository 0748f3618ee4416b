"""The process window of a recipe field, found with the process rules themselves (pure).

The rules (``linecontrol.process.check``) judge a recipe, not a measured value. A
measured value is inside the seed's process window when the recipe, with that value
put in its field, passes every rule that the recipe as run passes: no *error* appears
that the recipe itself did not have (warnings do not bound a window). Windows are
intervals (every rule is a between, at least or at most of a field or of a value
derived from it monotonically), so each edge is found by bisection outward from the
recipe's own value; the edge kept is the last value found inside, and the rule that
fails just beyond it is its source. A value the recipe model itself refuses (a speed
of 0) is beyond an edge too ("recipe schema"). An edge that no rule sets within a
wide search (100 times the value, at least 1000 units) is open (infinite).
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from linecontrol.config import LineConfig, Recipe
from linecontrol.errors import LinecontrolError
from linecontrol.process import check

_STEP = re.compile(r"^(\w+)(?:\[([^\]]+)\])?$")
BISECTIONS = 36  # the edge to about 1e-9 of the search span


class FieldPathError(LinecontrolError, LookupError):
    """A recipe field path that names nothing in the recipe."""


@dataclass(frozen=True)
class Window:
    """An inclusive interval: a value on an edge is inside; NaN is never inside."""

    low: float
    high: float
    source: str  # which rules (or the recipe's own limit) set the edges

    def contains(self, v: float) -> bool:
        return bool(self.low <= v <= self.high)

    def scaled(self, k: float) -> Window:
        return Window(self.low * k, self.high * k, self.source)

    def text(self, unit: str) -> str:
        lo = "" if math.isinf(self.low) else f"{self.low:.4g}"
        hi = "" if math.isinf(self.high) else f"{self.high:.4g}"
        if lo and hi:
            return f"{lo}..{hi} {unit}".rstrip()
        if hi:
            return f"at most {hi} {unit}".rstrip()
        if lo:
            return f"at least {lo} {unit}".rstrip()
        return "no limit"


def _parent(tree: dict[str, Any], path: str) -> tuple[Any, str]:
    """The container that holds the last step of ``path`` and that step's key;
    a list item is named by its ``station`` or ``zone``."""
    steps = path.split(".")
    node: Any = tree
    for i, step in enumerate(steps):
        m = _STEP.match(step)
        if m is None:
            raise FieldPathError(f"{path!r}: {step!r} is not a field step")
        name, key = m.group(1), m.group(2)
        last = i == len(steps) - 1
        if key is None:
            if last:
                if not isinstance(node, dict) or name not in node:
                    raise FieldPathError(f"{path!r}: no field {name!r}")
                return node, name
            node = node.get(name) if isinstance(node, dict) else None
        else:
            items = node.get(name) if isinstance(node, dict) else None
            node = next(
                (
                    it
                    for it in items or []
                    if isinstance(it, dict) and key in (it.get("station"), it.get("zone"))
                ),
                None,
            )
        if node is None:
            raise FieldPathError(f"{path!r}: nothing at {step!r}")
    raise FieldPathError(f"{path!r}: empty path")


def field_value(tree: dict[str, Any], path: str) -> float:
    parent, key = _parent(tree, path)
    return float(parent[key])


def _error_keys(recipe: Recipe, line: LineConfig) -> set[tuple[str, str]]:
    return {(v.rule, v.field) for v in check(recipe, line).errors}


class _Prober:
    def __init__(self, recipe: Recipe, line: LineConfig) -> None:
        self.tree = recipe.model_dump()
        self.line = line
        self.base = _error_keys(recipe, line)

    def fails(self, path: str, v: float) -> str:
        """Why the recipe with ``v`` in ``path`` fails a rule it passed ("" if it passes)."""
        tree = copy.deepcopy(self.tree)
        parent, key = _parent(tree, path)
        parent[key] = v
        try:
            r = Recipe.model_validate(tree)
        except ValidationError:
            return "recipe schema"
        new = _error_keys(r, self.line) - self.base
        return ", ".join(sorted({rule for rule, _ in new}))

    def edge(self, path: str, v0: float, sign: float) -> tuple[float, str]:
        far = v0 + sign * max(abs(v0) * 100.0, 1000.0)
        why = self.fails(path, far)
        if not why:
            return sign * math.inf, ""
        inside, outside = v0, far
        for _ in range(BISECTIONS):
            mid = (inside + outside) / 2.0
            w = self.fails(path, mid)
            if w:
                outside, why = mid, w
            else:
                inside = mid
        return inside, why


def process_windows(recipe: Recipe, line: LineConfig, paths: list[str]) -> dict[str, Window | str]:
    """Each field's window, or why there is none (the recipe's own value already
    breaks a rule on it; a path the recipe does not have)."""
    p = _Prober(recipe, line)
    out: dict[str, Window | str] = {}
    for path in dict.fromkeys(paths):
        try:
            v0 = field_value(p.tree, path)
        except (FieldPathError, TypeError, ValueError) as exc:
            out[path] = f"no window: {exc}"
            continue
        own = sorted({rule for rule, f in p.base if f == path})
        if own:
            out[path] = f"no window: the recipe's own value breaks {', '.join(own)}"
            continue
        lo, lo_why = p.edge(path, v0, -1.0)
        hi, hi_why = p.edge(path, v0, 1.0)
        parts = [f"low: {lo_why}" if lo_why else "", f"high: {hi_why}" if hi_why else ""]
        out[path] = Window(lo, hi, "; ".join(x for x in parts if x) or "no rule bounds it")
    return out
