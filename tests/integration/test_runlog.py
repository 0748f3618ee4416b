"""The run log: crash safety, disk full, and reading it without this package."""

from __future__ import annotations

import errno
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from linecontrol.model import RunLogError, RunLogRecovered, UnknownEvent
from linecontrol.runlog import (
    Batch,
    Channel,
    RunLog,
    RunMeta,
    SegmentWriter,
    encode_event,
    export,
    load_samples,
    new_run_id,
    read_events,
    read_segment,
    summarize,
)
from tests.runlog_child import batch

ROOT = Path(__file__).resolve().parents[2]
TRIALS = 30


def _clock() -> tuple[float, float]:
    return time.monotonic(), time.time()


class LineReader:
    """Lines from a child's stdout, each with a deadline (never blocks past it)."""

    def __init__(self, fd: int, timeout_s: float = 10.0) -> None:
        self.fd = fd
        self.timeout_s = timeout_s
        self.buf = b""

    def readline(self) -> str:
        import selectors

        deadline = time.monotonic() + self.timeout_s
        with selectors.DefaultSelector() as sel:
            sel.register(self.fd, selectors.EVENT_READ)
            while b"\n" not in self.buf:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    raise TimeoutError(f"no line from the child within {self.timeout_s} s")
                chunk = os.read(self.fd, 65536)
                if not chunk:
                    raise EOFError("the child closed its output")
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()


def _batch_ends(data: bytes) -> list[int]:
    """Byte offset where each complete record batch message ends."""
    import struct

    import pyarrow as pa

    ends: list[int] = []
    buf = pa.py_buffer(data)
    off = 0
    while off + 8 <= len(data):
        (mlen,) = struct.unpack_from("<i", data, off + 4)
        if mlen <= 0:
            break
        try:
            msg = pa.ipc.read_message(buf.slice(off))
        except (pa.ArrowInvalid, OSError):
            break
        end = off + 8 + mlen + (msg.body.size if msg.body is not None else 0)
        if end > len(data):
            break
        if msg.type == "record batch":
            ends.append(end)
        off = end
    return ends


def test_sigkill_at_random_moments_recovers_an_exact_prefix(tmp_path: Path) -> None:
    rnd = random.Random(20261121)
    n = 50
    for trial in range(TRIALS):
        path = tmp_path / f"seg-{trial}.arrows"
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.runlog_child", str(path), str(n)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
        )
        try:
            assert child.stdout is not None
            out = LineReader(child.stdout.fileno())
            assert out.readline().strip() == "ready"
            target = rnd.randrange(1, 200)  # at least two batches
            acked = -1
            while acked < target:
                acked = int(out.readline())
            # A random moment while the next batches are being written.
            for _ in range(rnd.randrange(0, 3)):
                acked = int(out.readline())
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(10)
            if child.stdout is not None:
                child.stdout.close()
        got = read_segment(path)
        assert len(got.batches) >= acked + 1, (trial, len(got.batches), acked)
        for i, b in enumerate(got.batches):
            want = batch(i, n)
            assert np.array_equal(b.column(0).to_numpy(), want.t_mono)
            vals = b.column(3).values.to_numpy().reshape(-1, n)
            assert np.array_equal(vals, want.values), (trial, i)
            qual = b.column(4).values.to_numpy().reshape(-1, n)
            assert np.array_equal(qual, want.quality), (trial, i)
        # A kill tears at most the tail, never corrupts: whatever followed the last
        # complete batch is reported as a torn tail, exactly when there is any.
        assert got.corrupt == [], (trial, got.corrupt)
        data = path.read_bytes()
        ends = _batch_ends(data)
        assert len(ends) == len(got.batches), trial
        if len(data) > ends[-1]:
            assert got.torn is not None and got.torn.startswith(
                f"torn tail after batch {len(got.batches)}:"
            ), (trial, got.torn)
        else:
            assert got.torn is None, (trial, got.torn)
        # And a tail cut anywhere inside the last batch is always reported as torn.
        cut = rnd.randrange(ends[-2] + 1, ends[-1])
        path.write_bytes(data[:cut])
        cut_read = read_segment(path)
        assert len(cut_read.batches) == len(ends) - 1 and cut_read.corrupt == []
        assert (cut_read.torn or "").startswith(f"torn tail after batch {len(ends) - 1}:")


def _ev(name: str, **data: int) -> UnknownEvent:
    """An event of any type name (the log writes every event the same way)."""
    return UnknownEvent(name=name, v=1, data=data, problem="")


