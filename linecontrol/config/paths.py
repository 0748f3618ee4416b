"""Where the embedded defaults live.

They are the repository's top-level ``configs/``, shipped in the built package as
``linecontrol.configs`` (see pyproject.toml) and found with ``importlib.resources``, so an
installed linecontrol needs no checkout. In a checkout (editable install) the same
lookup finds ``configs/`` itself.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from linecontrol.errors import InstallError


def _configs() -> Path:
    root = resources.files("linecontrol.configs")
    if not isinstance(root, Path):
        # Only a zipped install would give a non-file resource; linecontrol passes these
        # paths to other processes (the simulators), so it must be installed as files.
        raise InstallError(f"linecontrol must be installed unzipped: its configs are in {root}")
    return root


CONFIGS = _configs()
DEFAULT_LINE = CONFIGS / "line.sim.toml"
RECIPES = CONFIGS / "recipes"
