"""Sample segments: Arrow IPC stream files, one record batch per second of rows.

Columns: ``t_mono`` (s, monotonic clock), ``t_wall`` (s since the epoch, UTC),
``web_position_m``, ``values`` (fixed-size list of float64, one per channel) and
``quality`` (fixed-size list of uint8: 0 GOOD, 1 STALE, 2 INVALID, 3 WAITING). Channel
names and units are in the schema metadata, so ``pyarrow.ipc.open_stream`` or
``polars.read_ipc_stream`` read a segment without this package.

Integrity (format 2): every record batch carries ``linecontrol.crc32`` in its custom
metadata, the CRC-32 (zlib) of the little-endian bytes of ``t_mono``, ``t_wall``,
``web_position_m``, ``values`` (row-major) and ``quality``, in that order. The
reader checks it, so a damaged batch is reported as corrupt, never read as good.

The stream format writes no footer: every complete record batch of a killed
writer is readable. A batch that cannot be read or fails its CRC is skipped: the
reader resynchronises at the next message that parses and passes its CRC, so the
intact batches after it are kept. Unreadable bytes that run to the end of a file
with no end-of-stream marker are a *torn tail* (a crash in mid-write, ``torn``);
anything else is *corruption* (``corrupt``), reported apart.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import os
import re
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from linecontrol.errors import InvalidArgument, LinecontrolError, UnknownChannel
from linecontrol.model import Batch, Channel
from linecontrol.runlog.index import ENTRY as INDEX_ENTRY
from linecontrol.runlog.index import SegmentIndex, entry_of, file_key, write_index

logger = logging.getLogger("linecontrol.runlog")

QUALITY_NAMES = {0: "GOOD", 1: "STALE", 2: "INVALID", 3: "WAITING"}
FORMAT = b"2"
CRC_KEY = b"linecontrol.crc32"
CHANNELS_CRC_KEY = b"linecontrol.channels_crc32"
_CONTINUATION = b"\xff\xff\xff\xff"


def schema_for(channels: list[Channel]) -> pa.Schema:
    n = len(channels)
    listed = json.dumps(
        [{"name": c.name, "unit": c.unit, "device": c.device} for c in channels]
    ).encode()
    meta = {
        b"linecontrol.channels": listed,
        CHANNELS_CRC_KEY: str(zlib.crc32(listed)).encode(),
        b"linecontrol.quality": json.dumps(QUALITY_NAMES).encode(),
        b"linecontrol.format": FORMAT,
    }
    return pa.schema(
        [
            ("t_mono", pa.float64()),
            ("t_wall", pa.float64()),
            ("web_position_m", pa.float64()),
            ("values", pa.list_(pa.float64(), n)),
            ("quality", pa.list_(pa.uint8(), n)),
        ],
        metadata=meta,
    )


class DamagedSchema(LinecontrolError, ValueError):
    """A segment's channel list is damaged: its columns cannot be named."""


def channels_of(schema: pa.Schema) -> list[Channel]:
    """The channels a segment's schema lists, checked against their CRC when the
    writer stored one; ``DamagedSchema`` if they cannot be trusted."""
    meta = schema.metadata or {}
    raw = meta.get(b"linecontrol.channels", b"[]")
    crc = meta.get(CHANNELS_CRC_KEY)
    if crc is not None and crc != str(zlib.crc32(raw)).encode():
        raise DamagedSchema("channel list damaged (CRC mismatch)")
    return _channels(raw)


@functools.lru_cache(maxsize=64)
def _channels_cached(raw: bytes) -> tuple[Channel, ...]:
    try:
        return tuple(Channel(**c) for c in json.loads(raw))
    except (ValueError, TypeError) as exc:  # not JSON, not UTF-8, not a list of channels
        raise DamagedSchema(f"channel list unreadable ({type(exc).__name__})") from exc


def _channels(raw: bytes) -> list[Channel]:
    return list(_channels_cached(raw))


def _crc(arrays: list[np.ndarray]) -> int:
    crc = 0
    for a in arrays:
        crc = zlib.crc32(a.data.cast("B") if a.flags.c_contiguous else a.tobytes(), crc)
    return crc


_ITEM = (8, 8, 8, 8, 1)  # bytes per item of each column's data buffer


