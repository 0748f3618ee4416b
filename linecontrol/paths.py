"""Where the embedded defaults live (the repository's ``configs/``)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
DEFAULT_LINE = CONFIGS / "line.sim.toml"
RECIPES = CONFIGS / "recipes"
