"""``GET /v1/recipes``: the recipes of a directory, each checked against the line as
``linecontrol recipe check`` does (blocking file reads: the server runs it in a thread)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from linecontrol.config import LineConfig, Recipe, load_model_bytes
from linecontrol.errors import InputFileError
from linecontrol.process import check, report_json, violation_text, with_run_end
from linecontrol.supervisor import read_recipe_bytes

MAX_RECIPES = 200  # files listed, at most


def recipe_reports(directory: Path | None, line: LineConfig) -> list[dict[str, Any]]:
    """``[{"path", "name", "ok", "violations", "derived", ...}]`` of every ``*.toml``
    in ``directory`` (sorted by name): ``violations`` the errors and warnings as
    ``recipe check`` prints them; a file that cannot be read is ``ok: false`` with its
    problems and no name."""
    if directory is None:
        return []
    out: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.toml"))[:MAX_RECIPES]:
        try:
            raw = read_recipe_bytes(path)
            recipe = load_model_bytes(str(path), raw, Recipe)
        except InputFileError as exc:
            out.append({
                "path": str(path), "name": None, "ok": False,
                "violations": [str(p) for p in exc.problems], "derived": {},
            })  # fmt: skip
            continue
        report = with_run_end(check(recipe, line))
        data = report_json(str(path), "", report)
        out.append({
            "path": str(path),
            "name": recipe.recipe.name,
            "ok": report.ok,
            "violations": [violation_text(v) for v in (*report.errors, *report.warnings)],
            "derived": data["derived"],
            "errors": data["errors"],
            "warnings": data["warnings"],
        })  # fmt: skip
    return out
