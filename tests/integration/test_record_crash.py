"""SIGKILL of ``linecontrol record`` itself, at random moments: what is on disk is an
exact prefix of the run, at most a second of it is lost, and the run is listed as
incomplete.

The recorder is the real command in its own process: acquisition, sampler, the
run log's writer thread, fsync on (its default). It records a simulated line that
the test starts once (``python -m simulators``) and addresses through a line
config written with the simulator's address map, as a user records real hardware
(``record`` without ``--sim``: the recorder has no child, so the kill is of the
recorder alone, and the simulator keeps its state across trials).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

import numpy as np
import pytest

from linecontrol.acquisition import Quality, apply_address_map
from linecontrol.config import DEFAULT_LINE, load_line
from linecontrol.runlog import load_events, load_meta, load_samples, read_segment, segment_paths

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TRIALS = 10
SAMPLE_HZ = 10.0
PERIOD_S = 1.0 / SAMPLE_HZ
ROWS_PER_BATCH = 10  # the sampler hands the run log one batch per second of rows
# The rows after the last recovered one (t_last) belong to the batch being filled:
# it is complete a second later (ten rows at 10 Hz, its last row up to a period
# late) and on disk within LOSS_MARGIN_S after that: the writer thread's hand-off,
# the write and the fsync (a few ms here; the margin is for scheduling on a loaded
# two-core machine). So a kill at t finds t - t_last <= 1 s + a period + the margin;
# a batch missing although it was complete a margin before the kill breaks that.
# (A batch missing in mid-run shows as a gap between rows.)
LOSS_MARGIN_S = 0.5
LOSS_BOUND_S = 1.0 + PERIOD_S + LOSS_MARGIN_S
# Consecutive rows are a period apart, plus the loop's lateness; a lost batch is a
# gap of about 11 periods.
MAX_ROW_GAP_S = 0.75
KILL_WINDOW_S = 4.0  # kills fall in the first seconds of the run (start_mono + [0, 4) s)
LANES = 2  # recorders killed in two interleaved sequences, to keep the test short
NEXT_START_LEAD_S = 1.0  # a recorder starts in about 0.7 s, more under load (only saves time)
START_DEADLINE_S = 60.0


# Runs a command that gets SIGKILL when the thread of the test that started it ends
# (PR_SET_PDEATHSIG, kept across exec): whatever ends the test, its children die.
# A launcher instead of preexec_fn, which is not safe with threads.
_LAUNCH = (
    "import ctypes, os, sys; ctypes.CDLL(None).prctl(1, 9); "  # PR_SET_PDEATHSIG, SIGKILL
    "os.getppid() == int(sys.argv[1]) or os._exit(1); os.execv(sys.argv[2], sys.argv[2:])"
)


def _dying_with_the_test(*argv: str) -> list[str]:
    return [sys.executable, "-S", "-c", _LAUNCH, str(os.getpid()), sys.executable, *argv]


def _read_line(stream: Any, deadline: float) -> bytes:
    """One line from a pipe, by ``deadline`` (monotonic)."""
    fd = stream.fileno()
    got = b""
    while not got.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise TimeoutError(f"no line by the deadline; so far {got[-200:]!r}")
        chunk = os.read(fd, 65536)
        if not chunk:
            raise EOFError(f"pipe closed; so far {got[-200:]!r}")
        got += chunk
    return got


def _addressed_config(src: Path, amap: dict[str, Any]) -> str:
    """The line config ``src`` with the simulator's addresses written in."""
    out = []
    section: tuple[str, str] | None = None
    for line in src.read_text().splitlines():
        head = re.match(r"\s*\[+([^\]]+)\]+\s*(#.*)?$", line)
        if head:
            kind, _, name = head.group(1).partition(".")
            section = (kind, name) if kind in ("devices", "buses") and name else None
        elif section is not None:
            key = re.match(r"\s*(host|port|serial_port|parity)\s*=", line)
            if key:
                got = amap[section[0]][section[1]]
                k = key.group(1)
                line = f"{k} = {json.dumps(got['port'] if k == 'serial_port' else got[k])}"
        out.append(line)
    return "\n".join(out) + "\n"


