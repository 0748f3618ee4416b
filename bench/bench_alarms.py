"""The alarm engine's cost: one ``step`` over 200 alarm definitions at 10 Hz, against a
plain loop over the same samples measured in the same run.

520 channels (the supervisor's figure), 200 alarms on them: 80 high, 40 low, 20
deviation from a setpoint channel, 20 rate of change (30 s window), 20 discrete bits,
20 communication loss; delays and deadbands on half of them. The values random-walk
across their limits, and one channel in 50 is STALE for a while, so alarms raise,
clear and change quality during the run. 10 minutes of line time at 10 Hz (6,000
steps), time passed in (no clock read by the engine).

Two baselines, each the least any alarm evaluation does: for each definition, read the
channel's GOOD value and compare it with its limit, nothing else; once through
``Sample.good`` (the public reader, a numpy scalar per call), once over the sample
turned into Python lists first (as the engine reads it). All run over the same
samples, interleaved in chunks of 500 steps; the figures are medians of per-step wall
times (perf_counter) and the share of a 100 ms poll period one step takes.

Run: python bench/bench_alarms.py
"""

from __future__ import annotations

import math
import statistics
import sys
import time

import common  # noqa: F401
import numpy as np

from linecontrol.alarms import AlarmContext, AlarmState, initial, step
from linecontrol.config import AlarmDefinition
from linecontrol.model import Quality, Sample

CHANNELS = 520
STEPS = 6000
CHUNK = 500
HZ = 10.0


def definitions() -> dict[str, AlarmDefinition]:
    out: dict[str, AlarmDefinition] = {}

    def add(i: int, **kw: object) -> None:
        delays = {"on_delay_s": 1.0, "off_delay_s": 0.5} if i % 2 else {}
        out[f"a{i:03d}"] = AlarmDefinition.model_validate({**kw, **delays})

    for i in range(200):
        ch = f"dev{i:03d}.pv"
        if i < 80:
            add(i, channel=ch, kind="high", limit=1.0, deadband=0.1 if i % 2 else 0.0)
        elif i < 120:
            add(i, channel=ch, kind="low", limit=-1.0, deadband=0.1, suppress_in=["Held"])
        elif i < 140:
            add(i, channel=ch, kind="deviation", limit=0.8, setpoint=f"dev{i + 200:03d}.pv")
        elif i < 160:
            add(i, channel=ch, kind="rate_of_change", limit=3.0, window_s=30.0)
        elif i < 180:
            add(i, channel=ch, kind="discrete", bit=1)
        else:
            add(i, channel=ch, kind="comm_loss", consequence="hold")
    return out


def samples() -> list[Sample]:
    rng = np.random.default_rng(7)
    index = {f"dev{i:03d}.pv" if i < 400 else f"extra{i:03d}.pv": i for i in range(CHANNELS)}
    walk = np.cumsum(rng.normal(0.0, 0.05, size=(STEPS, CHANNELS)), axis=0)
    walk[:, 160:180] = rng.integers(0, 4, size=(STEPS, 20))  # status words
    quality = np.zeros((STEPS, CHANNELS), dtype=np.uint8)
    for k in range(0, STEPS, 300):  # one channel in 50 stale for 5 s every 30 s
        quality[k : k + 50, ::50] = Quality.STALE
    return [
        Sample(t_mono=k / HZ, index=index, values=walk[k], quality_codes=quality[k])
        for k in range(STEPS)
    ]


def plain(defs: dict[str, AlarmDefinition], rows: list[Sample]) -> list[float]:
    pairs = [(d.channel, d.limit if d.limit is not None else 0.0) for d in defs.values()]
    times = []
    for s in rows:
        t0 = time.perf_counter()
        hits = 0
        for ch, limit in pairs:
            v = s.good(ch)
            if v is not None and v > limit:
                hits += 1
        times.append(time.perf_counter() - t0)
    return times


def plain_lists(defs: dict[str, AlarmDefinition], rows: list[Sample]) -> list[float]:
    pairs = [(d.channel, d.limit if d.limit is not None else 0.0) for d in defs.values()]
    times = []
    for s in rows:
        t0 = time.perf_counter()
        values, quality, index = s.values.tolist(), s.quality_codes.tolist(), s.index
        hits = 0
        for ch, limit in pairs:
            i = index[ch]
            v = values[i]
            if quality[i] == 0 and math.isfinite(v) and v > limit:
                hits += 1
        times.append(time.perf_counter() - t0)
    return times


def engine(
    defs: dict[str, AlarmDefinition], rows: list[Sample], alarms: dict[str, AlarmState]
) -> tuple[list[float], dict[str, AlarmState], int]:
    times = []
    events = 0
    ctx = AlarmContext(state="Execute")
    for s in rows:
        t0 = time.perf_counter()
        alarms, ev = step(defs, alarms, s, s.t_mono, ctx)
        times.append(time.perf_counter() - t0)
        events += len(ev)
    return times, alarms, events


def main() -> None:
    defs = definitions()
    rows = samples()
    alarms = initial(defs)
    base: list[float] = []
    lists: list[float] = []
    ours: list[float] = []
    events = 0
    for k in range(0, STEPS, CHUNK):
        chunk = rows[k : k + CHUNK]
        base += plain(defs, chunk)
        lists += plain_lists(defs, chunk)
        t, alarms, n = engine(defs, chunk, alarms)
        ours += t
        events += n
    b = statistics.median(base)
    bl = statistics.median(lists)
    e = statistics.median(ours)
    p99 = sorted(ours)[int(len(ours) * 0.99)]
    period = 1.0 / HZ
    out = sys.stdout
    out.write(f"{len(defs)} alarms on {CHANNELS} channels, {STEPS} steps at {HZ:g} Hz\n")
    out.write(f"events: {events} ({events / (STEPS / HZ):.1f} per second of line time)\n")
    out.write(f"baseline (read + compare), median per step: {b * 1e6:8.1f} us\n")
    out.write(f"baseline over lists, median per step:     {bl * 1e6:8.1f} us\n")
    out.write(f"engine step, median per step:             {e * 1e6:8.1f} us\n")
    out.write(f"engine step, p99, max:                    {p99 * 1e6:8.1f} us, ")
    out.write(f"{max(ours) * 1e6:.1f} us\n")
    out.write(f"engine / baseline: {e / b:.2f}x, / baseline over lists: {e / bl:.1f}x\n")
    out.write(f"share of a {period * 1e3:g} ms period (median): {e / period * 100:.2f} %\n")


if __name__ == "__main__":
    main()
