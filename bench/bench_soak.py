"""Memory soak: the embedded simulated line at 10x its nominal rates into a run log.

Every poll rate x10 (drive and press 100 Hz, zones 10 Hz, ...), sampled at 100 Hz,
for ``--minutes`` (default 10). RSS of this process (acquisition + run log; the
simulators are a child process) every 10 s; reported: growth over the last half.

Run: python bench/bench_soak.py [--minutes 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common

from linecontrol.acquisition import Acquisition, apply_address_map
from linecontrol.config import load_line
from linecontrol.runlog import RunLog, RunMeta, new_run_id
from linecontrol.runtime import SystemClock, settle_runtime


def rss_mb() -> float:
    text = Path("/proc/self/status").read_text()
    m = re.search(r"VmRSS:\s+(\d+) kB", text)
    return int(m.group(1)) / 1024 if m else float("nan")


def fast_config(factor: float) -> str:
    text = common.DEFAULT_LINE.read_text()
    return re.sub(r"poll_hz = ([0-9.]+)", lambda m: f"poll_hz = {float(m.group(1)) * factor:g}",
                  text)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10.0)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="lc-soak-"))
    cfg = tmp / "line.fast.toml"
    cfg.write_text(fast_config(10.0))
    sim = subprocess.Popen([sys.executable, "-m", "simulators", "--config", str(cfg)],
                           cwd=common.ROOT, stdout=subprocess.PIPE, text=True)
    try:
        amap = json.loads(sim.stdout.readline())  # type: ignore[union-attr]
        clock = SystemClock()
        line = apply_address_map(load_line(cfg), amap)
        acq = Acquisition(line, clock, sample_hz=100.0)
        meta = RunMeta(run_id=new_run_id(clock.wall()), line={}, channels=acq.channels,
                       sample_hz=100.0, start_wall=clock.wall(), start_mono=clock.monotonic())
        log = RunLog(tmp / "runs", meta, clock=clock.both)
        await log.start()
        acq.sinks.append(log.append)
        task = asyncio.create_task(acq.run())
        await asyncio.sleep(2.0)
        settle_runtime()
        samples: list[tuple[float, float]] = []
        t0 = time.monotonic()
        end = t0 + args.minutes * 60
        while time.monotonic() < end:
            samples.append((time.monotonic() - t0, rss_mb()))
            await asyncio.sleep(10.0)
        samples.append((time.monotonic() - t0, rss_mb()))
        polls = sum(p.polls for p in acq.pollers.values())
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await log.stop("ok", compact=False)
        half = [r for t, r in samples if t >= samples[-1][0] / 2]
        growth = (half[-1] - half[0]) / half[0] * 100
        print(f"Soak: {len(acq.channels)} channels at 10x the nominal poll rates, 100 Hz samples, "
              f"{args.minutes:g} min, {polls} polls, {log.rows_written} rows logged, "
              f"backlog at end {log.backlog}")
        print(f"  RSS: start {samples[0][1]:.1f} MB, mid {half[0]:.1f} MB, end {half[-1]:.1f} MB;"
              f" growth over the last half {growth:+.2f} %  [target: under 5 %]")
    finally:
        sim.terminate()
        sim.wait(10)


if __name__ == "__main__":
    asyncio.run(main())
