"""The TUI's view of a replay (``linecontrol replay``; pure): whether the server is one,
the REPLAY banner of every screen's header, the trend window a full state gives, and
the seek targets of the replay keys."""

from __future__ import annotations

import math
from typing import Any

from linecontrol.api import LineView
from linecontrol.errors import InvalidArgument
from linecontrol.tui.present import fit, number, text

SEEK_STEP_S = 60.0
"""Recorded seconds ``[`` and ``]`` seek back and forward."""
SPEEDS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0)
"""The speeds ``+`` and ``-`` step through."""


def source(view: LineView) -> dict[str, Any] | None:
    """The full state's replay ``source``, or None (a live server, or none yet)."""
    src = view.state.get("source") if view.state else None
    if isinstance(src, dict) and src.get("kind") == "replay":
        return src
    return None


def _num(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def position_text(src: dict[str, Any]) -> str:
    pos = src.get("position")
    pos = pos if isinstance(pos, dict) else {}
    t = _num(pos.get("t_s"))
    metre = _num(pos.get("metre"))
    out = f"t+{t:.1f} s" if t is not None else "t?"
    return out + (f" {number(metre)} m" if metre is not None else "")


def banner(view: LineView, width: int = 80) -> str:
    """``REPLAY <run id> <position> <speed>x [paused]`` (empty for a live server),
    cut to ``width`` cells."""
    src = source(view)
    if src is None:
        return ""
    speed = _num(src.get("speed"))
    parts = [
        "REPLAY",
        fit(text(src.get("run")), 32),
        position_text(src),
        f"{speed:g}x" if speed is not None else "?x",
    ]
    if src.get("paused") is True:
        parts.append("paused")
    if src.get("finished") is True:
        parts.append("(end)")
    return fit(" ".join(parts), width)


def trend_points(view: LineView) -> dict[str, list[tuple[float, float]]]:
    """The trend window of the last full state, per channel: (wall time, GOOD value)."""
    src = source(view)
    trend = src.get("trend") if src is not None else None
    if not isinstance(trend, dict):
        return {}
    times, series = trend.get("t_wall"), trend.get("values")
    if not isinstance(times, list) or not isinstance(series, dict):
        return {}
    out: dict[str, list[tuple[float, float]]] = {}
    for channel, values in series.items():
        if not isinstance(channel, str) or not isinstance(values, list):
            continue
        points = []
        for t, v in zip(times, values, strict=False):
            tt, vv = _num(t), _num(v)
            if tt is not None and vv is not None:
                points.append((tt, vv))
        out[channel] = points
    return out


def next_speed(current: float, faster: bool) -> float:
    """The next speed of ``SPEEDS`` above (or below) ``current``; the end one at an end."""
    if faster:
        return next((s for s in SPEEDS if s > current * 1.0001), SPEEDS[-1])
    return next((s for s in reversed(SPEEDS) if s < current * 0.9999), SPEEDS[0])


def seek_by(view: LineView, delta_s: float) -> float | None:
    """The ``t_s`` ``delta_s`` recorded seconds from the position, kept within the run."""
    src = source(view)
    if src is None:
        return None
    pos, span = src.get("position"), src.get("span")
    t = _num(pos.get("t_s")) if isinstance(pos, dict) else None
    end = _num(span.get("t_s")) if isinstance(span, dict) else None
    if t is None:
        return None
    target = max(0.0, t + delta_s)
    return min(target, end) if end is not None else target


def parse_seek(entry: str) -> dict[str, float]:
    """A seek dialog's entry: ``120`` or ``120s`` (seconds from the run's start) or
    ``45m`` (a metre of web); ``InvalidArgument`` (a ``ValueError``) naming what is
    wanted."""
    raw = entry.strip().lower()
    key = "metre" if raw.endswith("m") else "t_s"
    value_text = raw.removesuffix("m").removesuffix("s").strip()
    try:
        value = float(value_text)
    except ValueError:
        raise InvalidArgument(f"{entry!r}: seconds (120 or 120s) or a metre (45m)") from None
    if not math.isfinite(value):
        raise InvalidArgument(f"{entry!r}: a finite number is needed")
    return {key: value}