def batch_crc(rb: pa.RecordBatch, n: int | None = None) -> int | None:
    """The CRC of a record batch as read back, over its data buffers in place (no
    copy); None if it has a validity buffer, an offset or another layout: such a
    batch was not written by ``SegmentWriter``. ``n``: channels (from the schema)."""
    rows = rb.num_rows
    if rb.num_columns != 5:
        return None
    if n is None:
        n = rb.schema.types[3].list_size
    crc = 0
    try:
        for i in range(5):
            col = rb.column(i)
            if col.offset:
                return None
            bufs = col.buffers()
            if i < 3:
                if bufs[0] is not None:
                    return None
                data, size = bufs[1], rows * 8
            else:
                if bufs[0] is not None or bufs[1] is not None:
                    return None
                data, size = bufs[2], rows * n * _ITEM[i]
            if data is None or data.size < size:
                return None
            crc = zlib.crc32(memoryview(data)[:size], crc)
    except (AttributeError, IndexError, TypeError, ValueError):
        return None
    return crc


def _verified(rb: pa.RecordBatch, meta: Any, checked: bool) -> str | None:
    """Why a batch read back is not good, or None."""
    if not checked:
        return None
    return _verified_n(rb, meta, rb.schema.types[3].list_size)


class SegmentWriter:
    """Appends batches to one segment file; each batch reaches the OS before
    ``write`` returns (and the disk, with ``fsync``). ``close`` writes the segment's
    seek index (``linecontrol.runlog.index``) beside it, unless a write failed."""

    def __init__(self, path: Path, channels: list[Channel], *, fsync: bool = True) -> None:
        self.path = path
        self.schema = schema_for(channels)
        self.n = len(channels)
        self.fsync = fsync
        self._raw = pa.OSFile(str(path), "wb")
        self._sink = pa.BufferedOutputStream(self._raw, 1 << 20)
        self._writer = pa.ipc.new_stream(self._sink, self.schema)
        self._flush()
        self.batches = 0
        self.rows = 0
        self.t_first: float | None = None
        self._entries: list[tuple[Any, ...]] = []
        self._times: list[np.ndarray] = []
        self._data_start = 0
        self._broken = False  # a write failed: no index (readers build one from the file)

    def _flush(self) -> None:
        self._sink.flush()
        if self.fsync:
            os.fsync(self._raw.fileno())

    def write(self, b: Batch) -> None:
        rows, n = b.rows, self.n
        f64, u8 = pa.float64(), pa.uint8()
        # Contiguous arrays, once: the CRC and the zero-copy record batch share them.
        data: list[np.ndarray] = [
            np.ascontiguousarray(b.t_mono, np.float64),
            np.ascontiguousarray(b.t_wall, np.float64),
            np.ascontiguousarray(b.web_position_m, np.float64),
            np.ascontiguousarray(b.values, np.float64),
            np.ascontiguousarray(b.quality, np.uint8),
        ]
        crc = _crc(data)

        def col(a: np.ndarray, typ: pa.DataType, count: int) -> pa.Array:
            # Zero-copy over the numpy buffer: the cheapest way to a record batch.
            return pa.Array.from_buffers(typ, count, [None, pa.py_buffer(a)])

        fields = self.schema.types
        batch = pa.RecordBatch.from_arrays(
            [
                col(data[0], f64, rows),
                col(data[1], f64, rows),
                col(data[2], f64, rows),
                pa.Array.from_buffers(
                    fields[3], rows, [None], children=[col(data[3], f64, rows * n)]
                ),
                pa.Array.from_buffers(
                    fields[4], rows, [None], children=[col(data[4], u8, rows * n)]
                ),
            ],
            schema=self.schema,
        )
        at = self._sink.tell()
        try:
            self._writer.write_batch(
                batch, custom_metadata=pa.KeyValueMetadata({CRC_KEY: str(crc).encode()})
            )
            self._flush()
        except BaseException:
            self._broken = True
            raise
        end = self._sink.tell()
        if not self._entries:
            # Arrow writes the schema with the first batch: the batch starts after it.
            with open(self.path, "rb") as f:
                (meta_len,) = struct.unpack("<i", f.read(8)[4:])
            self._data_start = at = 8 + meta_len
        self._entries.append(entry_of(at, end - at, crc, data[0], data[1], data[2]))
        self._times.append(data[0].copy())  # the caller may reuse its arrays
        if self.t_first is None and b.rows:
            self.t_first = float(b.t_mono[0])
        self.batches += 1
        self.rows += b.rows

    def close(self) -> None:
        # End-of-stream marker: a clean close is distinguishable from a torn tail.
        # Each layer is closed even if the one above failed (a full disk), the
        # buffer before the file, so none is left to fail again when collected.
        try:
            self._writer.close()
            self._flush()
        except BaseException:
            with contextlib.suppress(OSError):  # it fails as the write did: raised below
                self._sink.close()
            with contextlib.suppress(OSError):
                self._raw.close()
            raise
        self._sink.close()
        self._raw.close()
        if not self._broken and self._entries:
            self._write_index()

    def _write_index(self) -> None:
        # A cache of what the file holds: a failure to write it is logged, not raised
        # (a reader rebuilds a missing index from the segment).
        try:
            idx = SegmentIndex(
                segment=self.path.name,
                key=file_key(self.path),
                data_start=self._data_start,
                channels=self.n,
                entries=np.array(self._entries, INDEX_ENTRY),
                t_mono=np.concatenate(self._times),
                clean_end=True,
            )
            write_index(self.path, idx, fsync=self.fsync)
        except OSError as exc:
            logger.warning("seek index of %s not written: %s", self.path.name, exc)


