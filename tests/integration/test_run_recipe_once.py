"""``linecontrol run`` runs the recipe it checked: the file is read once, before anything
starts, and what the supervisor loads (and the run log records) is those bytes, whatever
happens to the file afterwards."""

from __future__ import annotations

import hashlib
import importlib
from pathlib import Path
from typing import Any

import pytest

from linecontrol.config import DEFAULT_LINE, RECIPES, load_line
from linecontrol.model import RecipeLoaded
from linecontrol.recording import RunOptions, run_recipe
from linecontrol.recording.recorder import start_sim as real_start_sim
from linecontrol.runlog import load_events

pytestmark = [pytest.mark.integration, pytest.mark.deadline(60)]

RECIPE = Path(__file__).parent / "data" / "fault-run.toml"


@pytest.mark.parametrize("change", ["replaced", "removed"])
async def test_the_recipe_run_is_the_one_read_before_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    path = tmp_path / "recipe.toml"
    raw = RECIPE.read_bytes()
    path.write_bytes(raw)

    async def start_sim(config: Path, args: list[str]) -> Any:
        # After the run's check, before the supervisor loads: the file changes.
        if change == "replaced":
            path.write_bytes((RECIPES / "001-ex1.toml").read_bytes())
        else:
            path.unlink()
        return await real_start_sim(config, args)

    # The module that starts the simulators for a run (the runner, or the session wiring
    # that run and serve share once it is split out).
    try:
        wiring = importlib.import_module("linecontrol.recording.session")
    except ModuleNotFoundError:
        wiring = importlib.import_module("linecontrol.recording.runner")
    monkeypatch.setattr(wiring, "start_sim", start_sim)
    opts = RunOptions(
        config=DEFAULT_LINE, line=load_line(DEFAULT_LINE), recipe=path, data_dir=tmp_path / "d",
        sim=True, speedup=1000.0, deadline_s=4.0,
    )  # fmt: skip
    result = await run_recipe(opts)
    events = [e.event for e in load_events(result.run_dir).events]
    [loaded] = [e for e in events if isinstance(e, RecipeLoaded)]
    assert loaded.sha256 == hashlib.sha256(raw).hexdigest()
    assert loaded.recipe == "fault-run"
    assert "Starting" in result.states
