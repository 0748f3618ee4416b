"""What the supervisor logs so that a run can be evaluated again (``linecontrol whatif``):
each event of a step with that step's time, the rows it skipped, the alarm engine's
context at its first step, and its end with its last step."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from linecontrol.acquisition import Acquisition
from linecontrol.config import DEFAULT_LINE, load_line
from linecontrol.model import AlarmInputs, Event, RowsSkipped, SupervisorStopped
from linecontrol.runtime import ManualClock
from linecontrol.supervisor import Supervisor

LINE = load_line(DEFAULT_LINE)
TURNS = 1000  # loop turns a wait may take (bounded, never a sleep)


async def turns_until(pred: Callable[[], bool]) -> None:
    for _ in range(TURNS):
        if pred():
            return
        await asyncio.sleep(0)
    raise AssertionError(f"not within {TURNS} loop turns")


async def test_each_step_is_logged_with_its_time_and_the_rows_it_skipped(tmp_path: Path) -> None:
    clock = ManualClock(100.0)
    acq = Acquisition(LINE, clock)  # built, never run: rows come from acq.sample()
    logged: list[tuple[Event, float | None]] = []
    s: Supervisor | None = None

    def on_event(e: Event) -> None:
        assert s is not None
        logged.append((e, s.step_now))

    s = Supervisor(LINE, acq, clock, on_event=on_event, state_dir=tmp_path / "st")
    task = asyncio.create_task(s.run())
    try:
        await turns_until(lambda: s.core is not None)
        clock.advance(0.1)
        first = acq.sample()
        await turns_until(lambda: s.core is not None and s.core.last_now == first.t_mono)
        # Three rows while the supervisor is busy: it steps on the newest only.
        times = []
        for _ in range(3):
            clock.advance(0.1)
            times.append(acq.sample().t_mono)
        await turns_until(lambda: s.core is not None and s.core.last_now == times[-1])
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await acq.close()
    inputs = [(e, t) for e, t in logged if isinstance(e, AlarmInputs)]
    assert inputs and inputs[0][1] == first.t_mono and inputs[0][0].state == "Stopped"
    skipped = [(e, t) for e, t in logged if isinstance(e, RowsSkipped)]
    assert [(e.count, t) for e, t in skipped] == [(2, times[-1])]
    end = [e for e, _ in logged if isinstance(e, SupervisorStopped)]
    assert [(e.steps, e.last_step) for e in end] == [(2, times[-1])]
    # Every event between boot and the end is a step's, with that step's time.
    stepped = [t for e, t in logged if not isinstance(e, SupervisorStopped)]
    assert set(stepped) <= {100.0, first.t_mono, times[-1]}
