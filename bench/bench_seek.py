"""Seeking in a logged run through the segments' seek index, against a linear read to
the same point measured in the same run (issue 11: a seek anywhere in an 8 h run of
200 channels takes under 100 ms).

An 8 h run of 200 channels at 10 Hz (288,000 rows) is written with the real
``SegmentWriter``, one 10-row batch per second, a new segment every 600 s as the run
log's writer rolls them (its rule: a batch at or past 600 s after the segment's first
row opens the next); each writer leaves its segment's index at close. The web runs at
0.5 m/s, stands still from 3 h to 3.5 h, then runs on.

Measured, over ``--seeks`` random targets each (times and metres drawn once, the same
for every variant):

- warm: one ``RunSamples`` open, seek after seek (its cache of decoded batches
  rarely hits: the targets are spread over 28,800 batches);
- cold-ish: a new ``RunSamples`` for every seek (every sidecar read, checked against
  its segment's size, mtime, head and tail, and decoded again; the page cache is warm:
  the files were just written);
- seek and rebuild a 60 s trend (``read_window(t - 60, t)``, 600 rows);
- the lazy build: opening the run with every sidecar deleted (an older run);
- baseline: ``read_samples`` of the run from its start to the target (a linear read
  to the same point, as a reader without the index would do), ``--baseline`` targets.

The writer's cost per batch with the index kept is printed too. The temporary
directory is deleted at the end.

Run: python bench/bench_seek.py [--seeks N] [--baseline N]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import common  # noqa: F401
import numpy as np

from linecontrol.runlog import (
    Batch,
    Channel,
    RunSamples,
    SegmentWriter,
    read_samples,
    segment_name,
)
from linecontrol.runlog.index import sidecar

CHANNELS = 200
HZ = 10
HOURS = 8
SEGMENT_S = 600.0
SPEED_M_S = 0.5
STAND = (3 * 3600.0, 3.5 * 3600.0)


def web_at(t: np.ndarray) -> np.ndarray:
    moving: np.ndarray = np.minimum(t, STAND[0]) + np.maximum(t - STAND[1], 0.0)
    return moving * SPEED_M_S


def batches(seconds: int) -> Iterator[Batch]:
    rng = np.random.default_rng(0)
    base = np.round(rng.standard_normal((HZ, CHANNELS)), 3)
    q = np.zeros((HZ, CHANNELS), np.uint8)
    for s in range(seconds):
        t = s + np.arange(HZ) / HZ
        yield Batch(t, 1.7e9 + t, web_at(t), base + s * 1e-3, q)


def write_run(d: Path) -> list[float]:
    """The run, as the run log's writer rolls it; the time of each write (with its
    index entry), and of each close (with its index file) added to its batch."""
    chans = [Channel(f"ch{i:03d}", "u") for i in range(CHANNELS)]
    seg: SegmentWriter | None = None
    number = 0
    per_batch = []
    for b in batches(HOURS * 3600):
        t0 = time.perf_counter()
        if seg is None or (seg.t_first is not None and b.t_mono[0] - seg.t_first >= SEGMENT_S):
            if seg is not None:
                seg.close()
            number += 1
            seg = SegmentWriter(d / segment_name(number, float(b.t_mono[0])), chans, fsync=False)
        seg.write(b)
        per_batch.append(time.perf_counter() - t0)
    assert seg is not None
    seg.close()
    return per_batch


def stats_ms(xs: list[float]) -> str:
    ms = sorted(x * 1000 for x in xs)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return f"median {statistics.median(ms):8.2f} ms, p99 {p99:8.2f} ms, max {ms[-1]:8.2f} ms"


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeks", type=int, default=200, help="random targets per variant")
    ap.add_argument("--baseline", type=int, default=20, help="targets of the linear read")
    args = ap.parse_args()
    rows = HOURS * 3600 * HZ
    tmp = Path(tempfile.mkdtemp(prefix="lc-bench-seek-"))
    try:
        d = tmp / "samples"
        d.mkdir()
        t0 = time.perf_counter()
        per_batch = write_run(d)
        write_s = time.perf_counter() - t0
        segs = sorted(d.glob("seg-*.arrows"))
        idx_bytes = sum(sidecar(p).stat().st_size for p in segs)
        seg_bytes = sum(p.stat().st_size for p in segs)
        us = sorted(x * 1e6 for x in per_batch)
        print(
            f"Run: {HOURS} h x {CHANNELS} channels x {HZ} Hz = {rows:,} rows in {len(segs)} "
            f"segments, {seg_bytes / 1e6:.0f} MB; written in {write_s:.1f} s"
        )
        print(
            f"  writer per 1-s batch (with its index entry): p50 {statistics.median(us):.0f} µs,"
            f" p99 {us[int(len(us) * 0.99)]:.0f} µs; indexes {idx_bytes / 1e3:.0f} kB "
            f"({idx_bytes / len(per_batch):.0f} bytes a batch)"
        )

        rnd = random.Random(20261202)
        end_t = HOURS * 3600.0 - 1.0 / HZ
        top_m = float(web_at(np.array([end_t]))[0])
        times = [rnd.uniform(0.0, end_t) for _ in range(args.seeks)]
        metres = [rnd.uniform(0.0, top_m) for _ in range(args.seeks)]

        open_warm = [timed(lambda: RunSamples(d)) for _ in range(5)]
        run = RunSamples(d)
        assert run.rows == rows and run.rebuilt == [], run.rebuilt
        # Each seek is checked against the data's own definition as it is timed.
        warm_t, warm_m, trend = [], [], []
        for x in times:
            t0 = time.perf_counter()
            p = run.seek_time(x)
            warm_t.append(time.perf_counter() - t0)
            assert p is not None and p.t_mono >= x and p.t_mono - x < 1.0 / HZ + 1e-9
        for m in metres:
            t0 = time.perf_counter()
            p = run.seek_position(m)
            warm_m.append(time.perf_counter() - t0)
            assert p is not None and p.web_position_m >= m
        for x in times:
            t0 = time.perf_counter()
            p = run.seek_time(x)
            assert p is not None
            w = run.read_window(p.t_mono - 60.0, p.t_mono)
            trend.append(time.perf_counter() - t0)
            assert abs(len(w.t_mono) - min(600, p.row)) <= 1  # float times at the edge
        cold_t, cold_m = [], []
        for x in times:
            t0 = time.perf_counter()
            assert RunSamples(d).seek_time(x) is not None
            cold_t.append(time.perf_counter() - t0)
        for m in metres:
            t0 = time.perf_counter()
            assert RunSamples(d).seek_position(m) is not None
            cold_m.append(time.perf_counter() - t0)

        for seg in segs:
            sidecar(seg).unlink()
        t0 = time.perf_counter()
        built = RunSamples(d)
        build_s = time.perf_counter() - t0
        assert len(built.rebuilt) == len(segs) and built.rows == rows

        base = []
        for x in times[: args.baseline]:
            t0 = time.perf_counter()
            s = read_samples(d, t_to=x)
            i = int(np.searchsorted(s.t_mono, x, "left"))
            base.append(time.perf_counter() - t0)
            assert i == len(s.t_mono)  # everything before the target was read
        print(f"Seeks, {args.seeks} random targets each [target: under 100 ms]:")
        print(f"  open the run (load and check {len(segs)} indexes)   : {stats_ms(open_warm)}")
        print(f"  warm, to a time                         : {stats_ms(warm_t)}")
        print(f"  warm, to a metre                        : {stats_ms(warm_m)}")
        print(f"  warm, to a time + 60 s trend (600 rows)  : {stats_ms(trend)}")
        print(f"  cold-ish (open + seek), to a time       : {stats_ms(cold_t)}")
        print(f"  cold-ish (open + seek), to a metre      : {stats_ms(cold_m)}")
        print(f"  no index yet: open builds all {len(segs)}    : {build_s * 1000:.0f} ms once")
        print(f"Baseline, linear read to the same point ({len(base)} targets): {stats_ms(base)}")
        print(
            f"  ratio of medians, baseline / cold-ish seek to a time: "
            f"{statistics.median(base) / statistics.median(cold_t):.0f}x"
        )
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
