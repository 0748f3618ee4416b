"""Acquisition on a clock faster than real time: each device is polled at no more than
its configured rate in real time (its period in simulated time stretched by the
speed-up), and staleness, backoff and the sampler follow the stretched period, so
detection bounds stay counted in poll cycles. Driven by the manual clock: no sleeping."""

from __future__ import annotations

import asyncio
import math
import random

import numpy as np
import pytest

from drivers.errors import DeviceTimeout
from linecontrol.acquisition import (
    BACKOFF_CAP_S,
    STALE_PERIODS,
    Acquisition,
    LinkScheduler,
    Quality,
)
from linecontrol.config import DEFAULT_LINE, load_line
from linecontrol.errors import InvalidArgument
from linecontrol.runlog import Batch
from linecontrol.runtime import ManualClock, ScaledClock
from tests.unit.test_clock import CountingDriver, settled

SPEEDUP = 100.0


async def test_at_a_speedup_a_device_is_polled_at_its_configured_rate_in_real_time() -> None:
    line = load_line(DEFAULT_LINE)
    clock = ManualClock(0.0)
    acq = Acquisition(line, clock, speedup=SPEEDUP, rng=random.Random(5))
    press = acq.pollers["press"]
    configured = line.devices["press"].period_s
    period = SPEEDUP * configured  # simulated seconds: `configured` real seconds
    assert press.period_s == pytest.approx(period)
    drv = CountingDriver(clock, press.names)
    press.driver = drv
    sched = asyncio.create_task(LinkScheduler("tcp:press", [press], acq).run())
    try:
        await settled(clock, 1)
        # Time moves in steps of the configured period: one poll per SPEEDUP of them.
        for i in range(1, int(5 * SPEEDUP) + 1):
            clock.advance_to(i * configured)  # no rounding drift: a step is a tick
            await settled(clock, 1)
        assert drv.at == pytest.approx([i * period for i in range(6)])
        assert {int(q) for q in acq.sample().quality[press.cols]} == {Quality.GOOD}

        # It stops answering: its values turn STALE after three stretched periods, not before.
        drv.exc = DeviceTimeout("no reply", device="press")
        t_good = drv.at[-1]
        stale_at = None
        ticks = round(clock.monotonic() / configured)
        while stale_at is None:
            ticks += 1
            clock.advance_to(ticks * configured)
            await settled(clock, 1)
            if {int(q) for q in acq.sample().quality[press.cols]} == {Quality.STALE}:
                stale_at = clock.monotonic()
        assert (
            STALE_PERIODS * period < stale_at - t_good <= STALE_PERIODS * period + configured + 1e-9
        )

        # Retries back off from one stretched period to the stretched cap.
        for _ in range(int(40 * SPEEDUP)):
            ticks += 1
            clock.advance_to(ticks * configured)
            await settled(clock, 1)
        gaps = np.diff([t for t in drv.at if t > t_good])
        assert gaps.min() >= 0.5 * period - configured
        assert gaps.max() <= BACKOFF_CAP_S * SPEEDUP + configured
        assert gaps.max() > BACKOFF_CAP_S  # the real-time cap alone would poll far too fast
    finally:
        sched.cancel()
        await asyncio.gather(sched, return_exceptions=True)


async def test_at_a_speedup_the_sampler_takes_rows_at_its_rate_in_real_time() -> None:
    clock = ManualClock(0.0)
    acq = Acquisition(load_line(DEFAULT_LINE), clock, sample_hz=10.0, speedup=SPEEDUP)
    batches: list[Batch] = []
    acq.sinks.append(batches.append)
    task = asyncio.create_task(acq.run_sampler())
    try:
        await settled(clock, 1)
        for _ in range(25):
            clock.advance(SPEEDUP * 0.1)
            await settled(clock, 1)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    t = np.concatenate([b.t_mono for b in batches])
    assert [len(b.t_mono) for b in batches] == [10, 10, 6]  # a batch per real second
    assert t == pytest.approx(SPEEDUP * 0.1 * np.arange(26))


def test_periods_are_never_shortened_and_a_scaled_clock_gives_its_speedup() -> None:
    line = load_line(DEFAULT_LINE)
    slow = Acquisition(line, ManualClock(0.0), speedup=0.25)  # slower than real time
    assert slow.rate_factor == 1.0
    assert {n: p.period_s for n, p in slow.pollers.items()} == {
        n: d.period_s for n, d in line.devices.items()
    }
    assert Acquisition(line, ManualClock(0.0)).rate_factor == 1.0
    fast = Acquisition(line, ScaledClock(300.0))
    assert fast.speedup == 300.0 and fast.rate_factor == 300.0
    assert fast.pollers["zone_C01"].period_s == pytest.approx(300.0 * 1.0)
    assert fast.snapshot.stale_after_s[fast.pollers["drive"].cols] == pytest.approx(
        STALE_PERIODS * 300.0 * line.devices["drive"].period_s
    )


@pytest.mark.parametrize("speedup", [0.0, -3.0, math.nan, math.inf])
def test_a_speedup_that_is_not_a_positive_number_is_refused(speedup: float) -> None:
    with pytest.raises(InvalidArgument, match="speedup"):
        Acquisition(load_line(DEFAULT_LINE), ManualClock(0.0), speedup=speedup)
