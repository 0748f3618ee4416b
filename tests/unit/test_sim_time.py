"""The simulated line in accelerated time: ``SimLine.step`` sub-steps a large ``dt``
so the physics at speed-up 1000 follow the same course as at speed-up 1, and ``run``
steps from its ``SimClock`` (here on an injected base clock: no real waiting)."""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pytest

from linecontrol.config import DEFAULT_LINE
from simulators.clock import SimClock
from simulators.config import DeviceSpec, load_config
from simulators.devices import LineContext, LineDriveSim, OvenZoneSim
from simulators.errors import SimLineError, SimulatorError
from simulators.line import MAX_SUBSTEP_S, SimLine

TICK_S = 0.05  # SimLine's default real tick: at speed-up N each step is N x TICK_S


def _specs(*names: str) -> list[DeviceSpec]:
    return [s for s in load_config(DEFAULT_LINE).devices if s.name in names]


def _zone_course(speedup: float, minutes: float) -> tuple[np.ndarray, np.ndarray]:
    """Temperatures of one oven zone stepped at 350 °C (no ramp: the hardest case)
    every ``speedup x TICK_S`` simulated seconds."""
    line = SimLine(_specs("zone_C01"))
    zone = line.devices["zone_C01"]
    assert isinstance(zone, OvenZoneSim)
    zone.bank.set("temp_sp_c", 350.0)
    zone.bank.set("ramp_c_per_min", 0.0)
    zone.bank.set("output_enable", 1)
    dt = speedup * TICK_S
    n = round(minutes * 60.0 / dt)
    t, temp = np.empty(n), np.empty(n)
    for i in range(n):
        line.step(dt)
        t[i], temp[i] = line.sim_time_s, zone.state.temp_c
    return t, temp


def test_a_zone_at_speedup_1000_follows_its_course_at_speedup_1_without_more_overshoot() -> None:
    t1, slow = _zone_course(1.0, 40.0)
    tn, fast = _zone_course(1000.0, 40.0)
    assert np.all(np.isfinite(fast))
    # No overshoot beyond what the loop does in real time, and the same settling.
    assert fast.max() <= slow.max() + 0.1
    assert fast[-1] == pytest.approx(350.0, abs=1.0) and slow[-1] == pytest.approx(350.0, abs=1.0)
    # The same course: at each of the fast run's times, within 0.5 K of the slow run.
    assert np.abs(np.interp(tn, t1, slow) - fast).max() < 0.5


def test_the_web_at_speedup_1000_stays_bounded_and_moves_as_at_speedup_1() -> None:
    def course(speedup: float) -> list[tuple[float, float, float, float]]:
        line = SimLine(_specs("drive"))
        drive = line.devices["drive"]
        assert isinstance(drive, LineDriveSim)
        drive.bank.set("speed_sp_m_min", 20.0)
        drive.bank.set("unwind_tension_sp_n", 100.0)
        drive.bank.set("rewind_tension_sp_n", 80.0)
        drive.bank.set("run_cmd", 1)
        dt = speedup * TICK_S
        out = []
        for _ in range(round(1800.0 / dt)):
            drive.faults.web_break = 1200.0 <= line.sim_time_s < 1300.0
            line.step(dt)
            s = drive.state
            assert 0.0 <= s.speed_m_min <= 20.0
            assert 0.0 <= s.unwind_tension_n <= 100.0 and 0.0 <= s.rewind_tension_n <= 80.0
            p = drive.params
            assert p.core_diameter_mm <= s.unwind_diameter_mm <= p.full_diameter_mm
            assert s.rewind_diameter_mm >= p.core_diameter_mm
            out.append((line.sim_time_s, s.position_m, s.unwind_tension_n, float(s.broken)))
        return out

    slow, fast = np.array(course(1.0)), np.array(course(1000.0))
    # Before the break: the same metres of web at the same simulated time (within 1 m).
    before = fast[:, 0] < 1200.0
    ref = np.interp(fast[before, 0], slow[:, 0], slow[:, 1])
    assert np.abs(ref - fast[before, 1]).max() < 1.0
    # The break drops the tension to zero and stops the web at any speed-up.
    during = (fast[:, 0] > 1200.0) & (fast[:, 0] <= 1300.0)
    assert np.all(fast[during, 2] == 0.0) and np.all(fast[during, 3] == 1.0)


def test_a_large_step_is_cut_into_substeps_of_at_most_the_maximum() -> None:
    line = SimLine(_specs("zone_C01"))
    zone = line.devices["zone_C01"]
    seen: list[float] = []
    real_step = zone.step

    def noted(dt: float, ctx: LineContext) -> None:
        seen.append(dt)
        real_step(dt, ctx)

    zone.step = noted  # type: ignore[method-assign]
    line.step(55.0)
    assert len(seen) == math.ceil(55.0 / MAX_SUBSTEP_S) and sum(seen) == pytest.approx(55.0)
    assert max(seen) <= MAX_SUBSTEP_S and line.sim_time_s == pytest.approx(55.0)
    seen.clear()
    line.step(0.0)
    assert seen == []
    for bad in (-1.0, math.nan, math.inf):
        with pytest.raises(SimLineError):
            line.step(bad)
    assert line.sim_time_s == pytest.approx(55.0)


async def test_run_steps_the_physics_by_the_simulated_time_its_clock_says_passed() -> None:
    real = [100.0]
    clock = SimClock(1000.0, 90.0, base=lambda: real[0])
    line = SimLine(_specs("zone_C01"), clock=clock, tick_s=0.0)
    assert line.time_scale == 1000.0
    task = asyncio.create_task(line.run())
    try:
        for _ in range(5):
            await asyncio.sleep(0)
        assert line.sim_time_s == 0.0  # no real time has passed
        real[0] += 0.05
        for _ in range(5):
            await asyncio.sleep(0)
        assert line.sim_time_s == pytest.approx(50.0)
        real[0] += 1.0
        for _ in range(5):
            await asyncio.sleep(0)
        assert line.sim_time_s == pytest.approx(1050.0)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.mark.parametrize("speedup", [0.0, -2.0, math.nan, math.inf, 1e6])
def test_the_simulators_clock_refuses_a_speedup_outside_its_window(speedup: float) -> None:
    with pytest.raises(SimLineError, match="speedup") as err:
        SimClock(speedup)
    assert isinstance(err.value, SimulatorError) and isinstance(err.value, ValueError)
    with pytest.raises(SimLineError, match="epoch"):
        SimClock(2.0, math.nan)
