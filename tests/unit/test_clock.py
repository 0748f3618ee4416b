"""The manual clock, and the cores it drives without sleeping: acquisition's
scheduler (poll rate, backoff, quality ageing) and the run log's error stamps."""

from __future__ import annotations

import asyncio
import errno
import json
import math
import os
import random
from pathlib import Path

import numpy as np
import pytest

from drivers.device import PollResult
from drivers.errors import DeviceTimeout
from linecontrol.acquisition import BACKOFF_CAP_S, Acquisition, LinkScheduler, Quality
from linecontrol.config import DEFAULT_LINE, load_line
from linecontrol.errors import LinecontrolError
from linecontrol.runlog import Batch, Channel, RunLog, RunMeta, SegmentWriter
from linecontrol.runtime import ClockError, ManualClock, ScaledClock, SystemClock


async def settled(clock: ManualClock, sleepers: int) -> None:
    """Yield to the loop until ``sleepers`` tasks wait on the clock again (bounded
    in loop turns, not in time)."""
    for _ in range(1000):
        await asyncio.sleep(0)
        if clock.waiting >= sleepers:
            return
    raise AssertionError(f"{clock.waiting} of {sleepers} tasks waiting on the clock")


# ------------------------------------------------------------------ the clock
async def test_sleepers_wake_when_time_reaches_their_deadline_in_order() -> None:
    clock = ManualClock(100.0)
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, t: float) -> None:
        await clock.sleep_until(t)
        woke.append((name, clock.monotonic()))

    tasks = [asyncio.create_task(sleeper(n, t)) for n, t in (("b", 102.0), ("a", 101.0))]
    await settled(clock, 2)
    assert clock.next_deadline() == 101.0
    assert clock.advance(0.5) == 0 and woke == []
    assert clock.advance(0.5) == 1
    await settled(clock, 1)
    assert woke == [("a", 101.0)]
    assert clock.advance(5.0) == 1
    await asyncio.gather(*tasks)
    assert woke == [("a", 101.0), ("b", 106.0)]
    assert clock.waiting == 0 and clock.next_deadline() is None
    assert clock.wall() == pytest.approx(1.7e9 + 106.0)
    assert clock.both() == (106.0, clock.wall())


async def test_a_deadline_already_reached_only_yields_and_a_cancelled_sleeper_is_skipped() -> None:
    clock = ManualClock(5.0)
    await clock.sleep_until(5.0)  # returns without anyone advancing time
    await clock.sleep_until(-1.0)
    gone = asyncio.create_task(clock.sleep_until(6.0))
    await settled(clock, 1)
    gone.cancel()
    await asyncio.gather(gone, return_exceptions=True)
    assert clock.waiting == 0 and clock.next_deadline() is None
    assert clock.advance(2.0) == 0  # nothing to wake, and no error setting a dead future


@pytest.mark.parametrize("dt", [-0.1, math.nan, math.inf])
def test_time_never_goes_back_nor_jumps_by_a_non_finite_step(dt: float) -> None:
    clock = ManualClock(1.0)
    with pytest.raises(ClockError) as err:
        clock.advance(dt)
    assert isinstance(err.value, LinecontrolError) and isinstance(err.value, ValueError)
    with pytest.raises(ClockError):
        clock.advance_to(0.5)
    assert clock.monotonic() == 1.0


NON_FINITE = [math.nan, math.inf, -math.inf]


@pytest.mark.parametrize("t", NON_FINITE)
async def test_a_sleep_until_a_non_finite_time_is_refused_and_the_sleepers_still_wake(
    t: float,
) -> None:
    clock = ManualClock(0.0)
    sleepers = [asyncio.create_task(clock.sleep_until(d)) for d in (1.0, 2.0, 3.0, 4.0)]
    await settled(clock, 4)
    with pytest.raises(ClockError):
        await clock.sleep_until(t)
    assert clock.waiting == 4 and clock.next_deadline() == 1.0
    assert clock.advance(10.0) == 4
    await asyncio.gather(*sleepers)


@pytest.mark.parametrize("wall", NON_FINITE)
def test_a_manual_clock_refuses_a_non_finite_wall_time(wall: float) -> None:
    with pytest.raises(ClockError):
        ManualClock(0.0, wall_at_zero=wall)


@pytest.mark.parametrize("t", NON_FINITE)
async def test_the_system_clock_refuses_to_sleep_until_a_non_finite_time(t: float) -> None:
    with pytest.raises(ClockError) as err:
        await SystemClock().sleep_until(t)
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize("t", [math.nan, math.inf, -math.inf])
async def test_the_scaled_clock_refuses_to_sleep_until_a_non_finite_time(t: float) -> None:
    with pytest.raises(ClockError):
        await ScaledClock(10.0).sleep_until(t)


def test_the_system_clock_can_be_read_off_the_event_loop() -> None:
    # The run log's writer thread stamps events with it: no running loop there.
    mono, wall = SystemClock().both()
    assert math.isfinite(mono) and wall > 1.6e9


