"""A refused ``LoadRecipe`` (the API's 409 ``rejected`` message and the run log's
``CommandRejected`` reason) names the recipe's file once."""

from __future__ import annotations

from pathlib import Path

import pytest

from linecontrol.config import DEFAULT_LINE, load_line
from linecontrol.model import LoadRecipe
from linecontrol.supervisor import core as sup
from linecontrol.supervisor.shell import load_recipe_for

LINE = load_line(DEFAULT_LINE)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (None, "cannot read file: No such file or directory"),
        ("[line\n", "TOML syntax error"),
        ("x = 1\n", "recipe: required field is missing; material: required field is missing"),
    ],
)
def test_a_refused_load_names_its_file_once(tmp_path: Path, text: str | None, why: str) -> None:
    """The reason (the API's 409 message, the CommandRejected event) named the path
    twice, and once more per problem of a file that does not parse."""
    path = tmp_path / "r.toml"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    result = load_recipe_for(LoadRecipe(by="ana", request_id="l1", path=str(path)), LINE)
    assert isinstance(result, sup.RecipeRefused), result
    assert result.reason.startswith(f"{path}: ") and result.reason.count(str(path)) == 1
    assert why in result.reason, result.reason