@dataclass
class SegmentRead:
    path: Path
    channels: list[Channel]
    batches: list[pa.RecordBatch] = field(default_factory=list)
    torn: str | None = None  # a torn tail (a crash in mid-write), if any
    file_bytes: int = 0
    corrupt: list[str] = field(default_factory=list)  # damaged batches, skipped
    clean_end: bool = False  # the end-of-stream marker of a closed segment was read
    # (offset, length) of each batch in ``batches``: filled by the message-by-message
    # read (``read_segment_spans``), empty from the fast path
    spans: list[tuple[int, int]] = field(default_factory=list)


def _checked(schema: pa.Schema) -> bool:
    return bool((schema.metadata or {}).get(b"linecontrol.format", b"1") != b"1")


def read_segment(path: Path) -> SegmentRead:
    """Every intact batch of a segment, each checked against its CRC; a torn tail
    and corrupt batches are reported, not raised. Fast path: Arrow's stream reader;
    at the first problem the file is re-read message by message and resynchronised
    (``_scan``)."""
    size = path.stat().st_size
    out = SegmentRead(path, [], file_bytes=size)
    if size == 0:
        out.torn = "empty file (writer killed before the schema was written)"
        return out
    try:
        reader = pa.ipc.open_stream(pa.memory_map(str(path)))
    except (pa.ArrowInvalid, OSError) as exc:
        out.torn = f"no readable schema: {exc}"
        return out
    try:
        out.channels = channels_of(reader.schema)
    except DamagedSchema as exc:
        out.corrupt.append(f"{exc}: the segment's batches skipped")
        return out
    checked = _checked(reader.schema)
    n = len(out.channels)
    while True:
        try:
            rb, meta = reader.read_next_batch_with_custom_metadata()
        except StopIteration:
            out.clean_end = True
            return out
        except (pa.ArrowInvalid, OSError):
            break
        if checked and _verified_n(rb, meta, n) is not None:
            break
        out.batches.append(rb)
    return _scan(path, reader.schema, checked, out)


def read_segment_spans(path: Path) -> tuple[SegmentRead, pa.Schema | None]:
    """``read_segment`` with the byte span of every intact batch (``SegmentRead.spans``)
    and the schema read; for indexing. A closed, intact segment is read by Arrow's
    stream reader; any other (damaged, crash-torn, still open) message by message, as
    ``read_segment`` resynchronises: up to its last complete batch, never beyond."""
    size = path.stat().st_size
    out = SegmentRead(path, [], file_bytes=size)
    if size == 0:
        out.torn = "empty file (writer killed before the schema was written)"
        return out, None
    try:
        reader = pa.ipc.open_stream(pa.memory_map(str(path)))
    except (pa.ArrowInvalid, OSError) as exc:
        out.torn = f"no readable schema: {exc}"
        return out, None
    try:
        out.channels = channels_of(reader.schema)
    except DamagedSchema as exc:
        out.corrupt.append(f"{exc}: the segment's batches skipped")
        return out, None
    checked = _checked(reader.schema)
    if _clean_spans(path, reader.schema, checked, out):
        return out, reader.schema
    return _scan(path, reader.schema, checked, out), reader.schema


