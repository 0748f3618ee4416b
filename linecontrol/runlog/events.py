"""The append-only event log: one JSON object a line, each with ``seq`` (gap-free)
and ``crc32`` of the rest of the line, so a reader can tell a complete record from
a torn or corrupted one. A bad line hides nothing: the reader resynchronises at the
next newline, reports the bad line and keeps reading; after a short or failed
write the writer starts its next event on a new line.

Event types in use: ``RunStarted``, ``RunStopped``, ``DeviceError``,
``DeviceRecovered``, ``DeviceSummary``, ``CommandGiven`` (who), ``RunLogBacklog``,
``RunLogError``, ``RunLogRecovered``.
"""

from __future__ import annotations

import errno
import json
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def encode_event(seq: int, t_mono: float, t_wall: float, type_: str, data: dict[str, Any]) -> bytes:
    body = json.dumps(
        {"seq": seq, "t_mono": t_mono, "t_wall": t_wall, "type": type_, "data": data},
        separators=(",", ":"),
        default=str,
        sort_keys=True,
    )
    crc = zlib.crc32(body.encode())
    return f'{body[:-1]},"crc32":{crc}}}\n'.encode()


def _check(line: bytes) -> dict[str, Any] | None:
    try:
        obj = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(obj, dict) or "crc32" not in obj:
        return None
    crc = obj.pop("crc32")
    body = json.dumps(obj, separators=(",", ":"), default=str, sort_keys=True)
    return obj if zlib.crc32(body.encode()) == crc else None


class EventWriter:
    def __init__(self, path: Path, *, fsync: bool = True) -> None:
        self.path = path
        self.fsync = fsync
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        self.seq = 0
        # A file that does not end in a newline (a torn last line) gets one first.
        size = os.fstat(self._fd).st_size
        self._newline_first = size > 0 and os.pread(self._fd, 1, size - 1) != b"\n"

    def append(self, t_mono: float, t_wall: float, type_: str, data: dict[str, Any]) -> int:
        """Write one event; raises OSError if it is not all written (the seq is then
        used: a reader sees the gap, never a reused number)."""
        self.seq += 1
        line = encode_event(self.seq, t_mono, t_wall, type_, data)
        if self._newline_first:
            line = b"\n" + line
        # Until this line is whole, a failure leaves a partial line behind.
        self._newline_first = True
        n = os.write(self._fd, line)
        if n != len(line):
            raise OSError(errno.EIO, f"short write to {self.path}: {n} of {len(line)} bytes")
        self._newline_first = False
        if self.fsync:
            os.fsync(self._fd)
        return self.seq

    def close(self) -> None:
        os.close(self._fd)


@dataclass
class Events:
    events: list[dict[str, Any]] = field(default_factory=list)
    torn: str | None = None  # the last line is incomplete (a crash in mid-write)
    corrupt: list[str] = field(default_factory=list)  # bad lines before the end, skipped


def read_events(path: Path) -> Events:
    """Every intact event; each bad line is reported and skipped (the next line
    starts after the next newline)."""
    out = Events()
    if not path.exists():
        return out
    data = path.read_bytes()
    lines = data.split(b"\n")
    last = max((i for i, x in enumerate(lines) if x), default=-1)
    for i, line in enumerate(lines):
        if not line:
            continue
        ev = _check(line)
        if ev is None:
            if i == last and i == len(lines) - 1:
                out.torn = "torn last event"
            else:
                out.corrupt.append(f"corrupt event at line {i + 1}; skipped")
            continue
        out.events.append(ev)
    return out