def test_event_log_tolerates_a_torn_or_corrupt_line(tmp_path: Path) -> None:
    p = tmp_path / "events.jsonl"
    lines = [encode_event(i + 1, float(i), 1.7e9 + i, _ev("X", i=i)) for i in range(5)]
    p.write_bytes(b"".join(lines) + lines[0][:17])
    ev = read_events(p)
    assert [e.seq for e in ev.events] == [1, 2, 3, 4, 5]
    assert ev.torn == "torn last event"
    bad = bytearray(b"".join(lines))
    bad[len(lines[0]) + 30] ^= 0x01
    p.write_bytes(bytes(bad))
    ev = read_events(p)
    # Each later line carries its own CRC: the bad line hides nothing after it.
    assert [e.seq for e in ev.events] == [1, 3, 4, 5]
    assert ev.torn is None and ev.corrupt == ["corrupt event at line 2; skipped"]
    # A partial line mid-file (a short write, then more events on the next line).
    p.write_bytes(lines[0] + lines[1][:20] + b"\n" + b"".join(lines[2:]))
    ev = read_events(p)
    assert [e.seq for e in ev.events] == [1, 3, 4, 5]
    assert ev.torn is None and len(ev.corrupt) == 1


def test_after_a_short_write_the_next_event_starts_on_a_new_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from linecontrol.runlog import events

    p = tmp_path / "events.jsonl"
    w = events.EventWriter(p, fsync=False)
    w.append(0.0, 1.7e9, _ev("A"))
    real_write = os.write

    def short_write(fd: int, data: bytes) -> int:
        return real_write(fd, data[:25])  # the disk filled up mid-line

    monkeypatch.setattr(os, "write", short_write)  # what the writer calls
    with pytest.raises(OSError, match="short write"):
        w.append(1.0, 1.7e9, _ev("B"))
    monkeypatch.setattr(os, "write", real_write)
    w.append(2.0, 1.7e9, _ev("C"))
    w.append(3.0, 1.7e9, _ev("D"))
    w.close()
    ev = read_events(p)
    assert [e.type for e in ev.events] == ["A", "C", "D"]
    assert [e.seq for e in ev.events] == [1, 3, 4]  # the lost event's seq is a gap
    assert len(ev.corrupt) == 1 and ev.torn is None
    # A writer opened on a file with a torn last line starts on a new line too.
    with open(p, "ab") as f:
        f.write(b'{"seq":5,"t')
    w2 = events.EventWriter(p, fsync=False)
    w2.seq = 5
    w2.append(4.0, 1.7e9, _ev("E"))
    w2.close()
    ev = read_events(p)
    assert [e.type for e in ev.events] == ["A", "C", "D", "E"]
    assert len(ev.corrupt) == 2


class FlakyDisk:
    """Segment writers that fail with ENOSPC while ``full`` is set."""

    def __init__(self) -> None:
        self.full = False

    def __call__(self, path: Path, channels: list[Channel], fsync: bool) -> SegmentWriter:
        w = SegmentWriter(path, channels, fsync=fsync)
        real = w.write

        def write(b: Batch) -> None:
            if self.full:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
            real(b)

        w.write = write  # type: ignore[method-assign]
        return w


async def test_disk_full_is_an_error_event_and_the_writer_keeps_going(tmp_path: Path) -> None:
    disk = FlakyDisk()
    reported: list[dict[str, object]] = []
    chans = [Channel(f"c{i}") for i in range(4)]
    meta = RunMeta(
        run_id=new_run_id(time.time()),
        line={},
        channels=chans,
        start_mono=0.0,
        start_wall=time.time(),
    )
    log = RunLog(tmp_path, meta, clock=_clock, opener=disk, on_error=reported.append)
    await log.start()
    for i in range(3):
        log.append(batch(i, 4))
    await log.drain()
    disk.full = True
    for i in range(3, 6):
        log.append(batch(i, 4))
    await log.drain()
    disk.full = False
    for i in range(6, 8):
        log.append(batch(i, 4))
    status = await log.stop("ok")
    assert status == "ok; run log errors: 1"
    assert log.batches_written == 5 and log.batches_lost == 3
    # One error (and one event) per streak of failures, not one per batch.
    assert len(log.errors) == 1 and log.errors[0]["errno"] == errno.ENOSPC
    assert any(r.get("type") == "RunLogError" for r in reported)
    ev = read_events(log.dir / "events.jsonl")
    errs = [e.event for e in ev.events if isinstance(e.event, RunLogError)]
    assert len(errs) == 1 and "No space left" in errs[0].error
    [rec] = [e.event for e in ev.events if isinstance(e.event, RunLogRecovered)]
    assert rec.to_data() == {"where": "samples", "failures": 3, "batches_lost": 3}
    # No empty segment per failed second: the one before and the one after.
    assert len(list((log.dir / "samples").glob("seg-*.arrows"))) == 2
    s = load_samples(log.dir)
    assert s.torn == []
    t = [batch(i, 4).t_mono for i in (0, 1, 2, 6, 7)]
    assert np.array_equal(s.t_mono, np.concatenate(t))