def _clean_spans(path: Path, schema: pa.Schema, checked: bool, out: SegmentRead) -> bool:
    """The fast path of ``read_segment_spans``: True, with ``out`` filled, if every
    message reads and passes its CRC and the file ends with the end-of-stream marker
    and nothing after it; else False and ``out`` untouched (``_scan`` reads it)."""
    data = pa.memory_map(str(path)).read_buffer()
    size = data.size
    reader = pa.ipc.open_stream(data)
    n = len(out.channels)
    off = 8 + struct.unpack("<i", data.slice(4, 4).to_pybytes())[0]
    batches: list[pa.RecordBatch] = []
    spans: list[tuple[int, int]] = []
    try:
        while True:
            try:
                rb, meta = reader.read_next_batch_with_custom_metadata()
            except StopIteration:
                break
            head = data.slice(off, 8).to_pybytes()
            if len(head) < 8 or head[:4] != _CONTINUATION:
                return False
            msg = pa.ipc.read_message(data.slice(off))
            if msg.type != "record batch":
                return False
            used = (
                8
                + struct.unpack("<i", head[4:])[0]
                + (msg.body.size if msg.body is not None else 0)
            )
            if checked and _verified_n(rb, meta, n) is not None:
                return False
            batches.append(rb)
            spans.append((off, used))
            off += used
    except (pa.ArrowInvalid, OSError, ValueError):
        return False
    if off + 8 != size or data.slice(off, 8).to_pybytes() != _CONTINUATION + bytes(4):
        return False
    out.batches, out.spans, out.clean_end = batches, spans, True
    return True


def map_segment(path: Path) -> Any:
    """The segment's bytes, memory-mapped (an Arrow buffer; no copy)."""
    return pa.memory_map(str(path)).read_buffer()


def schema_at(data: Any, length: int) -> Any:
    """The schema message of a mapped segment (its first ``length`` bytes)."""
    return pa.ipc.read_schema(data.slice(0, length))


def batch_at(
    data: Any, offset: int, length: int, schema: Any, n: int, crc: int | None
) -> tuple[list[np.ndarray] | None, str]:
    """The five columns (values and quality rows x ``n``, zero-copy over the map) of
    the record batch message at ``offset`` of a mapped segment, checked against
    ``crc`` (None: not checked); else None and why."""
    try:
        msg = pa.ipc.read_message(data.slice(offset, length))
        rb = pa.ipc.read_record_batch(msg, schema)
        if crc is not None and batch_crc(rb, n) != crc:
            return None, "CRC mismatch"
        r = rb.num_rows
        if crc is not None:  # the writer's layout (its CRC says so): views of its buffers
            return [
                *(np.frombuffer(rb.column(i).buffers()[1], np.float64, r) for i in range(3)),
                np.frombuffer(rb.column(3).buffers()[2], np.float64, r * n).reshape(r, n),
                np.frombuffer(rb.column(4).buffers()[2], np.uint8, r * n).reshape(r, n),
            ], ""
        return [
            rb.column(0).to_numpy(),
            rb.column(1).to_numpy(),
            rb.column(2).to_numpy(),
            rb.column(3).values.to_numpy().reshape(r, n),
            rb.column(4).values.to_numpy().reshape(r, n),
        ], ""
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError, ValueError, IndexError) as exc:
        return None, str(exc)


def batch_columns(rb: Any) -> list[np.ndarray]:
    """``t_mono``, ``t_wall`` and ``web_position_m`` of a record batch read back."""
    return [rb.column(i).to_numpy(zero_copy_only=False) for i in range(3)]


def _verified_n(rb: pa.RecordBatch, meta: Any, n: int) -> str | None:
    raw = meta.get(CRC_KEY) if meta is not None else None
    if raw is None:
        return "no CRC"
    try:
        want = int(raw)
    except ValueError:
        return "unreadable CRC"
    return None if batch_crc(rb, n) == want else "CRC mismatch"


