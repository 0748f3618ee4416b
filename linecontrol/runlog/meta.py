"""A run's metadata (``meta.json``) and the atomic JSON write every run file uses.

Its own module so that the writer (``run``) and the readers (``store``) both depend on it
and not on each other.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from linecontrol import __version__
from linecontrol.errors import LinecontrolError
from linecontrol.model import Channel


class MalformedMeta(LinecontrolError, ValueError):
    """A meta.json that is JSON but not a run's metadata."""


def write_json_atomic(path: Path, obj: Any) -> None:
    """Temp file, fsync, rename, fsync the directory: never a half-written meta.json.
    On failure the temp file is removed and the error raised."""
    # A temp name of its own: two writers of one file (``runs list`` rebuilding a
    # summary while the recorder writes it at stop) never truncate or rename each
    # other's temp file; the last rename wins, whole.
    tmp = path.with_name(f".{os.getpid()}-{secrets.token_hex(4)}.{path.name}.tmp")
    try:
        with open(tmp, "x", encoding="utf-8") as f:
            json.dump(obj, f, indent=2, default=str)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def iso_utc(t_wall: float, timespec: str = "auto") -> str:
    """A wall time as an ISO 8601 UTC string, or a note saying it is none (NaN, a
    time before 1970 or after 9999 read from a damaged file): never an exception."""
    note = f"(not a date: {t_wall!r})"
    try:
        if not 0 <= t_wall < 253402300800:  # before year 10000; False for NaN
            return note
        return datetime.fromtimestamp(t_wall, UTC).isoformat(timespec=timespec)
    except (OverflowError, ValueError, OSError, TypeError):
        return note


@dataclass
class RunMeta:
    run_id: str
    line: dict[str, Any]
    recipe: dict[str, Any] | None = None
    operator: str = ""
    roll_id: str = ""
    lot_id: str = ""
    sample_hz: float = 10.0
    # How much faster than real time the line's clock ran (a simulated run at a speed-up):
    # the samples' and events' times are on that clock from start_mono/start_wall on.
    speedup: float = 1.0
    channels: list[Channel] = field(default_factory=list)
    software_version: str = __version__
    start_wall: float = 0.0
    start_mono: float = 0.0
    stop_wall: float | None = None
    stop_mono: float | None = None
    exit_status: str | None = None  # None while running (or if the process died)

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["channels"] = [c.__dict__ for c in self.channels]
        d["start_utc"] = datetime.fromtimestamp(self.start_wall, UTC).isoformat()
        if self.stop_wall is not None:
            d["stop_utc"] = datetime.fromtimestamp(self.stop_wall, UTC).isoformat()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunMeta:
        """Raises ``MalformedMeta`` (a ``ValueError``) or ``TypeError`` for anything
        that is not a run's metadata: a field of the wrong type, a non-finite or
        impossible time."""
        d = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        d["channels"] = [Channel(**c) for c in d.get("channels", [])]
        meta = cls(**d)
        meta._check()
        return meta

    def _check(self) -> None:
        def number(name: str, v: object, optional: bool = False) -> None:
            if v is None and optional:
                return
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise MalformedMeta(f"{name} is {v!r}, not a finite number")

        def text(name: str, v: object, optional: bool = False) -> None:
            if not (isinstance(v, str) or (v is None and optional)):
                raise MalformedMeta(f"{name} is {v!r}, not a string")

        for name in ("run_id", "operator", "roll_id", "lot_id", "software_version"):
            text(name, getattr(self, name))
        text("exit_status", self.exit_status, optional=True)
        for name in ("start_wall", "start_mono"):
            number(name, getattr(self, name))
        for name in ("stop_wall", "stop_mono"):
            number(name, getattr(self, name), optional=True)
        number("sample_hz", self.sample_hz)
        if self.sample_hz <= 0:
            raise MalformedMeta(f"sample_hz is {self.sample_hz!r}, not above 0")
        number("speedup", self.speedup)
        if self.speedup <= 0:
            raise MalformedMeta(f"speedup is {self.speedup!r}, not above 0")
        for wall in (self.start_wall, self.stop_wall):
            if wall is not None and not 0 <= wall < 253402300800:  # before year 10000
                raise MalformedMeta(f"wall time {wall!r} is not a date")
        if not isinstance(self.line, dict) or not isinstance(self.recipe, dict | None):
            raise MalformedMeta("line or recipe is not a table")
        for c in self.channels:
            for name in ("name", "unit", "device"):
                text(f"channel {name}", getattr(c, name))
