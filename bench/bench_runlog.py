"""Run-log writer and reader, against a plain binary append measured in the same run.

An 8 h run of 200 channels at 10 Hz (288,000 rows, 57.6 M values) is written as
the run log writes it: one-second batches of 10 rows into 10-minute Arrow IPC
stream segments, each batch flushed to the OS. The baseline appends the same
rows as raw float64 bytes to one file. Then: the whole run back into numpy, and a
one-channel, one-hour slice.

Run: python bench/bench_runlog.py [--fsync]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import common  # noqa: F401
import numpy as np

from linecontrol.runlog import (
    Batch,
    Channel,
    SegmentWriter,
    read_samples,
    segment_name,
)

CHANNELS = 200
HZ = 10
HOURS = 8
SEGMENT_S = 600


def batches(seconds: int) -> Iterator[Batch]:
    rng = np.random.default_rng(0)
    base = np.round(rng.standard_normal((HZ, CHANNELS)), 3)
    q = np.zeros((HZ, CHANNELS), np.uint8)
    for s in range(seconds):
        t = s + np.arange(HZ) / HZ
        yield Batch(t, 1.7e9 + t, t * 0.005, base + s * 1e-3, q)


def write_both(d: Path, plain: Path, fsync: bool) -> tuple[float, float, list[float]]:
    """Both writers in one pass, batch by batch, so page-cache writeback and any
    other load of the machine fall on both alike. Returns (plain s, run log s,
    run-log time per batch)."""
    chans = [Channel(f"ch{i:03d}", "u") for i in range(CHANNELS)]
    seg: SegmentWriter | None = None
    fd = os.open(plain, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    plain_s = log_s = 0.0
    per_batch = []
    try:
        for b in batches(HOURS * 3600):
            t0 = time.perf_counter()
            # The same arrays, as they are, in one system call: the cheapest append.
            # (ndarrays are buffers; numpy's stubs declare __buffer__ for Python 3.12+ only.)
            arrays = [b.t_mono, b.t_wall, b.web_position_m, b.values, b.quality]
            os.writev(fd, arrays)  # type: ignore[arg-type]
            if fsync:
                os.fsync(fd)
            t1 = time.perf_counter()
            if seg is None or b.t_mono[0] - (seg.t_first or 0.0) >= SEGMENT_S:
                if seg is not None:
                    seg.close()
                no = int(b.t_mono[0]) // SEGMENT_S + 1
                seg = SegmentWriter(d / segment_name(no, float(b.t_mono[0])), chans, fsync=fsync)
            seg.write(b)
            t2 = time.perf_counter()
            plain_s += t1 - t0
            log_s += t2 - t1
            per_batch.append(t2 - t1)
    finally:
        os.close(fd)
        if seg is not None:
            seg.close()
    return plain_s, log_s, per_batch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fsync", action="store_true", help="fsync every batch on both sides")
    args = ap.parse_args()
    values = HOURS * 3600 * HZ * CHANNELS
    tmp = Path(tempfile.mkdtemp(prefix="lc-bench-"))
    try:
        seg_dir = tmp / "samples"
        seg_dir.mkdir()
        plain_s, log_s, per_batch = write_both(seg_dir, tmp / "plain.bin", args.fsync)
        size = sum(p.stat().st_size for p in seg_dir.iterdir())
        print(f"Writer, {HOURS} h x {CHANNELS} channels x {HZ} Hz = {values / 1e6:.1f} M values"
              f"{' (fsync every batch)' if args.fsync else ' (flush every batch)'}:")
        print(f"  plain binary append : {values / plain_s / 1e6:7.1f} M values/s")
        print(f"  run log (Arrow IPC) : {values / log_s / 1e6:7.1f} M values/s "
              f"({log_s / plain_s:.2f}x the plain append)  [target: >= 10 M/s, within 3x]")
        us = sorted(x * 1e6 for x in per_batch)
        print(f"  per 1-s batch       : p50 {statistics.median(us):.0f} µs, "
              f"p99 {us[int(len(us) * 0.99)]:.0f} µs, max {us[-1]:.0f} µs; "
              f"{size / values:.2f} bytes/value")
        os.sync()
        t0 = time.perf_counter()
        read_samples(seg_dir)  # the first read right after writing: pages still being written
        first = time.perf_counter() - t0
        reads = []
        for _ in range(3):
            t0 = time.perf_counter()
            s = read_samples(seg_dir)
            reads.append(time.perf_counter() - t0)
        assert s.values.shape == (HOURS * 3600 * HZ, CHANNELS)
        print(f"Reader, the whole run into numpy ({s.values.shape[0]:,} x {CHANNELS}):")
        print(f"  warm (in page cache): best {min(reads):.3f} s, median "
              f"{statistics.median(reads):.3f} s  [target: under 1 s]")
        print(f"  first read right after writing and sync: {first:.3f} s")
        slices = []
        for _ in range(5):
            t0 = time.perf_counter()
            one = read_samples(seg_dir, ["ch117"], 3600.0, 7200.0)
            slices.append(time.perf_counter() - t0)
        assert one.values.shape == (3600 * HZ, 1)
        print("  one channel, one hour (3600-7200 s): best "
              f"{min(slices) * 1000:.1f} ms, median {statistics.median(slices) * 1000:.1f} ms"
              "  [target: under 50 ms]")
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
