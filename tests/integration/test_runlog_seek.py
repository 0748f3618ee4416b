"""The seek index of the run log's segments, and seeking through it (real segment
files written by ``SegmentWriter``, read back by offset)."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import pytest

from linecontrol.errors import InvalidArgument
from linecontrol.runlog import (
    Batch,
    Channel,
    RunSamples,
    SegmentWriter,
    build_index,
    load_index,
    read_samples,
    read_segment,
    segment_name,
    segment_paths,
)
from linecontrol.runlog.index import sidecar
from tests.runlog_child import batch

N = 6
CHANNELS = [Channel(f"ch{i}", "u") for i in range(N)]


def _write_run(
    samples: Path, batches: list[Batch], per_segment: int, *, close_last: bool = True
) -> list[Path]:
    samples.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for s in range(0, len(batches), per_segment):
        part = batches[s : s + per_segment]
        p = samples / segment_name(len(paths) + 1, float(part[0].t_mono[0]))
        w = SegmentWriter(p, CHANNELS, fsync=False)
        for b in part:
            w.write(b)
        if close_last or s + per_segment < len(batches):
            w.close()
        paths.append(p)
    return paths


def _batches(count: int) -> list[Batch]:
    return [batch(i, N) for i in range(count)]


def _same(a: object, b: object) -> None:
    for name in ("t_mono", "t_wall", "web_position_m", "values", "quality"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.shape == y.shape, name
        assert np.array_equal(x, y, equal_nan=True), name


def test_the_writer_indexes_a_segment_as_a_reader_would(tmp_path: Path) -> None:
    (p,) = _write_run(tmp_path / "samples", _batches(25), 100)
    written, why = load_index(p)
    assert written is not None, why
    built = build_index(p)
    assert written.key == built.key and written.data_start == built.data_start
    assert np.array_equal(written.entries, built.entries)
    assert np.array_equal(written.t_mono, built.t_mono)
    assert np.array_equal(written.t_mono, read_samples(tmp_path / "samples").t_mono)
    assert written.clean_end and built.clean_end and built.torn is None and built.corrupt == []
    assert written.rows == 250 and len(written.entries) == 25
    e = written.entries[3]
    assert (e["t_first"], e["t_last"], e["rows"]) == (3.0, 3.9, 10)
    # The sidecar is not a segment: listing and reading the run ignore it.
    assert segment_paths(tmp_path / "samples") == [p]
    assert sidecar(p).exists()


def test_the_fast_read_of_a_closed_segment_finds_the_spans_the_resynchronising_read_finds(
    tmp_path: Path,
) -> None:
    from linecontrol.runlog.samples import SegmentRead, _scan, read_segment_spans

    (p,) = _write_run(tmp_path / "samples", _batches(40), 100)
    fast, schema = read_segment_spans(p)
    assert schema is not None and fast.clean_end and len(fast.spans) == 40
    slow = _scan(p, schema, True, SegmentRead(p, fast.channels))
    assert slow.spans == fast.spans and slow.clean_end and slow.corrupt == []
    # A segment whose end marker is missing (still open, or torn exactly at a batch's
    # end) is read message by message, to the same batches.
    q = tmp_path / "open.arrows"
    q.write_bytes(p.read_bytes()[:-8])
    open_, _ = read_segment_spans(q)
    assert open_.spans == fast.spans and not open_.clean_end and open_.torn is None


def test_one_batch_read_by_its_offset_is_the_batch_in_the_file(tmp_path: Path) -> None:
    _write_run(tmp_path / "samples", _batches(30), 12)
    run = RunSamples(tmp_path / "samples")
    direct = read_samples(tmp_path / "samples")
    assert run.rows == len(direct.t_mono) == 300 and run.batches == 30
    assert run.rebuilt == []  # every index was written by the writer
    rnd = random.Random(7)
    for _ in range(40):
        a = rnd.randrange(0, 300)
        b = rnd.randrange(a, 301)
        got = run.read(a, b)
        for name in ("t_mono", "t_wall", "web_position_m", "values", "quality"):
            assert np.array_equal(getattr(got, name), getattr(direct, name)[a:b]), (a, b, name)
    _same(run.read(0, run.rows), direct)
    assert [c.name for c in run.channels] == [c.name for c in CHANNELS]


def test_seek_to_a_time_and_a_window_match_a_linear_scan(tmp_path: Path) -> None:
    _write_run(tmp_path / "samples", _batches(50), 7)
    run = RunSamples(tmp_path / "samples")
    t = read_samples(tmp_path / "samples").t_mono
    rnd = random.Random(11)
    targets = [-5.0, 0.0, 0.05, 49.9, 49.95, *(float(x) for x in t[::37])]
    targets += [rnd.uniform(0, 50) for _ in range(50)]
    for x in targets:
        p = run.seek_time(x)
        want = int(np.searchsorted(t, x, "left"))
        if want == len(t):
            assert p is None and run.row_at_time(x) == run.rows, x
        else:
            assert p is not None and p.row == want and p.t_mono == t[want], x
        assert run.row_after_time(x) == int(np.searchsorted(t, x, "right")), x
    assert np.array_equal(
        run.rows_after_times(np.array(targets)), np.searchsorted(t, targets, "right")
    )
    assert run.seek_time(50.0) is None and run.row_at_time(50.0) == run.rows
    for _ in range(30):
        t0 = rnd.uniform(-1, 51)
        t1 = t0 + rnd.uniform(0, 20)
        _same(run.read_window(t0, t1), read_samples(tmp_path / "samples", t_from=t0, t_to=t1))
    with pytest.raises(InvalidArgument, match="finite"):
        run.seek_time(float("nan"))


def test_seek_to_a_metre_is_the_first_row_at_or_past_it_through_stands_and_jogs_back(
    tmp_path: Path,
) -> None:
    # Forward, a stand at 2.0 m, a jog back to 1.5 m, forward again past 3 m.
    web = np.concatenate(
        [
            np.linspace(0, 2, 100),
            np.full(50, 2.0),
            np.linspace(2.0, 1.5, 50),
            np.linspace(1.5, 3.5, 100),
        ]
    )
    web[60] = np.nan  # a row without a position is never at or past a metre
    batches = []
    for i in range(30):
        t = i + np.arange(10) / 10
        rows = slice(i * 10, i * 10 + 10)
        b = batch(i, N)
        batches.append(Batch(t, 1.7e9 + t, web[rows], b.values, b.quality))
    _write_run(tmp_path / "samples", batches, 8)
    run = RunSamples(tmp_path / "samples")

    def brute(m: float) -> int | None:
        hit = np.flatnonzero(web >= m)
        return int(hit[0]) if hit.size else None

    for m in [0.0, 0.5, 1.2, 1.5, 1.75, 1.99, 2.0, 2.0001, 2.5, 3.5, float(web[59])]:
        p = run.seek_position(m)
        assert p is not None and p.row == brute(m), m
        assert p.web_position_m >= m
    assert run.seek_position(3.6) is None and run.row_at_metre(3.6) is None
    # The stand: seeking to its metre lands on its first row; after the jog back,
    # the rows below 2 m come later, in order.
    assert run.seek_position(2.0) is not None and run.seek_position(2.0).row == 99  # type: ignore[union-attr]
    assert run.max_position_m == 3.5


def test_a_torn_run_seeks_and_reads_up_to_its_last_complete_batch(tmp_path: Path) -> None:
    samples = tmp_path / "samples"
    paths = _write_run(samples, _batches(40), 15, close_last=False)
    last = paths[-1]
    data = last.read_bytes()
    idx = build_index(last)
    e = idx.entries[-1]
    last.write_bytes(data[: int(e["offset"]) + int(e["length"]) // 2])  # mid-batch
    run = RunSamples(samples)
    direct = read_samples(samples)
    assert run.rows == len(direct.t_mono) == 390
    assert len(run.torn) == 1 and run.torn == direct.torn and run.corrupt == []
    _same(run.read(0, run.rows), direct)
    assert run.seek_time(38.85) is not None and run.seek_time(38.85).row == 389  # type: ignore[union-attr]
    assert run.seek_time(38.95) is None  # the torn batch's rows are not there
    # The torn segment's index is saved for its bytes as they are, and trusted next time.
    again = RunSamples(samples)
    assert again.rebuilt == [] and again.rows == 390


def test_a_stale_or_damaged_index_is_rebuilt_never_trusted(tmp_path: Path) -> None:
    samples = tmp_path / "samples"
    (p,) = _write_run(samples, _batches(20), 100)
    # A segment appended to since (a still-open segment indexed by a reader, say).
    short = p.read_bytes()
    st = p.stat()
    full = _write_run(tmp_path / "other", _batches(30), 100)[0].read_bytes()
    idx_bytes = sidecar(p).read_bytes()
    p.write_bytes(full)
    assert load_index(p)[1].startswith("stale")
    run = RunSamples(samples)
    assert run.rows == 300 and len(run.rebuilt) == 1 and "stale" in run.rebuilt[0]
    assert load_index(p)[0] is not None  # rebuilt and saved
    # A damaged index file (one flipped bit): its CRC fails, it is rebuilt.
    raw = bytearray(sidecar(p).read_bytes())
    raw[len(raw) // 2] ^= 0x10
    sidecar(p).write_bytes(bytes(raw))
    assert "CRC" in load_index(p)[1]
    run = RunSamples(samples)
    assert run.rows == 300 and "CRC" in run.rebuilt[0]
    # The old index against a segment of the same size and mtime but other bytes
    # at its tail: the key's tail CRC differs.
    p.write_bytes(short)
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    sidecar(p).write_bytes(idx_bytes)
    assert load_index(p)[0] is not None
    cut = bytearray(short)
    cut[-20] ^= 0xFF
    p.write_bytes(bytes(cut))
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert load_index(p)[1].startswith("stale")


def test_a_batch_damaged_in_place_after_indexing_is_skipped_and_reported(tmp_path: Path) -> None:
    """Size, mtime, head and tail as indexed: the index is trusted, and the batch's
    CRC, checked on every read, catches the damage."""
    samples = tmp_path / "samples"
    (p,) = _write_run(samples, _batches(200), 500)
    idx, _ = load_index(p)
    assert idx is not None
    e = idx.entries[100]
    st = p.stat()
    raw = bytearray(p.read_bytes())
    raw[int(e["offset"]) + int(e["length"]) - 16] ^= 0x01  # in the batch's body
    p.write_bytes(bytes(raw))
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    run = RunSamples(samples)
    assert run.rebuilt == []
    got = run.read(990, 1020)
    assert len(got.t_mono) == 20 and 100.0 not in got.t_mono
    assert any("corrupt batch 100 when read (CRC mismatch)" in c for c in run.corrupt)
    # What the direct reader reads without the damaged batch.
    direct = read_samples(samples)
    assert len(direct.corrupt) == 1
    assert np.array_equal(run.read(0, run.rows).t_mono, direct.t_mono)


def test_a_corrupt_batch_is_skipped_as_the_reader_skips_it(tmp_path: Path) -> None:
    samples = tmp_path / "samples"
    (p,) = _write_run(samples, _batches(20), 100)
    idx, _ = load_index(p)
    assert idx is not None
    e = idx.entries[7]
    raw = bytearray(p.read_bytes())
    raw[int(e["offset"]) + int(e["length"]) - 16] ^= 0x01
    p.write_bytes(bytes(raw))  # mtime moves: the index is rebuilt from the bytes
    run = RunSamples(samples)
    direct = read_samples(samples)
    seg = read_segment(p)
    assert len(seg.batches) == 19 and run.batches == 19
    assert len(run.corrupt) == 1 and "corrupt bytes" in run.corrupt[0]
    _same(run.read(0, run.rows), direct)
    assert run.seek_time(7.0) is not None and run.seek_time(7.0).t_mono == 8.0  # type: ignore[union-attr]


def test_an_index_that_cannot_be_written_fails_nothing_and_is_built_by_the_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import errno

    from linecontrol.runlog import samples as samples_mod

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(samples_mod, "write_index", full)
    (p,) = _write_run(tmp_path / "samples", _batches(5), 100)  # close() does not raise
    assert not sidecar(p).exists()
    assert "seek index of" in caplog.text and "No space left" in caplog.text
    monkeypatch.undo()
    run = RunSamples(tmp_path / "samples")
    assert run.rows == 50 and run.rebuilt == [f"{p.name}: no index"]
    assert sidecar(p).exists()


def test_a_writer_whose_write_failed_leaves_no_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = tmp_path / segment_name(1, 0.0)
    w = SegmentWriter(p, CHANNELS, fsync=False)
    w.write(batch(0, N))

    def failing(*args: object, **kwargs: object) -> None:
        raise OSError(5, "I/O error")

    monkeypatch.setattr(w._writer, "write_batch", failing)
    with pytest.raises(OSError):
        w.write(batch(1, N))
    monkeypatch.undo()
    w.close()
    assert not sidecar(p).exists()  # what the file holds is for a reader to index
    assert build_index(p).rows == 10


def test_a_segment_still_being_written_is_read_up_to_its_last_complete_batch(
    tmp_path: Path,
) -> None:
    samples = tmp_path / "samples"
    samples.mkdir()
    p = samples / segment_name(1, 0.0)
    w = SegmentWriter(p, CHANNELS, fsync=False)
    try:
        for i in range(5):
            w.write(batch(i, N))
        first = RunSamples(samples)
        assert first.rows == 50 and first.torn == [] and first.rebuilt == [f"{p.name}: no index"]
        assert sidecar(p).exists()  # the reader saved what it indexed, with its key
        # A half-written batch at the end (the writer in mid-write): not read, not saved
        # as more than the file held.
        with open(p, "ab") as f:
            f.write(b"\xff\xff\xff\xff\x10\x00")
        mid = RunSamples(samples)
        assert mid.rows == 50 and len(mid.torn) == 1 and "stale" in mid.rebuilt[0]
        p.write_bytes(p.read_bytes()[:-6])
        for i in range(5, 8):
            w.write(batch(i, N))
        later = RunSamples(samples)  # the segment grew: its saved index is stale
        assert later.rows == 80 and later.rebuilt and "stale" in later.rebuilt[0]
        assert later.seek_time(7.5) is not None and later.seek_time(7.5).row == 75  # type: ignore[union-attr]
    finally:
        w.close()
    closed = RunSamples(samples)  # the writer's own index, at close
    assert closed.rows == 80 and closed.rebuilt == [] and closed.torn == []
