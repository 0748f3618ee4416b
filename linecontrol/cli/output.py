"""What every command shares in its output: exit codes, problems on stderr, JSON on
stdout, aligned tables, times in UTC."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from linecontrol.errors import InputFileError

if TYPE_CHECKING:
    from linecontrol.config import LineConfig

EXIT_OK = 0
EXIT_VIOLATION = 1
EXIT_BAD_INPUT = 2
EXIT_RUN_LOG = 3  # record: the run log could not write everything; runs: a run unreadable
EXIT_DEVICES = 4  # record: a device never answered, or was not answering at the end
EXIT_ACQUISITION = 5  # record: acquisition stopped on an error of its own


def error(message: str) -> None:
    """One line on stderr: ``error: message``."""
    print(f"error: {message}", file=sys.stderr)


def load_line(path: Path, *, need_devices: str | None = None) -> LineConfig | None:
    """The line config, or None after printing each problem with it. ``need_devices``:
    the command that needs instruments (``record``), refused for a line with none."""
    from linecontrol.config import load_line as load

    try:
        line = load(path)
    except InputFileError as exc:
        for p in exc.problems:
            error(f"line config: {p}")
        return None
    if need_devices is not None and not line.devices:
        error(
            f"line config: {path}: devices: the line has no [devices.NAME] table; "
            f"{need_devices} needs at least one instrument"
        )
        return None
    return line


def write_json(obj: Any, **options: Any) -> None:
    """``obj`` as indented strict JSON on stdout, non-ASCII kept, and a newline: a
    number that is not finite (NaN in an event a damaged or newer run holds) is
    written as the string ``"NaN"``, ``"Infinity"`` or ``"-Infinity"``."""
    json.dump(_strict(obj), sys.stdout, indent=2, ensure_ascii=False, allow_nan=False, **options)
    sys.stdout.write("\n")


def _strict(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return "NaN" if obj != obj else ("Infinity" if obj > 0 else "-Infinity")
    if isinstance(obj, Mapping):
        return {k: _strict(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_strict(v) for v in obj]
    return obj


def print_table(rows: Sequence[Sequence[str]]) -> None:
    """Rows of cells, each column as wide as its widest cell, two spaces apart."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def utc(t_wall: float) -> str:
    """ISO 8601 UTC to the millisecond, or a note for a wall time that is no date (a
    damaged run): never an exception."""
    from linecontrol.runlog import iso_utc

    return iso_utc(t_wall, "milliseconds")
