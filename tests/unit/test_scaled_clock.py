"""The scaled clock: the system's monotonic clock run ``speedup`` times faster from an
epoch, its wall clock, and its sleeps turned into real delays. The arithmetic is tested
with an injected base clock and an injected sleep: nothing here waits for real time."""

from __future__ import annotations

import asyncio
import math

import pytest

from linecontrol.errors import LinecontrolError
from linecontrol.runtime import SPEEDUP_MAX, ClockError, ScaledClock
from simulators.clock import SimClock


class Base:
    """A monotonic clock a test moves; ``sleep`` moves it by the real delay asked."""

    def __init__(self, t: float) -> None:
        self.t = t
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.t

    async def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.t += s
        await asyncio.sleep(0)


def test_sim_time_runs_speedup_times_faster_from_the_epoch_s_own_value() -> None:
    base = Base(1000.0)
    clock = ScaledClock(60.0, 990.0, base=base, wall_base=lambda: 1.7e9)
    # 10 s of real time since the epoch: 600 s of simulated time.
    assert clock.monotonic() == pytest.approx(990.0 + 600.0)
    base.t += 2.5
    assert clock.monotonic() == pytest.approx(990.0 + 12.5 * 60.0)
    assert clock.speedup == 60.0 and clock.epoch == 990.0


def test_the_wall_clock_runs_as_fast_from_the_wall_time_at_the_epoch() -> None:
    base = Base(1000.0)
    clock = ScaledClock(100.0, 990.0, base=base, wall_base=lambda: 1.7e9)
    assert clock.wall_at_epoch == pytest.approx(1.7e9 - 10.0)
    assert clock.wall() == pytest.approx(1.7e9 - 10.0 + 1000.0)
    base.t += 1.0  # one real second: 100 s of wall stamps
    mono, wall = clock.both()
    assert mono == pytest.approx(990.0 + 1100.0)
    assert wall == pytest.approx(1.7e9 - 10.0 + 1100.0)
    assert wall == pytest.approx(clock.wall())


def test_at_speedup_one_it_is_the_system_clock_and_the_default_epoch_is_now() -> None:
    base = Base(42.0)
    clock = ScaledClock(1.0, base=base, wall_base=lambda: 1.7e9)
    assert clock.epoch == 42.0 and clock.monotonic() == 42.0 and clock.wall() == 1.7e9
    base.t = 50.0
    assert clock.monotonic() == 50.0 and clock.wall() == pytest.approx(1.7e9 + 8.0)


async def test_sleep_until_sleeps_the_real_delay_of_a_simulated_deadline() -> None:
    base = Base(100.0)
    clock = ScaledClock(300.0, 100.0, base=base, sleep=base.sleep)
    await clock.sleep_until(100.0 + 600.0)  # 600 s of simulated time: 2 s real
    assert base.slept == pytest.approx([2.0])
    assert clock.monotonic() >= 700.0 - 1e-9
    base.slept.clear()
    await clock.sleep_until(650.0)  # already reached: one yield, no delay
    assert base.slept == [0]
    assert clock.real_delay(650.0) == 0.0
    assert clock.real_delay(clock.monotonic() + 30.0) == pytest.approx(0.1)


async def test_a_sleep_that_wakes_early_sleeps_again_for_the_rest() -> None:
    base = Base(0.0)
    woke_early: list[float] = []

    async def early(s: float) -> None:  # the loop may wake a timer a little early
        woke_early.append(s)
        base.t += s * 0.5
        await asyncio.sleep(0)

    clock = ScaledClock(10.0, 0.0, base=base, sleep=early)
    await clock.sleep_until(40.0)
    assert clock.monotonic() >= 40.0 - 1e-6
    assert woke_early[:2] == pytest.approx([4.0, 2.0])


@pytest.mark.parametrize("speedup", [0.0, -1.0, math.nan, math.inf, SPEEDUP_MAX])
def test_a_speedup_outside_its_window_is_refused(speedup: float) -> None:
    with pytest.raises(ClockError) as err:
        ScaledClock(speedup)
    assert isinstance(err.value, LinecontrolError) and isinstance(err.value, ValueError)
    assert "speedup" in str(err.value)


@pytest.mark.parametrize("epoch", [math.nan, math.inf, -math.inf])
def test_a_non_finite_epoch_is_refused(epoch: float) -> None:
    with pytest.raises(ClockError, match="epoch"):
        ScaledClock(2.0, epoch)


@pytest.mark.parametrize("speedup", [1.0, 7.5, 1000.0])
def test_the_simulators_clock_is_the_same_clock(speedup: float) -> None:
    # The simulators cannot import linecontrol: they keep the same formula, which
    # must give the same time for the same epoch and speedup.
    base = Base(5000.0)
    ours = ScaledClock(speedup, 4000.0, base=base)
    theirs = SimClock(speedup, 4000.0, base=base)
    for dt in (0.0, 0.05, 1.0, 3600.0):
        base.t += dt
        assert theirs.now() == pytest.approx(ours.monotonic(), rel=1e-12)
    assert theirs.real_delay(theirs.now() + speedup) == pytest.approx(1.0)
