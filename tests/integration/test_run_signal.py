"""``linecontrol run``: a SIGINT that arrives while the simulated line is starting
ends the run before the line is driven (no recipe loaded, no command, nothing written).

The signal is a real SIGINT to this process, sent as the real simulators start (the
run's handler takes it while it waits for their address map), so the run sees it set
when they are up."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

from linecontrol.config import DEFAULT_LINE, load_line
from linecontrol.model import CommandGiven, RecipeLoaded, SetpointWritten, StateChanged
from linecontrol.recording import RunOptions, run_recipe, session
from linecontrol.recording.recorder import start_sim as real_start_sim
from linecontrol.runlog import load_events

RECIPE = Path(__file__).parent / "data" / "fault-run.toml"


async def test_a_sigint_while_the_simulators_start_drives_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[bool] = []

    async def start_sim(config: Path, args: list[str]) -> Any:
        os.kill(os.getpid(), signal.SIGINT)  # the run's StopSignals takes it
        sent.append(True)
        return await real_start_sim(config, args)

    monkeypatch.setattr(session, "start_sim", start_sim)  # the wiring run and serve share
    opts = RunOptions(
        config=DEFAULT_LINE, line=load_line(DEFAULT_LINE), recipe=RECIPE, data_dir=tmp_path,
        sim=True, speedup=1000.0, deadline_s=60.0,
    )  # fmt: skip
    result = await run_recipe(opts)
    assert sent == [True]
    assert result.status == "stopped by signal"
    events = [e.event for e in load_events(result.run_dir).events]
    for kind in (CommandGiven, RecipeLoaded, SetpointWritten, StateChanged):
        assert not [e for e in events if isinstance(e, kind)], kind.__name__


async def test_a_sigint_while_the_recipe_is_checked_starts_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SIGINT during the recipe's checks (before the data root's lock, the simulators
    or the run log): StoppedBeforeStart, nothing started; never a KeyboardInterrupt
    (``linecontrol run`` exited 130 with no word in that window)."""
    from linecontrol.recording import StoppedBeforeStart, runner
    from linecontrol.supervisor import plan_recipe as real_plan

    started: list[bool] = []

    def plan_recipe(*args: Any, **kwargs: Any) -> Any:
        os.kill(os.getpid(), signal.SIGINT)  # the run's StopSignals takes it
        return real_plan(*args, **kwargs)

    async def start_sim(config: Path, args: list[str]) -> Any:
        started.append(True)
        return await real_start_sim(config, args)

    monkeypatch.setattr(runner, "plan_recipe", plan_recipe)
    monkeypatch.setattr(session, "start_sim", start_sim)
    opts = RunOptions(
        config=DEFAULT_LINE, line=load_line(DEFAULT_LINE), recipe=RECIPE, data_dir=tmp_path,
        sim=True, speedup=1000.0, deadline_s=60.0,
    )  # fmt: skip
    with pytest.raises(StoppedBeforeStart):
        await run_recipe(opts)
    assert started == [] and list(tmp_path.iterdir()) == []
