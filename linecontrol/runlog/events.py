"""The append-only event log: one JSON object a line, each with ``seq`` (gap-free)
and ``crc32`` of the rest of the line, so a reader can tell a complete record from
a torn or corrupted one.

Event types in use: ``RunStarted``, ``RunStopped``, ``DeviceError``,
``QualityChanged``, ``SetpointWritten`` (with read-back), ``CommandGiven`` (who),
``RunLogBacklog``, ``RunLogError``.
"""

from __future__ import annotations

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
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.seq = 0

    def append(self, t_mono: float, t_wall: float, type_: str, data: dict[str, Any]) -> int:
        self.seq += 1
        line = encode_event(self.seq, t_mono, t_wall, type_, data)
        n = os.write(self._fd, line)
        if n != len(line):
            raise OSError(f"short write to {self.path}: {n} of {len(line)} bytes")
        if self.fsync:
            os.fsync(self._fd)
        return self.seq

    def close(self) -> None:
        os.close(self._fd)


@dataclass
class Events:
    events: list[dict[str, Any]] = field(default_factory=list)
    torn: str | None = None


def read_events(path: Path) -> Events:
    out = Events()
    if not path.exists():
        return out
    data = path.read_bytes()
    lines = data.split(b"\n")
    for i, line in enumerate(lines):
        if not line:
            continue
        ev = _check(line)
        if ev is None:
            last = i == len(lines) - 1 or all(not x for x in lines[i + 1 :])
            out.torn = (
                "torn last event"
                if last
                else f"corrupt event at line {i + 1}; {len(out.events)} events before it"
            )
            break
        out.events.append(ev)
    return out