@contextlib.contextmanager
def _simulated_line(tmp: Path) -> Iterator[Path]:
    """The embedded line's simulators, and a line config that addresses them."""
    sim = subprocess.Popen(
        _dying_with_the_test("-m", "simulators", "--config", str(DEFAULT_LINE)),
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        amap = json.loads(_read_line(sim.stdout, time.monotonic() + START_DEADLINE_S))
        cfg = tmp / "line.toml"
        cfg.write_text(_addressed_config(DEFAULT_LINE, amap))
        assert load_line(cfg) == apply_address_map(load_line(DEFAULT_LINE), amap)
        yield cfg
    finally:
        sim.terminate()
        try:
            sim.wait(10)
        except subprocess.TimeoutExpired:
            sim.kill()
            sim.wait(10)
        if sim.stdout is not None:
            sim.stdout.close()


def _record(cfg: Path, data: Path, stderr: IO[bytes]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        _dying_with_the_test(
            "-m",
            "linecontrol",
            "record",
            "--config",
            str(cfg),
            "--duration",
            "600",
            "--sample-hz",
            str(SAMPLE_HZ),
            "--data-dir",
            str(data),
        ),
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )


def _sleep_until(t_mono: float) -> None:
    """Not a synchronisation: the kill moment is chosen, not waited for."""
    time.sleep(max(0.0, t_mono - time.monotonic()))


def _wait_for_run(data: Path, rec: subprocess.Popen[bytes], stderr: Path, deadline: float) -> Path:
    """The run directory, once its meta.json is in place (polled, with a deadline)."""
    while time.monotonic() < deadline:
        runs = [p.parent for p in data.glob("*/meta.json")]
        if runs:
            [run] = runs
            return run
        if rec.poll() is not None:
            err = stderr.read_text(errors="replace")[-2000:]
            raise AssertionError(f"record exited with {rec.returncode}: {err}")
        time.sleep(0.005)
    raise TimeoutError(f"no run under {data} by the deadline")


def _check_recovered(run: Path, killed_at: float, trial: int) -> int:
    """Every recovered batch intact and contiguous, at most a second lost."""
    meta = load_meta(run)
    assert meta.exit_status is None, (trial, meta.exit_status)
    s = load_samples(run)
    again = load_samples(run)
    for name in ("t_mono", "t_wall", "web_position_m", "values", "quality"):
        assert np.array_equal(getattr(s, name), getattr(again, name), equal_nan=True), name
    # The batch-by-batch reader (the crash-recovery path) reads the same rows.
    segments = [read_segment(p) for p in segment_paths(run / "samples")]
    batches = [b for seg in segments for b in seg.batches]
    assert sum(b.num_rows for b in batches) == len(s.t_mono), trial
    if batches:
        t_batches = np.concatenate([b.column("t_mono").to_numpy() for b in batches])
        assert np.array_equal(t_batches, s.t_mono), trial
    # The event log: a kill may tear its last line, never corrupt one before it.
    ev = load_events(run)
    assert ev.corrupt == [], (trial, ev.corrupt)
    if len(s.t_mono):  # RunStarted was queued before the first batch
        assert "RunStarted" in [e.type for e in ev.events], trial
    # A kill may tear the end of the last segment (reported), never corrupt a batch.
    assert s.corrupt == [] and all(seg.corrupt == [] for seg in segments), (trial, s.corrupt)
    assert len(s.torn) <= 1 and all(seg.torn is None for seg in segments[:-1]), (trial, s.torn)
    rows = len(s.t_mono)
    assert rows == ROWS_PER_BATCH * s.batches, (trial, rows, s.batches)
    if rows:
        gaps = np.diff(s.t_mono)
        assert (gaps > 0).all(), (trial, "duplicate or reordered rows", gaps.min())
        assert gaps.max() < MAX_ROW_GAP_S, (trial, "rows missing", gaps.max())
        assert abs(np.median(gaps) - PERIOD_S) < 0.1 * PERIOD_S, (trial, np.median(gaps))
        assert s.t_mono[0] >= meta.start_mono, trial
        assert s.values.shape == (rows, len(meta.channels)), trial
    last = float(s.t_mono[-1]) if rows else meta.start_mono
    assert killed_at - last <= LOSS_BOUND_S, (trial, "lost", killed_at - last, rows)
    return rows


def test_sigkill_of_record_keeps_an_exact_prefix_and_loses_at_most_a_second(
    tmp_path: Path,
) -> None:
    rnd = random.Random(20261201)
    # Kill moments (age of the run, from its start_mono), stratified over the window
    # so that every part of it is hit: before the first batch, while batches are
    # written, after several (so a missing batch in mid-run would show as a gap).
    ages = [(k + rnd.random()) * KILL_WINDOW_S / TRIALS for k in range(TRIALS)]
    rnd.shuffle(ages)
    lanes: list[list[int]] = [[] for _ in range(LANES)]  # of about equal total age
    for trial in sorted(range(TRIALS), key=lambda t: -ages[t]):
        min(lanes, key=lambda ln: sum(ages[t] for t in ln)).append(trial)
    for ln in lanes:
        rnd.shuffle(ln)
    recovered: dict[str, int] = {}
    started: list[subprocess.Popen[bytes]] = []
    failed = threading.Event()

    def start(trial: int) -> tuple[subprocess.Popen[bytes], Path]:
        data = tmp_path / f"trial-{trial:02d}"  # one data root per recorder
        with open(tmp_path / f"trial-{trial:02d}.stderr", "wb") as err:
            started.append(_record(cfg, data, err))
        return started[-1], data

    def lane(trials: list[int]) -> None:
        """Trials one after the other; the next recorder starts up meanwhile."""
        try:
            run_lane(trials)
        except BaseException:
            failed.set()  # the other lane stops too
            raise

    def run_lane(trials: list[int]) -> None:
        rec, data = start(trials[0])
        for i, trial in enumerate(trials):
            if failed.is_set():
                return
            stderr = tmp_path / f"trial-{trial:02d}.stderr"
            run = _wait_for_run(data, rec, stderr, time.monotonic() + START_DEADLINE_S)
            kill_at = load_meta(run).start_mono + ages[trial]  # the same CLOCK_MONOTONIC
            after = None
            if i + 1 < len(trials):
                _sleep_until(kill_at - NEXT_START_LEAD_S)
                after = start(trials[i + 1])
            _sleep_until(kill_at)
            killed_at = time.monotonic()
            rec.send_signal(signal.SIGKILL)
            assert rec.wait(10) == -signal.SIGKILL, (trial, rec.returncode)
            recovered[run.name] = _check_recovered(run, killed_at, trial)
            # Channels of devices that answer were recorded GOOD (at some point: on a
            # loaded machine a 10 Hz device may miss three periods now and then, which
            # is STALE by design, so the last sample alone proves nothing either way).
            if recovered[run.name] >= 2 * ROWS_PER_BATCH:
                q = load_samples(run, ["drive.speed_pv_m_min"]).quality[:, 0]
                assert (q == Quality.GOOD).any(), (trial, q)
            if after is not None:
                rec, data = after

    with _simulated_line(tmp_path) as cfg:
        try:
            with ThreadPoolExecutor(LANES) as pool:
                for done in [pool.submit(lane, trials) for trials in lanes]:
                    done.result()
        finally:
            for p in started:
                p.kill()
                p.wait(10)
    assert len(recovered) == TRIALS
    # Kills before the first batch was due, and kills after batches were written.
    assert sum(n == 0 for n in recovered.values()) >= 2, recovered
    assert sum(n >= 3 * ROWS_PER_BATCH for n in recovered.values()) >= 2, recovered
    root = tmp_path / "runs"  # every run, for one listing
    root.mkdir()
    for trial in range(TRIALS):
        for run in (tmp_path / f"trial-{trial:02d}").iterdir():
            run.rename(root / run.name)
    listing = subprocess.run(
        [sys.executable, "-m", "linecontrol", "runs", "--data-dir", str(root), "list"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert listing.returncode == 0, listing.stderr
    for run_id in recovered:
        [row] = [r for r in listing.stdout.splitlines() if r.startswith(run_id)]
        assert "incomplete" in row, row
