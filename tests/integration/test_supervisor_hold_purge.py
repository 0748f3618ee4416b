"""Hold before the cure oven is purged, against the real simulators.

A Hold given in Starting, while the cure oven still holds air, must not latch its O2
trip: the oven is expected to hold air until its purge is done, so its cure zones stay
below the purge gate in Held as in Starting and its O2 alarms stay suppressed; the
purge runs on, Unhold is accepted and the run goes on to Execute. A purged oven that
loses its inerting in Held still alarms and trips.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from linecontrol.config import DEFAULT_LINE, load_line
from linecontrol.model import (
    AlarmRaised,
    CommandRejected,
    Hold,
    InterlockTripped,
    SequenceStepped,
    Stop,
    Unhold,
)
from linecontrol.recording import RunOptions, RunResult, run_recipe, runner
from linecontrol.recording.runner import RunHandle
from linecontrol.runlog import load_events
from linecontrol.runtime import clear_faults, inject_faults

pytestmark = [pytest.mark.integration, pytest.mark.deadline(120)]

RECIPE = Path(__file__).parent / "data" / "fault-run.toml"
SPEEDUP = 1000.0
DEADLINE_S = 40.0  # real seconds for each wait
REQUEST_DEADLINE_S = 5.0
OVEN = "cure_oven"


async def until(h: RunHandle, pred: Callable[[], bool], what: str) -> None:
    try:
        async with asyncio.timeout(DEADLINE_S):
            await h.supervisor.wait_for(lambda _s: pred())
    except TimeoutError:
        raise AssertionError(f"{what}: not within {DEADLINE_S:g} s") from None


def command(kind: type[Any], h: RunHandle, rid: str) -> Any:
    return kind(by="test", request_id=rid, at=h.clock.wall())


def state(h: RunHandle) -> str:
    return h.supervisor.state.label


def purged(h: RunHandle) -> bool:
    assert h.supervisor.core is not None
    return OVEN in h.supervisor.core.purged


async def run(
    script: Callable[[RunHandle], Coroutine[Any, Any, None]], tmp_path: Path
) -> RunResult:
    line = load_line(DEFAULT_LINE)
    opts = RunOptions(
        config=DEFAULT_LINE, line=line, recipe=RECIPE, data_dir=tmp_path, sim=True,
        speedup=SPEEDUP, deadline_s=4 * DEADLINE_S, script=script,
    )  # fmt: skip
    return await run_recipe(opts)


def events(result: RunResult) -> list[Any]:
    return [e.event for e in load_events(result.run_dir).events]


def o2_alarms(evs: list[Any]) -> list[str]:
    return [e.alarm for e in evs if isinstance(e, AlarmRaised) and e.alarm.startswith("o2_")]


def o2_trips(evs: list[Any]) -> list[InterlockTripped]:
    return [e for e in evs if isinstance(e, InterlockTripped) and e.interlock == "o2_trip"]


async def test_hold_before_the_purge_is_done_latches_no_o2_trip_and_unhold_is_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # run_recipe ends a run that reaches Held; this one is to go on after Unhold.
    monkeypatch.setattr(runner, "END_STATES", ("Complete", "Stopped", "Aborted"))
    seen: dict[str, bool] = {}

    async def script(h: RunHandle) -> None:
        await until(h, lambda: state(h) == "Starting", "Starting")
        h.supervisor.submit(command(Hold, h, "t-hold"))
        await until(h, lambda: state(h) == "Held", "Held")
        seen["purged_at_held"] = purged(h)
        # The purge runs on in Held; the oven is purged there.
        await until(h, lambda: purged(h), "the oven purged in Held")
        assert state(h) == "Held"
        h.supervisor.submit(command(Unhold, h, "t-unhold"))
        await until(h, lambda: state(h) == "Execute", "Execute after Unhold")
        h.supervisor.submit(command(Stop, h, "t-stop"))
        await until(h, lambda: state(h) == "Stopped", "Stopped")

    result = await run(script, tmp_path)
    assert seen["purged_at_held"] is False  # the Hold came while the oven held air
    evs = events(result)
    purged_at = next(
        i
        for i, e in enumerate(evs)
        if isinstance(e, SequenceStepped) and e.step == f"purged {OVEN}"
    )
    # Nothing from the O2 cell while the oven held air; once purged, its high alarm (no
    # consequence) may answer the cell's noise near the limit, its trip does not.
    assert o2_alarms(evs[:purged_at]) == []
    assert "o2_cure_trip" not in o2_alarms(evs)
    assert o2_trips(evs) == []
    assert not [e for e in evs if isinstance(e, CommandRejected)], [
        e.reason for e in evs if isinstance(e, CommandRejected)
    ]
    st = result.states
    assert st.index("Held") < st.index("Unholding") < st.index("Execute"), st
    assert result.final_state == "Stopped"


async def test_a_purged_oven_that_loses_its_inerting_in_held_still_trips(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "END_STATES", ("Complete", "Stopped", "Aborted"))

    def alarmed(h: RunHandle) -> bool:
        _defs, alarms = h.supervisor.alarm_states()
        core = h.supervisor.core
        assert core is not None
        return alarms["o2_cure_trip"].active and any(k.startswith("o2_trip") for k in core.active)

    async def script(h: RunHandle) -> None:
        await until(h, lambda: state(h) == "Execute", "Execute")
        h.supervisor.submit(command(Hold, h, "t-hold"))
        await until(h, lambda: state(h) == "Held", "Held")
        assert h.sim is not None
        await inject_faults(h.sim, "o2_cure", {"o2_leak_m3_min": 0.05}, REQUEST_DEADLINE_S)
        await until(h, lambda: alarmed(h), "the O2 alarm and trip in Held")
        await clear_faults(h.sim, "o2_cure", REQUEST_DEADLINE_S)
        h.supervisor.submit(command(Stop, h, "t-stop"))
        await until(h, lambda: state(h) == "Stopped", "Stopped")

    result = await run(script, tmp_path)
    evs = events(result)
    assert {"o2_cure_high", "o2_cure_trip"} <= set(o2_alarms(evs))
    assert o2_trips(evs)
