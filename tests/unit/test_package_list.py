"""pyproject.toml lists every package by hand (configs/ is mapped to another name), so a
new subpackage missing from the list would be left out of the built wheel."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_of_the_tree_is_listed_in_pyproject() -> None:
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("linecontrol", "drivers", "simulators")
        for init in (ROOT / top).rglob("__init__.py")
    } | {"linecontrol.configs"}
    assert listed == found
