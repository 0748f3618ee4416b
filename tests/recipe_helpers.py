"""Building recipe and line variants from the shipped files, for table-driven tests."""

from __future__ import annotations

import copy
import re
import tomllib
from typing import Any

from linecontrol.config import DEFAULT_LINE, RECIPES, LineConfig, Recipe
from linecontrol.process import Report, check

_SEG = re.compile(r"^(\w+)(?:\[(.+)\])?$")


def recipe_dict(name: str) -> dict[str, Any]:
    return tomllib.loads((RECIPES / f"{name}.toml").read_text())


def line_dict() -> dict[str, Any]:
    return tomllib.loads(DEFAULT_LINE.read_text())


def _select(node: Any, key: str, sel: str | None) -> tuple[Any, Any]:
    """Return (container, key) for one path segment ``name`` or ``name[i]`` or ``name[k=v]``."""
    if sel is None:
        return node, key
    items = node[key]
    if sel.isdigit():
        return items, int(sel)
    k, v = sel.split("=", 1)
    for i, item in enumerate(items):
        if str(item.get(k)) == v:
            return items, i
    raise KeyError(f"no item with {k}={v} in {key}")


def put(d: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``d`` with ``path`` set to ``value`` (``DELETE`` removes the key).

    Path example: ``ovens[station=cure_oven].zones[zone=C07].temperature_c``.
    """
    d = copy.deepcopy(d)
    node: Any = d
    parts = path.split(".")
    for part in parts[:-1]:
        m = _SEG.match(part)
        assert m, part
        cont, k = _select(node, m.group(1), m.group(2))
        node = cont[k]
    m = _SEG.match(parts[-1])
    assert m, parts[-1]
    cont, k = _select(node, m.group(1), m.group(2))
    if value is DELETE:
        del cont[k]
    else:
        cont[k] = value
    return d


DELETE = object()


def run(recipe: dict[str, Any], line: dict[str, Any] | None = None) -> Report:
    return check(
        Recipe.model_validate(recipe),
        LineConfig.model_validate(line if line is not None else line_dict()),
    )


def rule_ids(report: Report) -> set[str]:
    return {v.rule for v in report.violations}