def _scan(path: Path, schema: pa.Schema, checked: bool, out: SegmentRead) -> SegmentRead:
    """Message-by-message read of a damaged segment. A message that does not parse
    or fails its CRC starts a bad region; the next offset that holds a message that
    parses and passes its CRC ends it."""
    data = pa.memory_map(str(path)).read_buffer()
    raw = memoryview(data)
    size = len(raw)
    (mlen,) = struct.unpack_from("<i", raw, 4)
    schema_bytes = bytes(raw[: 8 + mlen])
    eos = _CONTINUATION + b"\x00\x00\x00\x00"
    out.batches = []
    out.spans = []
    out.clean_end = False

    def message_at(off: int) -> tuple[pa.RecordBatch | None, int, str]:
        """(batch or None, bytes used, problem); bytes used 0 if truncated."""
        if size - off < 8:
            return None, 0, "truncated header"
        if bytes(raw[off : off + 4]) != _CONTINUATION:
            return None, -1, "no message marker"
        (meta_len,) = struct.unpack_from("<i", raw, off + 4)
        if meta_len <= 0 or meta_len % 8:
            return None, -1, "bad metadata length"
        if off + 8 + meta_len > size:
            return None, 0, "truncated metadata"
        try:
            msg = pa.ipc.read_message(data.slice(off))
        except (pa.ArrowInvalid, OSError, ValueError) as exc:
            # Arrow says "Expected to be able to read N bytes" on a cut body.
            return None, 0 if "to be able to read" in str(exc) else -1, str(exc)
        if msg.type != "record batch":
            return None, -1, f"unexpected {msg.type} message"
        used = 8 + meta_len + (msg.body.size if msg.body is not None else 0)
        if off + used > size:
            return None, 0, "truncated body"
        try:
            rb, meta = pa.ipc.open_stream(
                pa.py_buffer(schema_bytes + bytes(raw[off : off + used]) + eos)
            ).read_next_batch_with_custom_metadata()
        except (pa.ArrowInvalid, OSError, StopIteration) as exc:
            return None, -1, str(exc)
        why = _verified(rb, meta, checked)
        if why is not None:
            return None, -2, why
        return rb, used, ""

    off = len(schema_bytes)
    bad_at: int | None = None
    bad_why = ""
    truncated = False
    bad_crc = False

    def close_bad(end: int) -> None:
        nonlocal bad_at
        if bad_at is not None:
            out.corrupt.append(
                f"corrupt bytes {bad_at}..{end} after batch {len(out.batches)} "
                f"({bad_why}); skipped, reading resumed after them"
            )
            bad_at = None

    while off < size:
        if bad_at is None and bytes(raw[off : off + 8]) == eos:
            out.clean_end = True
            if off + 8 < size:
                out.corrupt.append(f"{size - off - 8} bytes after the end-of-stream marker")
            return out
        rb, used, why = message_at(off)
        if rb is not None:
            close_bad(off)
            out.batches.append(rb)
            out.spans.append((off, used))
            off += used
            continue
        if bad_at is None:
            bad_at, bad_why, truncated, bad_crc = off, why, used == 0, used == -2
        # Resynchronise: the next message marker after this offset.
        nxt = bytes(raw[off + 1 :]).find(_CONTINUATION) if off + 1 < size else -1
        if nxt < 0:
            break
        off = off + 1 + nxt
    if bad_at is not None:
        if truncated and not bad_crc:
            out.torn = f"torn tail after batch {len(out.batches)}: {bad_why}"
        else:
            close_bad(size)
    return out


def segment_paths(samples_dir: Path) -> list[Path]:
    return sorted(samples_dir.glob("seg-*.arrows"), key=lambda p: p.name.split("@")[0])


@dataclass
class Samples:
    channels: list[Channel]
    t_mono: np.ndarray
    t_wall: np.ndarray
    web_position_m: np.ndarray
    values: np.ndarray
    quality: np.ndarray
    torn: list[str] = field(default_factory=list)
    batches: int = 0
    corrupt: list[str] = field(default_factory=list)

    def column(self, name: str) -> np.ndarray:
        return self.values[:, [c.name for c in self.channels].index(name)]


@dataclass
class _Piece:
    """Whole batches of one segment that a read needs (a window's, one more each
    side), not yet checked unless ``metas`` is None (checked, or format 1)."""

    name: str
    channels: list[Channel]
    batches: list[pa.RecordBatch]
    metas: list[Any] | None
    first: int  # index in the segment of ``batches[0]``
    rows: np.ndarray  # row offset of each batch in the piece, and the end


