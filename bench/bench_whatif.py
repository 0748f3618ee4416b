"""What-if on an 8 h run of 200 channels at 10 Hz, against reading its samples.

A synthetic run is written as the run log writes one (``SegmentWriter``, one-second
batches, 10-minute segments; ``meta.json`` with the shipped line; ``events.jsonl`` with
the supervisor's context and operator acknowledgements at their step times): the
shipped line's 44 alarms on their channels, filled up to 200 channels. Every channel
is noisy around a level inside its limits; each alarmed channel leaves its band for a
minute every 25 minutes (staggered), the drive's status word sets its web-break bit for
a second once an hour, and one device in ten goes STALE for 5 s every 20 minutes, so
alarms raise, clear, latch and are acknowledged through the run.

Figures: the baseline (the samples read into numpy, ``read_samples``), the whole
what-if (``load_run`` and ``evaluate`` with the run's own alarms: its journal compared
with itself), and the dense evaluation (every alarm at every row, the engine's own
cost) on the first 30 minutes, extrapolated to 8 h.

Run: python bench/bench_whatif.py
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import common  # noqa: F401
import numpy as np

from linecontrol.config import DEFAULT_LINE, AlarmDefinition, load_line
from linecontrol.model import AcknowledgeAlarm, AlarmInputs, Batch, Channel, CommandGiven, Quality
from linecontrol.runlog import (
    EventWriter,
    RunMeta,
    SegmentWriter,
    read_samples,
    segment_name,
    write_json_atomic,
)
from linecontrol.whatif import Logged, Rows, evaluate, load_run

CHANNELS = 200
HZ = 10
HOURS = 8
SEGMENT_S = 600


def levels(line_alarms: dict[str, AlarmDefinition]) -> dict[str, tuple[float, float, float]]:
    """For each alarmed channel: a level inside its limits, its noise, and an excursion
    that crosses them all."""
    out: dict[str, tuple[float, float, float]] = {}
    by_channel: dict[str, list[AlarmDefinition]] = {}
    for d in line_alarms.values():
        by_channel.setdefault(d.channel, []).append(d)
    for ch, ds in by_channel.items():
        highs = [d.limit for d in ds if d.kind in ("high", "high_high") and d.limit is not None]
        lows = [d.limit for d in ds if d.kind in ("low", "low_low") and d.limit is not None]
        if highs:
            top = max(highs)
            level = min(highs) * 0.6
            out[ch] = (level, abs(level) * 0.01 + 0.1, top * 1.2 - level)
        elif lows:
            level = max(lows) * 3.0
            out[ch] = (level, abs(level) * 0.01 + 0.1, min(lows) * 0.5 - level)
        else:
            out[ch] = (0.0, 0.0, 0.0)  # a status word or a quality-only alarm
    return out


def write_run(root: Path) -> Path:
    line = load_line(DEFAULT_LINE)
    lv = levels(dict(line.alarms))
    alarmed = sorted(lv)
    names = alarmed + [f"filler.ch{i:03d}" for i in range(CHANNELS - len(alarmed))]
    chans = [Channel(n, "u", n.split(".")[0]) for n in names]
    run = root / "20261202-000000-bench"
    (run / "samples").mkdir(parents=True)
    t0 = 1000.0
    meta = RunMeta(
        run_id=run.name, line=line.model_dump(mode="json"), channels=chans, start_mono=t0,
        start_wall=1.8e9, sample_hz=HZ,
    )  # fmt: skip
    write_json_atomic(run / "meta.json", meta.as_dict())
    devices = sorted({c.split(".")[0] for c in names})
    ev = EventWriter(run / "events.jsonl", fsync=False)
    inputs = AlarmInputs(
        state="Execute", recipe=True, needed=tuple(devices), airy=(), setpoints={},
        limits={"o2_cure.o2_ppm": 50.0}, startup_until=None,
    )  # fmt: skip
    ev.append(t0, 1.8e9, inputs, {"t_step": t0})
    rng = np.random.default_rng(1)
    noise = rng.standard_normal((HZ, CHANNELS))
    base = np.array([lv[n][0] if n in lv else 10.0 for n in names])
    scale = np.array([lv[n][1] if n in lv else 0.1 for n in names])
    jump = np.array([lv[n][2] if n in lv else 0.0 for n in names])
    dev_of = np.array([devices.index(n.split(".")[0]) for n in names])
    status = names.index("drive.status") if "drive.status" in names else -1
    seg: SegmentWriter | None = None
    no = 0
    for s in range(HOURS * 3600):
        t = t0 + s + np.arange(HZ) / HZ
        v = base + scale * np.roll(noise, s % HZ, axis=0) * (1 + (s % 7) / 7)
        # A minute outside its band every 25 minutes, staggered by channel.
        out = ((s + np.arange(CHANNELS) * 37) % 1500) < 60
        v = v + jump * out
        if status >= 0:
            v[:, status] = 4.0 if s % 3600 == 1800 else 0.0
        q = np.zeros((HZ, CHANNELS), np.uint8)
        stale = ((s + dev_of * 113) % 1200 < 5) & (dev_of % 10 == 0)
        q[:, stale] = int(Quality.STALE)
        b = Batch(t, 1.8e9 + t - t0, (t - t0) * 0.5 / 60, v, q)
        if seg is None or b.t_mono[0] - (seg.t_first or 0.0) >= SEGMENT_S:
            if seg is not None:
                seg.close()
            no += 1
            seg = SegmentWriter(run / "samples" / segment_name(no, float(t[0])), chans, fsync=False)
        seg.write(b)
        if s % 600 == 90:  # the operator acknowledges the O2 alarm every 10 minutes
            at = float(t[0])
            ack = AcknowledgeAlarm(alarm="o2_cure_high", by="op", request_id=f"a{s}")
            ev.append(at, 1.8e9 + at, CommandGiven(command=ack), {"t_step": at})
    assert seg is not None
    seg.close()
    ev.close()
    return run


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="lc-bench-whatif-"))
    try:
        t = time.perf_counter()
        run_dir = write_run(tmp)
        print(f"wrote {HOURS} h x {CHANNELS} channels x {HZ} Hz in {time.perf_counter() - t:.1f} s")
        read_samples(run_dir / "samples")  # warm the page cache for both sides
        base = []
        full = []
        loads = []
        journal = 0
        for _ in range(3):
            t = time.perf_counter()
            read_samples(run_dir / "samples")
            base.append(time.perf_counter() - t)
            t = time.perf_counter()
            run = load_run(run_dir)
            t_load = time.perf_counter() - t
            assert run.line is not None
            res = evaluate(run.line.alarms, run.rows, run.logged)
            full.append(time.perf_counter() - t)
            loads.append(t_load)
            journal = len(res.journal)
        assert res.rows == HOURS * 3600 * HZ and run.line is not None
        b, f, ld = min(base), min(full), min(loads)
        print(f"baseline, read_samples (the run into numpy) : {b:6.2f} s")
        print(
            f"what-if, load_run + evaluate (fast path)      : {f:6.2f} s "
            f"({ld:.2f} s loading, {f - ld:.2f} s evaluating; {f / b:.1f}x the baseline)"
            "  [target: under 10 s]"
        )
        print(
            f"  {res.rows:,} rows, {len(run.line.alarms)} alarms, {journal} transitions, "
            f"{sum(1 for x in res.journal if x.raised)} annunciations"
        )
        # The engine at every row, every alarm, on the first 30 minutes.
        n = 1800 * HZ
        part = Rows(run.rows.channels, run.rows.t[:n], run.rows.web_position_m[:n],
                    run.rows.values[:n], run.rows.quality[:n])  # fmt: skip
        logged = Logged(run.logged.inputs, [a for a in run.logged.actions if a[0] < part.t[-1]])
        t = time.perf_counter()
        dense = evaluate(run.line.alarms, part, logged, dense=True)
        d = time.perf_counter() - t
        fast = evaluate(run.line.alarms, part, logged)
        assert [x.key() for x in fast.journal] == [x.key() for x in dense.journal]
        print(
            f"dense (every alarm, every row), 30 min: {d:.2f} s, "
            f"{d / n * 1e6:.0f} µs per row; 8 h extrapolated {d * HOURS * 2:.0f} s "
            "(same journal as the fast path)"
        )
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
