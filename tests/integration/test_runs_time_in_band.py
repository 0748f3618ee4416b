"""``runs show``'s time in band on a real run log: seconds on the line's clock (the
samples' own ``t_mono``), so a run at a speed-up reports process seconds, and over
Execute only when the run has StateChanged events (a supervised run)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from linecontrol.config import DEFAULT_LINE, RECIPES, load_line, load_recipe
from linecontrol.model import StateChanged
from linecontrol.runlog import Batch, Channel, RunLog, RunMeta, new_run_id, summarize
from linecontrol.runlog.store import bands

pytestmark = pytest.mark.integration
SPEEDUP = 300.0
HZ = 10.0
CH = "zone_C07.temp_pv_c"


class Clock:
    """The line's clock, set by the test (events are stamped with it)."""

    def __init__(self) -> None:
        self.mono = 0.0

    def __call__(self) -> tuple[float, float]:
        return self.mono, 1.7e9 + self.mono


async def _run(tmp_path: Path, states: list[tuple[float, str]]) -> Path:
    meta = RunMeta(
        run_id=new_run_id(time.time()),
        line=load_line(DEFAULT_LINE).model_dump(mode="json"),
        recipe=load_recipe(RECIPES / "001-ex1.toml").model_dump(mode="json"),
        channels=[Channel(CH, "°C", "zone_C07")],
        sample_hz=HZ,
        start_mono=0.0,
        start_wall=1.7e9,
    )
    lo, hi = bands(meta)[0][CH]
    clock = Clock()
    log = RunLog(tmp_path, meta, clock=clock)
    await log.start()
    # 100 samples at 10 Hz of real time and a speed-up of 300: 30 s of process apart,
    # every one in band.
    t = np.arange(100) * SPEEDUP / HZ
    prev = "Idle"
    for at, new in states:
        clock.mono = at
        log.event(StateChanged(old=prev, new=new, mode="production", cause="test"))  # type: ignore[arg-type]
        prev = new
    log.append(
        Batch(
            t_mono=t,
            t_wall=1.7e9 + t,
            web_position_m=np.zeros(100),
            values=np.full((100, 1), (lo + hi) / 2),
            quality=np.zeros((100, 1), dtype=np.uint8),
        )
    )
    clock.mono = float(t[-1])
    await log.stop("ok")
    return log.dir


async def test_time_in_band_counts_process_seconds_at_a_speedup(tmp_path: Path) -> None:
    s = summarize(await _run(tmp_path, []))  # no StateChanged: the whole run (record)
    b = s.time_in_band[CH]
    assert b["good_samples"] == 100 and b["in_band_pct"] == 100.0
    assert b["in_band_s"] == pytest.approx(100 * SPEEDUP / HZ)  # 3000 s, not 10 s


async def test_a_supervised_run_counts_only_its_time_in_execute(tmp_path: Path) -> None:
    # Starting at 0, Execute from the 20th sample to the 70th, then Completing.
    d = await _run(tmp_path, [(0.0, "Starting"), (600.0, "Execute"), (2100.0, "Completing")])
    b = summarize(d).time_in_band[CH]
    assert b["good_samples"] == 50
    assert b["in_band_s"] == pytest.approx(50 * SPEEDUP / HZ)