def _piece(
    path: Path, window: tuple[float | None, float | None] | None
) -> tuple[_Piece | None, SegmentRead | None]:
    """The batches of a segment a read needs. A segment that Arrow's stream reader
    cannot read through is read by ``read_segment`` (checked, resynchronised), and
    its ``SegmentRead`` returned for its torn and corrupt reports."""
    raw = _read_raw(path)
    seg = None
    if raw is None:
        seg = read_segment(path)
        if not seg.channels:
            return None, seg
        batches, metas, chans = seg.batches, None, seg.channels
    else:
        batches, metas, chans = raw
    if not batches:
        return None, seg
    counts = np.fromiter((b.num_rows for b in batches), np.int64, len(batches))
    rows = np.concatenate([[0], np.cumsum(counts)])
    k0, k1 = 0, len(batches)
    if window is not None:
        t = np.concatenate([b.column(0).to_numpy() for b in batches])
        if bool(np.all(np.diff(t) > 0)):
            t_from, t_to = window
            i0 = int(np.searchsorted(t, t_from, "left")) if t_from is not None else 0
            i1 = int(np.searchsorted(t, t_to, "left")) if t_to is not None else len(t)
            b0 = int(np.searchsorted(rows[1:], i0, "right"))
            b1 = int(np.searchsorted(rows[1:], max(i0, i1 - 1), "right"))
            k0, k1 = max(0, b0 - 1), min(len(batches), b1 + 2)
    return (
        _Piece(
            path.name,
            chans,
            batches[k0:k1],
            metas[k0:k1] if metas is not None else None,
            k0,
            rows[k0 : k1 + 1] - rows[k0],
        ),
        seg,
    )


def _read_raw(path: Path) -> tuple[list[pa.RecordBatch], list[Any] | None, list[Channel]] | None:
    """Every batch of a segment Arrow's stream reader reads through, unchecked, with
    its custom metadata (None for a format-1 segment, which has no CRC); None if the
    reader stops on an error."""
    try:
        if path.stat().st_size == 0:
            return None
        reader = pa.ipc.open_stream(pa.memory_map(str(path)))
    except (pa.ArrowInvalid, OSError):
        return None
    batches: list[pa.RecordBatch] = []
    metas: list[Any] = []
    while True:
        try:
            rb, meta = reader.read_next_batch_with_custom_metadata()
        except StopIteration:
            break
        except (pa.ArrowInvalid, OSError):
            return None
        batches.append(rb)
        metas.append(meta)
    try:
        chans = channels_of(reader.schema)
    except DamagedSchema:
        return None  # read_segment reports it
    return batches, metas if _checked(reader.schema) else None, chans


def _columns(piece: _Piece, n: int) -> list[np.ndarray] | None:
    """The piece's five columns as numpy (values and quality rows x n); None if its
    layout is not the writer's (a damaged header)."""
    table = pa.Table.from_batches(piece.batches, schema=piece.batches[0].schema)
    r = table.num_rows
    try:
        out = [table.column(i).to_numpy() for i in range(3)]
        for i in (3, 4):
            flat = pc.list_flatten(table.column(i)).to_numpy()
            if flat.size != r * n:
                return None
            out.append(flat.reshape(r, n))
    except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError):
        return None
    if out[3].dtype != np.float64 or out[4].dtype != np.uint8:
        return None
    return out


