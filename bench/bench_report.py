"""A run report of an 8 h run of 200 channels at 10 Hz, against reading its samples.

A synthetic run is written as the recorder writes one (``SegmentWriter``, one-second
batches of 10 rows, 10-minute segments; ``meta.json`` with the shipped line and the
fault tests' recipe; ``events.jsonl`` with the PackML states): every channel the recipe
binds on the line (the critical parameters the report maps: speed, tensions, 14 zone
temperatures, the press, the O2) noisy around its setpoint, filled up to 200 channels;
the web at 0.5 m/min (240 m in 8 h), the speed read exactly at its setpoint (the recipe
runs at the cure oven's dwell limit); zone C07 20 °C low for 10 minutes at 4 h.

Figures: the baseline (the samples read into numpy, ``read_samples``) and the report
(``load_run``, ``compute``, the strip charts and the HTML), best of 3.

Run: python bench/bench_report.py
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import common
import numpy as np

from linecontrol.config import DEFAULT_LINE, load_line, load_recipe
from linecontrol.model import Batch, Channel, StateChanged
from linecontrol.process import bind
from linecontrol.report import compute, load_run, render_html, strip_charts
from linecontrol.runlog import (
    EventWriter,
    RunMeta,
    SegmentWriter,
    read_samples,
    segment_name,
    write_json_atomic,
)

CHANNELS = 200
HZ = 10
HOURS = 8
SEGMENT_S = 600
RECIPE = common.ROOT / "tests" / "integration" / "data" / "fault-run.toml"


def write_run(root: Path) -> tuple[Path, int]:
    line = load_line(DEFAULT_LINE)
    recipe = load_recipe(RECIPE)
    level = {b.reads: b.value for b in bind(recipe, line, strict=False)}
    level["o2_cure.o2_ppm"] = 20.0
    bound = sorted(level)
    names = bound + [f"filler.ch{i:03d}" for i in range(CHANNELS - len(bound))]
    chans = [Channel(n, "u", n.split(".")[0]) for n in names]
    run = root / "20261202-000000-bench"
    (run / "samples").mkdir(parents=True)
    t0 = 1000.0
    end = t0 + HOURS * 3600
    meta = RunMeta(
        run_id=run.name, line=line.model_dump(mode="json"),
        recipe=recipe.model_dump(mode="json"), channels=chans, start_mono=t0,
        start_wall=1.8e9, sample_hz=HZ, stop_mono=end, stop_wall=1.8e9 + end - t0,
        exit_status="Complete",
    )  # fmt: skip
    write_json_atomic(run / "meta.json", meta.as_dict())
    ev = EventWriter(run / "events.jsonl", fsync=False)
    for at, old, new in ((t0, "Stopped", "Execute"), (end, "Execute", "Stopping")):
        sc = StateChanged.model_validate(
            {"old": old, "new": new, "mode": "production", "cause": "bench"}
        )
        ev.append(at, 1.8e9 + at - t0, sc, {"t_step": at})
    ev.close()
    rng = np.random.default_rng(1)
    noise = rng.standard_normal((HZ, CHANNELS))
    base = np.array([level.get(n, 10.0) for n in names])
    scale = np.array([abs(level.get(n, 10.0)) * 0.002 for n in names])
    # The drive reads its speed at the setpoint (as the simulator's does): the recipe runs
    # at the cure oven's dwell limit (0.5 m/min), so any noise above it is out of window.
    scale[names.index("drive.speed_pv_m_min")] = 0.0
    c07 = names.index("zone_C07.temp_pv_c")
    seg: SegmentWriter | None = None
    no = 0
    for s in range(HOURS * 3600):
        t = t0 + s + np.arange(HZ) / HZ
        v = base + scale * np.roll(noise, s % HZ, axis=0)
        if 4 * 3600 <= s < 4 * 3600 + 600:
            v[:, c07] -= 20.0
        q = np.zeros((HZ, CHANNELS), np.uint8)
        b = Batch(t, 1.8e9 + t - t0, (t - t0) * 0.5 / 60, v, q)
        if seg is None or b.t_mono[0] - (seg.t_first or 0.0) >= SEGMENT_S:
            if seg is not None:
                seg.close()
            no += 1
            seg = SegmentWriter(run / "samples" / segment_name(no, float(t[0])), chans, fsync=False)
        seg.write(b)
    assert seg is not None
    seg.close()
    return run, len(bound)


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="lc-bench-report-"))
    try:
        t = time.perf_counter()
        run_dir, bound = write_run(tmp)
        print(f"wrote {HOURS} h x {CHANNELS} channels x {HZ} Hz in {time.perf_counter() - t:.1f} s")
        read_samples(run_dir / "samples")  # warm the page cache for both sides
        base, total, parts = [], [], []
        html = ""
        for _ in range(3):
            t = time.perf_counter()
            read_samples(run_dir / "samples")
            base.append(time.perf_counter() - t)
            t = time.perf_counter()
            run = load_run(run_dir)
            t1 = time.perf_counter()
            report = compute(run)
            t2 = time.perf_counter()
            pics = strip_charts(report)
            t3 = time.perf_counter()
            html = render_html(report, pics)
            t4 = time.perf_counter()
            total.append(t4 - t)
            parts.append((t1 - t, t2 - t1, t3 - t2, t4 - t3))
        b = min(base)
        i = int(np.argmin(total))
        ld, cp, ch, ht = parts[i]
        print(f"baseline, read_samples (the run into numpy): {b:6.2f} s")
        print(
            f"report, load_run + compute + charts + HTML : {total[i]:6.2f} s "
            f"({total[i] / b:.1f}x the baseline: loading {ld:.2f} s, figures {cp:.2f} s, "
            f"charts {ch:.2f} s, HTML {ht:.2f} s)"
        )
        c07 = next(p for p in report.params if p.param.channel == "zone_C07.temp_pv_c")
        assert c07.window is not None and c07.window.longest is not None
        ex = c07.window.longest
        print(
            f"  {len(run.t):,} rows, {len(report.params)} critical parameters "
            f"({bound} bound channels), {report.produced_m:.1f} m produced, {report.fit_m} m "
            f"fit; C07's excursion at metres {ex.metre_from:g}..{ex.metre_to:g}; "
            f"HTML {len(html) / 1e6:.1f} MB"
        )
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
