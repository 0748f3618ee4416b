"""Damaged run logs: every batch is checked, damage is reported, intact data is kept."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pyarrow as pa

from linecontrol.runlog import Channel, SegmentWriter, read_samples, read_segment
from tests.runlog_child import batch

N = 3
BATCHES = 6


def _segment(tmp_path: Path, close: bool = True) -> Path:
    d = tmp_path / "samples"
    d.mkdir()
    path = d / "seg-000001@0.000.arrows"
    w = SegmentWriter(path, [Channel(f"c{i}") for i in range(N)], fsync=False)
    for i in range(BATCHES):
        w.write(batch(i, N))
    if close:
        w.close()  # else torn: every batch is in the file (write flushes), no end marker
    return path


def _offsets(data: bytes) -> list[tuple[int, int]]:
    """(start, metadata length) of every message: the schema, the batches, the end."""
    out = []
    off = 0
    buf = pa.py_buffer(data)
    while off < len(data):
        (mlen,) = struct.unpack_from("<i", data, off + 4)
        out.append((off, mlen))
        if mlen == 0:
            break
        msg = pa.ipc.read_message(buf.slice(off))
        off += 8 + mlen + (msg.body.size if msg.body is not None else 0)
    return out


def _values(b: pa.RecordBatch, n: int = N) -> np.ndarray:
    flat: np.ndarray = b.column(3).values.to_numpy()  # pyarrow is untyped: name the type
    return flat.reshape(-1, n)


def test_a_flipped_value_mid_segment_is_reported_corrupt_never_read_as_good(
    tmp_path: Path,
) -> None:
    path = _segment(tmp_path)
    data = bytearray(path.read_bytes())
    msgs = _offsets(bytes(data))
    end3, _ = msgs[4]  # batch index 2 is message 3 (the schema is message 0)
    # A byte near the end of batch 2's body: inside its value or quality buffers.
    data[end3 - 40] ^= 0x10
    path.write_bytes(bytes(data))
    got = read_segment(path)
    assert got.torn is None
    assert len(got.corrupt) == 1 and "CRC mismatch" in got.corrupt[0]
    assert len(got.batches) == BATCHES - 1
    kept = [0, 1, 3, 4, 5]
    for b, i in zip(got.batches, kept, strict=True):
        assert np.array_equal(_values(b), batch(i, N).values)
    s = read_samples(path.parent)
    assert s.torn == [] and len(s.corrupt) == 1
    assert np.array_equal(s.t_mono, np.concatenate([batch(i, N).t_mono for i in kept]))


def test_a_damaged_batch_header_loses_only_that_batch_and_is_not_a_torn_tail(
    tmp_path: Path,
) -> None:
    path = _segment(tmp_path)
    data = bytearray(path.read_bytes())
    msgs = _offsets(bytes(data))
    start, _ = msgs[2]  # batch index 1
    data[start + 4 : start + 8] = struct.pack("<i", 123456789)  # its metadata length
    data[start + 20] ^= 0xFF  # and a byte of its flatbuffer
    path.write_bytes(bytes(data))
    got = read_segment(path)
    assert got.torn is None, got.torn
    assert len(got.corrupt) == 1 and "after batch 1" in got.corrupt[0]
    assert got.clean_end
    kept = [0, 2, 3, 4, 5]
    assert len(got.batches) == len(kept)
    for b, i in zip(got.batches, kept, strict=True):
        assert np.array_equal(_values(b), batch(i, N).values)


def test_a_torn_tail_is_reported_as_torn_not_corrupt(tmp_path: Path) -> None:
    path = _segment(tmp_path, close=False)
    data = path.read_bytes()
    msgs = _offsets(data)
    start, _ = msgs[-1]  # the last batch (no end-of-stream marker: killed writer)
    path.write_bytes(data[: start + 100])
    got = read_segment(path)
    assert got.corrupt == []
    assert got.torn is not None and got.torn.startswith("torn tail after batch 5")
    assert len(got.batches) == BATCHES - 1


def test_a_complete_last_batch_with_a_bad_crc_is_corrupt_not_torn(tmp_path: Path) -> None:
    path = _segment(tmp_path, close=False)
    data = bytearray(path.read_bytes())
    data[-30] ^= 0x01  # inside the last batch's quality buffer
    path.write_bytes(bytes(data))
    got = read_segment(path)
    assert got.torn is None
    assert len(got.corrupt) == 1 and "CRC mismatch" in got.corrupt[0]
    assert len(got.batches) == BATCHES - 1


def test_every_batch_carries_its_crc_readable_without_this_package(tmp_path: Path) -> None:
    import zlib

    path = _segment(tmp_path)
    r = pa.ipc.open_stream(path)
    for i in range(BATCHES):
        _, meta = r.read_next_batch_with_custom_metadata()
        b = batch(i, N)
        crc = 0
        for a in (b.t_mono, b.t_wall, b.web_position_m, b.values, b.quality):
            crc = zlib.crc32(np.ascontiguousarray(a).tobytes(), crc)
        assert int(meta[b"linecontrol.crc32"]) == crc


def test_a_time_window_checks_every_batch_it_returns(tmp_path: Path) -> None:
    path = _segment(tmp_path)
    data = bytearray(path.read_bytes())
    msgs = _offsets(bytes(data))
    end3, _ = msgs[4]
    data[end3 - 40] ^= 0x10  # batch 2: t_mono 2.0 .. 2.9
    path.write_bytes(bytes(data))
    s = read_samples(path.parent, t_from=2.0, t_to=3.0)
    assert len(s.corrupt) == 1 and len(s.t_mono) == 0  # nothing of it read as good
    s = read_samples(path.parent, t_from=1.5, t_to=3.5)
    assert len(s.corrupt) == 1
    assert np.array_equal(s.t_mono, np.r_[batch(1, N).t_mono[5:], batch(3, N).t_mono[:5]])
    # Damaged times (no longer increasing) make every batch checked.
    (tmp_path / "b").mkdir()
    path2 = _segment(tmp_path / "b")
    data = bytearray(path2.read_bytes())
    msgs = _offsets(bytes(data))
    start4, mlen4 = msgs[5]  # batch 4: its first t_mono is the first body bytes
    data[start4 + 8 + mlen4 + 6] ^= 0x40
    path2.write_bytes(bytes(data))
    s = read_samples(path2.parent, t_from=0.0, t_to=1.0)
    assert len(s.corrupt) == 1 and "after batch 4" in s.corrupt[0]


def test_a_batch_with_an_alien_layout_is_skipped_and_the_rest_kept(tmp_path: Path) -> None:
    d = tmp_path / "samples"
    d.mkdir()
    path = d / "seg-000001@0.000.arrows"
    # Batches 0 and 2 as the writer writes them (with their CRCs), read back...
    ref = tmp_path / "ref.arrows"
    w = SegmentWriter(ref, [Channel(f"c{i}") for i in range(N)], fsync=False)
    w.write(batch(0, N))
    w.write(batch(2, N))
    w.close()
    with pa.ipc.open_stream(pa.OSFile(str(ref))) as r:
        first, second = (
            r.read_next_batch_with_custom_metadata(),
            r.read_next_batch_with_custom_metadata(),
        )
    # ...around a batch as a damaged header could decode: a null list in ``quality``.
    b = batch(1, N)
    typ = w.schema.types
    good = [pa.array(b.t_mono), pa.array(b.t_wall), pa.array(b.web_position_m)]
    vals = pa.FixedSizeListArray.from_arrays(pa.array(b.values.ravel()), N)
    qual = pa.array([list(r) if i else None for i, r in enumerate(b.quality)], typ[4])
    with pa.ipc.new_stream(str(path), w.schema) as out:
        out.write_batch(first.batch, custom_metadata=first.custom_metadata)
        out.write_batch(
            pa.RecordBatch.from_arrays([*good, vals, qual], schema=w.schema),
            custom_metadata={b"linecontrol.crc32": b"0"},
        )
        out.write_batch(second.batch, custom_metadata=second.custom_metadata)
    s = read_samples(d)
    assert len(s.corrupt) == 1 and "after batch 1" in s.corrupt[0]
    assert np.array_equal(s.t_mono, np.r_[batch(0, N).t_mono, batch(2, N).t_mono])
    assert np.array_equal(s.values, np.r_[batch(0, N).values, batch(2, N).values])
    assert s.batches == 2
    one = read_samples(d, channels=["c1"])
    assert np.array_equal(
        one.values[:, 0], np.r_[batch(0, N).values[:, 1], batch(2, N).values[:, 1]]
    )