def _assemble(
    pieces: list[_Piece],
    n: int,
    idx: list[int] | None,
    window: tuple[float | None, float | None] | None,
    corrupt: list[str],
) -> dict[str, Any]:
    """The pieces' rows in the window, in preallocated arrays: every batch checked
    against its CRC on the arrays as read (a bad one is skipped and reported)."""
    total = sum(int(pc_.rows[-1]) for pc_ in pieces)
    width = len(idx) if idx is not None else n
    t_mono, t_wall, web = np.empty(total), np.empty(total), np.empty(total)
    values = np.empty((total, width))
    quality = np.empty((total, width), np.uint8)
    keep = np.ones(total, bool)
    at = 0
    batches = 0
    for piece in pieces:
        cols = _columns(piece, n)
        r = int(piece.rows[-1])
        if cols is None:
            # A batch the stream reader took whose layout is not the writer's (a
            # damaged header): check and take the piece batch by batch instead.
            cols = [t_mono[at : at + r], t_wall[at : at + r], web[at : at + r]]
            cols += [np.zeros((r, n)), np.zeros((r, n), np.uint8)]
            ok = np.zeros(r, bool)
            for j, rb in enumerate(piece.batches):
                a, b = int(piece.rows[j]), int(piece.rows[j + 1])
                meta = piece.metas[j] if piece.metas is not None else None
                why = _verified_n(rb, meta, n) if piece.metas is not None else "layout"
                if why is not None:
                    k = piece.first + j
                    corrupt.append(f"{piece.name}: corrupt batch after batch {k} ({why}); skipped")
                    continue
                for i in range(3):
                    cols[i][a:b] = rb.column(i).to_numpy()
                cols[3][a:b] = rb.column(3).values.to_numpy().reshape(b - a, n)
                cols[4][a:b] = rb.column(4).values.to_numpy().reshape(b - a, n)
                ok[a:b] = True
                batches += 1
            piece = dataclasses.replace(piece, metas=None, batches=[])  # checked above
        else:
            ok = np.ones(r, bool)
        if piece.metas is not None:
            for j, meta in enumerate(piece.metas):
                a, b = int(piece.rows[j]), int(piece.rows[j + 1])
                why = _check(meta, [c[a:b] for c in cols])
                if why is not None:
                    ok[a:b] = False
                    k = piece.first + j
                    corrupt.append(f"{piece.name}: corrupt batch after batch {k} ({why}); skipped")
                else:
                    batches += 1
        else:
            batches += len(piece.batches)
        if window is not None:
            t_from, t_to = window
            if t_from is not None:
                ok &= cols[0] >= t_from
            if t_to is not None:
                ok &= cols[0] < t_to
        t_mono[at : at + r], t_wall[at : at + r], web[at : at + r] = cols[0], cols[1], cols[2]
        if idx is None:
            values[at : at + r], quality[at : at + r] = cols[3], cols[4]
        else:
            values[at : at + r], quality[at : at + r] = cols[3][:, idx], cols[4][:, idx]
        keep[at : at + r] = ok
        at += r
    out: dict[str, Any] = {
        "t_mono": t_mono,
        "t_wall": t_wall,
        "web_position_m": web,
        "values": values,
        "quality": quality,
    }
    if not keep.all():
        out = {k: v[keep] for k, v in out.items()}
    out["batches"] = batches
    return out


def _check(meta: Any, cols: list[np.ndarray]) -> str | None:
    raw = meta.get(CRC_KEY) if meta is not None else None
    if raw is None:
        return "no CRC"
    try:
        want = int(raw)
    except ValueError:
        return "unreadable CRC"
    return None if _crc(cols) == want else "CRC mismatch"


_SEG_RE = re.compile(r"^seg-(\d{6})@(-?[0-9.]+)\.arrows$")


def segment_name(number: int, t_first: float) -> str:
    """``seg-000007@12345.600.arrows``: the start time in the name lets a reader pick
    the segments of a time window without opening the others."""
    return f"seg-{number:06d}@{t_first:.3f}.arrows"


def _segment_start(path: Path) -> float | None:
    m = _SEG_RE.match(path.name)
    return float(m.group(2)) if m else None


