"""The append-only event log: one JSON object a line, each with ``seq`` (gap-free)
and ``crc32`` of the rest of the line, so a reader can tell a complete record from
a torn or corrupted one. A bad line hides nothing: the reader resynchronises at the
next newline, reports the bad line and keeps reading; after a short or failed
write the writer starts its next event on a new line.

A line is ``{"data":...,"seq":N,"t_mono":...,"t_wall":...,"type":"...","v":1,"crc32":...}``
(keys sorted, no spaces, ``crc32`` last, of the line before it): ``type``, ``v`` and
``data`` are the event's wire form (``linecontrol.model``, which lists the types);
a line without ``v`` (written before versions were recorded) reads as version 1.
An event of a supervisor step also has ``t_step``, the step's time (its sampled row's
``t_mono``; ``t_mono`` is when the line was logged, a little later), which a reader
finds in ``LoggedEvent.extra``.
"""

from __future__ import annotations

import errno
import json
import math
import os
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from linecontrol.errors import InvalidArgument
from linecontrol.model import Event, LoggedEvent, decode_event

ENVELOPE_KEYS = frozenset({"seq", "t_mono", "t_wall", "type", "v", "data"})
_NO_EXTRA: Mapping[str, Any] = MappingProxyType({})


def encode_event(
    seq: int,
    t_mono: float,
    t_wall: float,
    event: Event,
    extra: Mapping[str, Any] = _NO_EXTRA,
) -> bytes:
    """One line, newline included. ``ValueError`` for a time that is not finite.
    ``extra``: envelope keys read from a newer writer's line (``LoggedEvent.extra``),
    written back as they were."""
    if not (math.isfinite(t_mono) and math.isfinite(t_wall)):
        raise InvalidArgument(f"event times must be finite: t_mono={t_mono!r}, t_wall={t_wall!r}")
    if ENVELOPE_KEYS.intersection(extra) or "crc32" in extra:
        raise InvalidArgument(f"extra envelope keys {sorted(extra)} include the envelope's own")
    body = json.dumps(
        LoggedEvent(seq, t_mono, t_wall, event, extra).as_dict(),
        separators=(",", ":"),
        sort_keys=True,
    )
    crc = zlib.crc32(body.encode())
    return f'{body[:-1]},"crc32":{crc}}}\n'.encode()


def _check(line: bytes) -> dict[str, Any] | None:
    try:
        obj = json.loads(line)
        if not isinstance(obj, dict) or "crc32" not in obj:
            return None
        crc = obj.pop("crc32")
        body = json.dumps(obj, separators=(",", ":"), default=str, sort_keys=True)
    except (ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError; too deep
        return None
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

    def append(
        self, t_mono: float, t_wall: float, event: Event, extra: Mapping[str, Any] = _NO_EXTRA
    ) -> int:
        """Write one event; raises OSError if it is not all written (the seq is then
        used: a reader sees the gap, never a reused number). ``extra``: envelope keys
        beside the envelope's own (``t_step``)."""
        line = encode_event(self.seq + 1, t_mono, t_wall, event, extra)
        self.seq += 1
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
    events: list[LoggedEvent] = field(default_factory=list)
    torn: str | None = None  # the last line is incomplete (a crash in mid-write)
    corrupt: list[str] = field(default_factory=list)  # bad lines before the end, skipped
    # seq not one more than the line before: a gap (events lost or unreadable), a
    # repeat or a step back (lines out of order), each with its line
    seq_problems: list[str] = field(default_factory=list)


def read_events(path: Path) -> Events:
    """Every intact event; each bad line is reported and skipped (the next line
    starts after the next newline), and so is every break in ``seq`` (1, 2, 3...)."""
    out = Events()
    if not path.exists():
        return out
    data = path.read_bytes()
    lines = data.split(b"\n")
    last = max((i for i, x in enumerate(lines) if x), default=-1)
    for i, line in enumerate(lines):
        if not line:
            continue
        ev = decode_line(line)
        if ev is None:
            if i == last and i == len(lines) - 1:
                out.torn = "torn last event"
            else:
                out.corrupt.append(f"corrupt event at line {i + 1}; skipped")
            continue
        before = out.events[-1].seq if out.events else 0
        if ev.seq <= before:
            out.seq_problems.append(
                f"seq {ev.seq} at line {i + 1} after seq {before}: repeated or out of order"
            )
        elif ev.seq > before + 1:
            n = ev.seq - before - 1
            out.seq_problems.append(
                f"seq {before + 1}..{ev.seq - 1} missing before line {i + 1}: "
                f"{n} event{'s' if n > 1 else ''} lost or unreadable"
            )
        out.events.append(ev)
    return out


def decode_line(line: bytes) -> LoggedEvent | None:
    """The event of one line (without its newline), or ``None`` for a line that is
    not intact (bad JSON or CRC) or has no envelope (``seq``, finite times, ``type``,
    ``data``: what ``encode_event`` writes). Any other line gives an event: an
    ``UnknownEvent`` when its type, version or data is not one this reader knows."""
    obj = _check(line)
    if obj is None:
        return None
    seq, t_mono, t_wall, type_ = (obj.get(k) for k in ("seq", "t_mono", "t_wall", "type"))
    v = obj.get("v", 1)
    if not (
        isinstance(seq, int)
        and not isinstance(seq, bool)
        and all(isinstance(t, int | float) and not isinstance(t, bool) for t in (t_mono, t_wall))
        and isinstance(type_, str)
        and isinstance(v, int)
        and not isinstance(v, bool)
        and "data" in obj
    ):
        return None
    assert isinstance(t_mono, int | float) and isinstance(t_wall, int | float)
    try:
        times = float(t_mono), float(t_wall)  # an integer beyond a float: OverflowError
    except OverflowError:
        return None
    if not all(math.isfinite(t) for t in times):  # NaN, 1e400: what encode_event refuses
        return None
    extra = {k: v for k, v in obj.items() if k not in ENVELOPE_KEYS}
    try:
        event = decode_event(type_, v, obj["data"])
    except RecursionError:  # data nested about as deep as json reads: no event of ours
        return None
    return LoggedEvent(seq, *times, event, MappingProxyType(extra) if extra else _NO_EXTRA)
