"""The seek index of a sample segment: a sidecar ``seg-....arrows.idx`` beside it.

An Arrow IPC *stream* has no footer and cannot seek, so each segment gets an index:
per record batch its byte offset and length, row count, CRC-32, first and last
``t_mono``, ``t_wall`` and ``web_position_m``, and the smallest and largest ``t_mono``
and the largest ``web_position_m`` (which let a seek find the first row at or past a
time or a metre with a binary search, even where the web stood still or ran back).
Only batches that parsed and passed their CRC are listed, and after the table the
``t_mono`` of each of their rows (so a seek to a time, or the rows before an event, need
read no batch); the damage found while indexing (corrupt regions, a torn tail) is kept
in the index as the reader reports it.

The file: ``MAGIC``, a little-endian ``uint32`` header length, the header (JSON: the
index format, the segment's name, size, ``st_mtime_ns``, the CRC-32 of its first and of
its last ``KEY_BYTES``, the offset of its first batch, its channel count, whether its
end-of-stream marker was read, its torn tail and corrupt reports, the batch and row
counts), the batch table (``ENTRY``, one record per batch), every row's ``t_mono``
(float64, in batch order), then the CRC-32 of everything before it (``uint32``). An
index that is missing, of another format, damaged (bad CRC, short) or stale (the
segment's size, mtime, head or tail differ from its key) is never trusted:
``load_index`` returns None with the reason and the reader rebuilds it. Written
atomically (temp file, fsync, rename), by ``SegmentWriter`` when it closes a segment
and by a reader that had to build one.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from linecontrol.errors import LinecontrolError

INDEX_FORMAT = 1
MAGIC = b"LCSIDX\r\n"
SUFFIX = ".idx"
KEY_BYTES = 4096
ENTRY = np.dtype(
    [
        ("offset", "<i8"),
        ("length", "<i8"),
        ("rows", "<i8"),
        ("crc", "<i8"),
        ("t_first", "<f8"),
        ("t_last", "<f8"),
        ("t_min", "<f8"),
        ("t_max", "<f8"),
        ("wall_first", "<f8"),
        ("wall_last", "<f8"),
        ("web_first", "<f8"),
        ("web_last", "<f8"),
        ("web_max", "<f8"),
    ]
)


class DamagedIndex(LinecontrolError, ValueError):
    """An index file that cannot be trusted (bad magic, format, length or CRC)."""


@dataclass(frozen=True)
class FileKey:
    """What an index was built from: a segment that no longer matches is re-indexed."""

    size: int
    mtime_ns: int
    head_crc: int
    tail_crc: int


def file_key(path: Path) -> FileKey:
    """The segment's size and mtime, and the CRC-32 of its first and last
    ``KEY_BYTES`` (OSError if it cannot be read)."""
    with open(path, "rb") as f:
        st = os.fstat(f.fileno())
        head = f.read(KEY_BYTES)
        if st.st_size > KEY_BYTES:
            f.seek(max(0, st.st_size - KEY_BYTES))
            tail = f.read(KEY_BYTES)
        else:
            tail = head
    return FileKey(st.st_size, st.st_mtime_ns, zlib.crc32(head), zlib.crc32(tail))


@dataclass
class SegmentIndex:
    """The index of one segment. ``entries``: one ``ENTRY`` record per intact batch,
    in file order; ``t_mono``: the time of each of their rows, in order."""

    segment: str
    key: FileKey
    data_start: int  # offset of the first batch message (after the schema)
    channels: int
    entries: np.ndarray
    t_mono: np.ndarray
    clean_end: bool = False
    torn: str | None = None
    corrupt: list[str] = field(default_factory=list)
    checked: bool = True  # format 2: every batch's CRC was checked when indexed

    @property
    def rows(self) -> int:
        return int(self.entries["rows"].sum())


def entry_of(
    offset: int,
    length: int,
    crc: int,
    t_mono: np.ndarray,
    t_wall: np.ndarray,
    web: np.ndarray,
) -> tuple[Any, ...]:
    """One ``ENTRY`` record for a batch of these columns (an empty batch, or one of
    NaN times, has t_min +inf and t_max, web_max -inf: no seek lands in it)."""
    # Python floats: cheaper than numpy's reductions on a batch of tens of rows (the
    # writer builds one entry per batch). ``x == x`` is False for NaN only.
    t, w = t_mono.tolist(), web.tolist()
    t_ok = [x for x in t if x == x]
    w_ok = [x for x in w if x == x]
    nan = float("nan")
    return (
        offset,
        length,
        len(t),
        crc,
        t[0] if t else nan,
        t[-1] if t else nan,
        min(t_ok) if t_ok else float("inf"),
        max(t_ok) if t_ok else float("-inf"),
        float(t_wall[0]) if len(t_wall) else nan,
        float(t_wall[-1]) if len(t_wall) else nan,
        w[0] if w else nan,
        w[-1] if w else nan,
        max(w_ok) if w_ok else float("-inf"),
    )


def sidecar(segment: Path) -> Path:
    return segment.with_name(segment.name + SUFFIX)


def encode(idx: SegmentIndex) -> bytes:
    header = json.dumps(
        {
            "format": INDEX_FORMAT,
            "segment": idx.segment,
            "size": idx.key.size,
            "mtime_ns": idx.key.mtime_ns,
            "head_crc": idx.key.head_crc,
            "tail_crc": idx.key.tail_crc,
            "data_start": idx.data_start,
            "channels": idx.channels,
            "clean_end": idx.clean_end,
            "torn": idx.torn,
            "corrupt": idx.corrupt,
            "checked": idx.checked,
            "batches": len(idx.entries),
            "rows": len(idx.t_mono),
        },
        separators=(",", ":"),
        sort_keys=True,
    ).encode()
    body = MAGIC + struct.pack("<I", len(header)) + header
    body += np.ascontiguousarray(idx.entries, ENTRY).tobytes()
    body += np.ascontiguousarray(idx.t_mono, "<f8").tobytes()
    return body + struct.pack("<I", zlib.crc32(body))


def decode(data: bytes) -> SegmentIndex:
    """The index in ``data``; ``DamagedIndex`` if it is not a whole index of this
    format."""
    if len(data) < len(MAGIC) + 8 or not data.startswith(MAGIC):
        raise DamagedIndex("not a segment index (bad magic or too short)")
    view = memoryview(data)  # slices without copies
    (crc,) = struct.unpack_from("<I", data, len(data) - 4)
    if zlib.crc32(view[:-4]) != crc:
        raise DamagedIndex("index CRC mismatch")
    (hlen,) = struct.unpack_from("<I", data, len(MAGIC))
    at = len(MAGIC) + 4
    try:
        h = json.loads(data[at : at + hlen])
        if h["format"] != INDEX_FORMAT:
            raise DamagedIndex(f"index format {h['format']!r}, this reader knows {INDEX_FORMAT}")
        n, rows = int(h["batches"]), int(h["rows"])
        table = view[at + hlen : -4]
        if n < 0 or rows < 0 or len(table) != n * ENTRY.itemsize + rows * 8:
            raise DamagedIndex("index length does not match its batch and row counts")
        # Read-only views of the file's bytes: nothing writes an index read back.
        entries = np.frombuffer(table, ENTRY, n)
        t_mono = np.frombuffer(table, "<f8", rows, n * ENTRY.itemsize)
        if int(entries["rows"].sum()) != rows:
            raise DamagedIndex("index row count does not match its batches")
        return SegmentIndex(
            segment=str(h["segment"]),
            key=FileKey(int(h["size"]), int(h["mtime_ns"]), int(h["head_crc"]), int(h["tail_crc"])),
            data_start=int(h["data_start"]),
            channels=int(h["channels"]),
            entries=entries,
            t_mono=t_mono,
            clean_end=bool(h["clean_end"]),
            torn=h["torn"] if isinstance(h["torn"], str) else None,
            corrupt=[str(c) for c in h["corrupt"]],
            checked=bool(h["checked"]),
        )
    except DamagedIndex:
        raise
    except (ValueError, KeyError, TypeError) as exc:  # JSON, a field missing or mistyped
        raise DamagedIndex(f"index header unreadable ({type(exc).__name__})") from exc


def write_index(segment: Path, idx: SegmentIndex, *, fsync: bool = True) -> None:
    """Write the sidecar of ``segment`` atomically (temp file, fsync, rename); on
    failure no temp file is left and the error is raised."""
    path = sidecar(segment)
    tmp = path.with_name(f".{os.getpid()}-{secrets.token_hex(4)}.{path.name}.tmp")
    try:
        with open(tmp, "xb") as f:
            f.write(encode(idx))
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def load_index(segment: Path) -> tuple[SegmentIndex | None, str]:
    """The segment's sidecar index if it can be trusted, else None and why (missing,
    damaged, another format, or stale: built from a segment that has changed since)."""
    try:
        data = sidecar(segment).read_bytes()
    except FileNotFoundError:
        return None, "no index"
    except OSError as exc:
        return None, f"index unreadable: {exc.strerror or exc}"
    try:
        idx = decode(data)
    except DamagedIndex as exc:
        return None, str(exc)
    try:
        key = file_key(segment)
    except OSError as exc:
        return None, f"segment unreadable: {exc.strerror or exc}"
    if idx.segment != segment.name or idx.key != key:
        return None, "stale index (the segment changed since it was indexed)"
    return idx, ""