def read_samples(
    samples_dir: Path,
    channels: list[str] | None = None,
    t_from: float | None = None,
    t_to: float | None = None,
) -> Samples:
    """All samples (or the named channels, within the half-open window
    [t_from, t_to) on the monotonic clock, so adjacent windows share no sample) of
    every segment, torn tails reported in ``Samples.torn``. Segments outside the
    window are not opened (their start time is in their name)."""
    paths = segment_paths(samples_dir)
    if t_from is not None or t_to is not None:
        starts = [_segment_start(p) for p in paths]
        keep = []
        for i, p in enumerate(paths):
            start_i = starts[i]
            nxt = next((t for t in starts[i + 1 :] if t is not None), None)
            if t_to is not None and start_i is not None and start_i >= t_to:
                continue
            if t_from is not None and nxt is not None and nxt <= t_from:
                continue
            keep.append(p)
        paths = keep
    torn: list[str] = []
    corrupt: list[str] = []
    all_channels: list[Channel] = []
    window = None if t_from is None and t_to is None else (t_from, t_to)
    pieces: list[_Piece] = []
    for p in paths:
        piece, seg = _piece(p, window)
        if seg is not None:
            if seg.torn:
                torn.append(f"{p.name}: {seg.torn}")
            corrupt += [f"{p.name}: {c}" for c in seg.corrupt]
        if piece is None:
            continue
        all_channels = all_channels or piece.channels
        pieces.append(piece)
    if not all_channels:
        head = next(iter(segment_paths(samples_dir)), None)
        all_channels = read_segment(head).channels if head else []
    names = [c.name for c in all_channels]
    idx = None
    chosen = all_channels
    if channels is not None:
        unknown = [c for c in channels if c not in names]
        if unknown:
            raise UnknownChannel(f"unknown channels {unknown}; the run has {len(names)} channels")
        idx = [names.index(c) for c in channels]
        chosen = [all_channels[i] for i in idx]
    cols = _assemble(pieces, len(all_channels), idx, window, corrupt)
    return Samples(chosen, torn=torn, corrupt=corrupt, **cols)


# ------------------------------------------------------------- other readers and writers
# This module is the run log's one owner of pyarrow: the store (listing, summaries,
# export) reads and writes through these functions.


@dataclass(frozen=True)
class SegmentHead:
    """A segment's channels and its first batch's times (for recovering a run whose
    metadata is lost)."""

    channels: list[Channel]
    t_mono: np.ndarray
    t_wall: np.ndarray


def read_segment_head(path: Path) -> SegmentHead | None:
    """The channels and first batch of the segment at ``path``; None if it has no
    readable schema or batch (damaged, torn before its first batch, or empty)."""
    try:
        with ipc.open_stream(pa.memory_map(str(path))) as r:
            channels = channels_of(r.schema)
            first = r.read_next_batch()
    except (pa.ArrowInvalid, OSError, StopIteration, ValueError):  # ValueError: DamagedSchema
        return None
    return SegmentHead(
        channels,
        first.column("t_mono").to_numpy(zero_copy_only=False).astype(float),
        first.column("t_wall").to_numpy(zero_copy_only=False).astype(float),
    )


WIDE_FORMATS = ("csv", "parquet")


def write_wide(s: Samples, out: Path, fmt: str, *, run_id: str, start_mono: float) -> int:
    """Write ``s`` as one wide table (``t_s`` from ``start_mono``, ``t_wall`` in UTC,
    ``web_position_m``, one column per channel, then one ``<channel>.quality`` each) to
    ``out`` as ``fmt`` (``WIDE_FORMATS``); returns the rows written. Parquet keeps the
    timestamp type and carries the run id, units and quality codes as schema metadata."""
    if fmt not in WIDE_FORMATS:
        raise InvalidArgument(f"unknown format {fmt!r}: one of {', '.join(WIDE_FORMATS)}")
    cols: dict[str, Any] = {
        "t_s": s.t_mono - start_mono,
        "t_wall": pa.array((s.t_wall * 1e6).astype("int64"), pa.timestamp("us", tz="UTC")),
        "web_position_m": s.web_position_m,
    }
    for i, c in enumerate(s.channels):
        cols[c.name] = s.values[:, i]
    for i, c in enumerate(s.channels):
        cols[f"{c.name}.quality"] = pa.array(s.quality[:, i], pa.uint8())
    units = {c.name: c.unit for c in s.channels}
    table = pa.table(cols).replace_schema_metadata(
        {
            b"linecontrol.run_id": run_id.encode(),
            b"linecontrol.units": json.dumps(units).encode(),
            b"linecontrol.quality": json.dumps(QUALITY_NAMES).encode(),
        }
    )
    if fmt == "parquet":
        pq.write_table(table, out)
    else:
        # ISO 8601 wall times ("2026-12-01T19:29:11.134706Z"); pyarrow's own CSV form
        # puts a space where the "T" goes.
        i = table.schema.get_field_index("t_wall")
        iso = pc.strftime(table.column(i), format="%Y-%m-%dT%H:%M:%SZ")
        pacsv.write_csv(table.set_column(i, "t_wall", iso), out)
    return int(table.num_rows)