# ------------------------------------------------------------------ acquisition
class CountingDriver:
    """In memory: answers ``values`` (or raises ``exc``), noting the clock at each poll."""

    def __init__(self, clock: ManualClock, names: list[str]) -> None:
        self.clock = clock
        self.values = {n: 1.0 for n in names}
        self.exc: Exception | None = None
        self.at: list[float] = []

    async def poll(self) -> PollResult:
        self.at.append(self.clock.monotonic())
        if self.exc is not None:
            raise self.exc
        return PollResult(values=dict(self.values))


async def test_scheduler_polls_at_the_period_backs_off_on_failure_and_values_age_into_stale() -> (
    None
):
    clock = ManualClock(1000.0)
    acq = Acquisition(load_line(DEFAULT_LINE), clock, rng=random.Random(3))
    press = acq.pollers["press"]
    drv = CountingDriver(clock, press.names)
    press.driver = drv
    period = press.period_s
    sched = asyncio.create_task(LinkScheduler("tcp:press", [press], acq).run())
    try:
        await settled(clock, 1)
        for _ in range(10):
            clock.advance(period)
            await settled(clock, 1)
        # Due at start and at every period: 11 polls, each on its due time.
        assert drv.at == pytest.approx([1000.0 + i * period for i in range(11)])
        assert {int(acq.sample().quality[c]) for c in press.cols} == {Quality.GOOD}

        drv.exc = DeviceTimeout("no reply", device="press")
        t_fail = clock.monotonic() + period
        for _ in range(400):  # ~ 400 periods of simulated time
            clock.advance(period)
            await settled(clock, 1)
        fails = [t for t in drv.at if t >= t_fail]
        gaps = np.diff(fails)
        # Retries back off: each gap at least half the doubled step, none above the cap.
        for k, gap in enumerate(gaps, start=1):
            step = min(BACKOFF_CAP_S, period * 2 ** (k - 1))
            assert 0.5 * step - period <= gap <= step + period
        assert gaps.max() <= BACKOFF_CAP_S + period and len(fails) < 400
        # The last good values aged into STALE (three periods), never INVALID or GOOD.
        assert {int(acq.sample().quality[c]) for c in press.cols} == {Quality.STALE}
        assert press.state == "failing" and acq.device_report().failed
    finally:
        sched.cancel()
        await asyncio.gather(sched, return_exceptions=True)


async def test_sampler_takes_rows_at_its_rate_on_the_injected_clock() -> None:
    clock = ManualClock(50.0)
    acq = Acquisition(load_line(DEFAULT_LINE), clock, sample_hz=10.0)
    batches: list[Batch] = []
    acq.sinks.append(batches.append)
    task = asyncio.create_task(acq.run_sampler())
    try:
        await settled(clock, 1)
        for _ in range(25):
            clock.advance(0.1)
            await settled(clock, 1)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    t = np.concatenate([b.t_mono for b in batches])
    # 26 rows at 0.1 s, in batches of 10 (the unfinished one flushed at the stop).
    assert [len(b.t_mono) for b in batches] == [10, 10, 6]
    assert t == pytest.approx(50.0 + 0.1 * np.arange(26))
    assert np.concatenate([b.t_wall for b in batches]) == pytest.approx(1.7e9 + t)


# ------------------------------------------------------------------ run log
class FullDisk:
    """Segment writers whose writes fail with ENOSPC."""

    def __call__(self, path: Path, channels: list[Channel], fsync: bool) -> SegmentWriter:
        w = SegmentWriter(path, channels, fsync=fsync)

        def write(b: Batch) -> None:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

        w.write = write  # type: ignore[method-assign]
        return w


def _batch(t0: float) -> Batch:
    t = t0 + np.arange(10) / 10
    return Batch(
        t_mono=t,
        t_wall=1.7e9 + t,
        web_position_m=t * 0.01,
        values=np.ones((10, 2)),
        quality=np.zeros((10, 2), np.uint8),
    )


async def test_run_log_errors_are_stamped_by_the_injected_clock(tmp_path: Path) -> None:
    clock = ManualClock(7000.0)  # far from the system's monotonic time
    meta = RunMeta(
        run_id="R-manual",
        line={},
        channels=[Channel("a"), Channel("b")],
        start_mono=clock.monotonic(),
        start_wall=clock.wall(),
    )
    log = RunLog(tmp_path, meta, clock=clock.both, fsync=False, opener=FullDisk())
    await log.start()
    clock.advance(12.5)
    log.append(_batch(7012.5))
    await log.drain()
    await log.stop("ok", compact=False)
    assert len(log.errors) == 1
    lines = (log.dir / "events.jsonl").read_text().splitlines()
    errs = [e for e in map(json.loads, lines) if e["type"] == "RunLogError"]
    assert len(errs) == 1
    assert errs[0]["t_mono"] == 7012.5 and errs[0]["t_wall"] == 1.7e9 + 7012.5