async def _finished_run(tmp_path: Path) -> Path:
    chans = [Channel("drive.speed_pv_m_min", "m/min", "drive"), Channel("z.temp_pv_c", "°C")]
    meta = RunMeta(
        run_id=new_run_id(time.time()),
        line={},
        channels=chans,
        start_mono=0.0,
        start_wall=1.7e9,
    )
    log = RunLog(tmp_path, meta, clock=_clock)
    await log.start()
    for i in range(5):
        log.append(batch(i, 2))
    await log.stop("ok")
    return log.dir


async def test_pandas_polars_and_duckdb_read_the_log_directly(tmp_path: Path) -> None:
    import duckdb
    import pandas as pd
    import polars as pl
    import pyarrow.ipc as ipc

    d = await _finished_run(tmp_path)
    [seg] = sorted((d / "samples").glob("seg-000001@*.arrows"))
    # The live format: an Arrow IPC stream.
    table = ipc.open_stream(seg).read_all()
    assert table.num_rows == 50
    df = pl.read_ipc_stream(seg)
    assert df.shape == (50, 5) and df["values"].dtype == pl.Array(pl.Float64, 2)
    # The compacted format: wide Parquet.
    pdf = pd.read_parquet(d / "samples.parquet")
    assert list(pdf.columns[:5]) == [
        "t_s",
        "t_wall",
        "web_position_m",
        "drive.speed_pv_m_min",
        "z.temp_pv_c",
    ]
    assert len(pdf) == 50
    rel = duckdb.sql(f"select count(*), avg(\"z.temp_pv_c\") from '{d / 'samples.parquet'}'")
    assert rel is not None  # a query, so a relation
    [n] = rel.fetchall()
    assert n[0] == 50
    want = np.concatenate([batch(i, 2).values[:, 1] for i in range(5)])
    assert n[1] == pytest.approx(want.mean())


async def test_summary_and_export(tmp_path: Path) -> None:
    d = await _finished_run(tmp_path)
    s = summarize(d)
    assert s.exit_status == "ok" and s.rows == 50 and s.channels == 2
    assert s.metres == pytest.approx(0.01 * (4.9 - 0.0))
    assert s.event_counts == {"RunStarted": 1, "RunStopped": 1}
    out = tmp_path / "x.csv"
    rows = export(d, out, "csv", channels=["z.temp_pv_c"], t_from=1.0, t_to=2.0)
    assert rows == 10  # [1.0, 2.0): half-open, adjacent windows share no sample
    header = out.read_text().splitlines()[0]
    assert header == '"t_s","t_wall","web_position_m","z.temp_pv_c","z.temp_pv_c.quality"'


async def test_a_full_queue_spills_and_raises_a_backlog_event_never_drops(tmp_path: Path) -> None:
    import threading

    gate = threading.Event()
    chans = [Channel("c0"), Channel("c1")]

    def slow_opener(path: Path, channels: list[Channel], fsync: bool) -> SegmentWriter:
        gate.wait(10)  # the disk is stuck: the writer thread cannot take more
        return SegmentWriter(path, channels, fsync=fsync)

    reported: list[dict[str, object]] = []
    meta = RunMeta(run_id=new_run_id(time.time()), line={}, channels=chans)
    log = RunLog(
        tmp_path,
        meta,
        clock=_clock,
        queue_batches=4,
        opener=slow_opener,
        on_error=reported.append,
    )
    await log.start()
    for i in range(20):
        log.append(batch(i, 2))
    assert log.backlog >= 15
    assert any(r["type"] == "RunLogBacklog" for r in reported)
    gate.set()
    await log.stop("ok")
    s = load_samples(log.dir)
    assert s.batches == 20  # nothing dropped
    types = [e.type for e in read_events(log.dir / "events.jsonl").events]
    assert "RunLogBacklog" in types
