"""The replay player: a logged run's samples and events, back in their recorded order
and at their recorded pace (times ``speed``), paused, sped up, sought, stepped.

Pure: no I/O, no clock. Every call that depends on time takes ``now`` (seconds on
any monotonic clock, never going back); the samples come from a ``SampleSource``
(``ArraySource`` in memory here; ``linecontrol.runlog.RunSamples`` reads a run's
segments through their seek index).

**Recorded order.** The timeline is the samples in row order merged with the events
in their log order (``seq``), by ``t_mono`` (the run log's monotonic clock, which
stamps both). The merge is stable and the tie rule is: *a sample before an event of
the same time* (the event stamped at a row's time is a consequence of that row: an
alarm raised on it, a state entered on it). So an event comes right after the last
sample at or before its time, and never before a sample that came earlier in the
file; events keep their log order even where their times do not increase.

**Replay time.** Recorded ``t_mono``; it starts at the first item of the timeline and
moves ``speed`` recorded seconds per second of ``now`` while playing. ``due(now)``
returns, in recorded order, every item not yet returned whose time is at or before
the replay time, and stops at the first that is later. Samples come in runs of
consecutive rows (``RowsDue``), events one by one (``LoggedEvent``).

**Controls.** ``pause``/``resume`` (the position is kept), ``set_speed`` (0.1x to
1000x: anything outside, or not finite, is refused with ``InvalidSpeed``),
``seek_time``, ``seek_metre``, ``step`` (pauses, then returns the events before the
next sample and that sample).

- ``seek_time(t)``: the timeline from its first item at or after ``t``, in recorded
  order; the replay time becomes ``t``.
- ``seek_metre(m)``: the timeline from the first sample, in recorded order, whose
  ``web_position_m >= m`` (on a jog back the rows below ``m`` come after it; a row
  without a position is never at or past a metre); the replay time becomes that
  sample's time. The events before that sample are not replayed.

Either raises ``SeekOutOfRange`` (naming what the run has) when nothing of the
timeline is at or past the target.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from linecontrol.errors import InvalidArgument, LinecontrolError
from linecontrol.model import LoggedEvent

MIN_SPEED = 0.1
MAX_SPEED = 1000.0


class InvalidSpeed(LinecontrolError, ValueError):
    """A replay speed outside 0.1x to 1000x, or not a finite number."""


class SeekOutOfRange(LinecontrolError, LookupError):
    """A seek past everything the run holds."""


class Rows(Protocol):
    """Consecutive samples: the columns of ``linecontrol.runlog.Samples``."""

    @property
    def t_mono(self) -> np.ndarray: ...
    @property
    def t_wall(self) -> np.ndarray: ...
    @property
    def web_position_m(self) -> np.ndarray: ...
    @property
    def values(self) -> np.ndarray: ...
    @property
    def quality(self) -> np.ndarray: ...


class SampleSource(Protocol):
    """A run's rows by number (0 to ``rows``), in recorded order."""

    @property
    def rows(self) -> int: ...
    @property
    def t_first(self) -> float:
        """The time of the first row (``inf`` if none)."""
        ...

    @property
    def t_last(self) -> float:
        """The latest time of a row (``-inf`` if none)."""
        ...

    def row_at_time(self, t: float) -> int:
        """The first row with ``t_mono >= t`` (``rows`` if none)."""
        ...

    def row_after_time(self, t: float) -> int:
        """The first row with ``t_mono > t`` (``rows`` if none)."""
        ...

    def rows_after_times(self, times: np.ndarray) -> np.ndarray:
        """``row_after_time`` of each of ``times``, at once."""
        ...

    def row_at_metre(self, metre: float) -> int | None:
        """The first row with ``web_position_m >= metre``; None if none."""
        ...

    def read(self, start: int, stop: int) -> Rows: ...
    def read_window(self, t0: float, t1: float) -> Rows:
        """The rows with ``t0 <= t_mono < t1``."""
        ...


@dataclass(frozen=True)
class ArrayRows:
    t_mono: np.ndarray
    t_wall: np.ndarray
    web_position_m: np.ndarray
    values: np.ndarray
    quality: np.ndarray


class ArraySource:
    """A ``SampleSource`` over columns in memory (a short run, a test)."""

    def __init__(self, rows: Rows) -> None:
        self._r = rows
        t = np.asarray(rows.t_mono, np.float64)
        w = np.asarray(rows.web_position_m, np.float64)
        # Running maxima: the first row at or past x is a binary search, even where
        # the values do not increase (a NaN position counts as below every metre).
        self._t_max = np.maximum.accumulate(np.where(np.isnan(t), -np.inf, t)) if len(t) else t
        self._w_max = np.maximum.accumulate(np.where(np.isnan(w), -np.inf, w)) if len(w) else w

    @property
    def rows(self) -> int:
        return len(self._t_max)

    @property
    def t_first(self) -> float:
        return float(self._r.t_mono[0]) if self.rows else math.inf

    @property
    def t_last(self) -> float:
        return float(self._t_max[-1]) if self.rows else -math.inf

    def row_at_time(self, t: float) -> int:
        return int(np.searchsorted(self._t_max, t, "left"))

    def row_after_time(self, t: float) -> int:
        return int(np.searchsorted(self._t_max, t, "right"))

    def rows_after_times(self, times: np.ndarray) -> np.ndarray:
        return np.searchsorted(self._t_max, np.asarray(times, np.float64), "right")

    def row_at_metre(self, metre: float) -> int | None:
        i = int(np.searchsorted(self._w_max, metre, "left"))
        return i if i < self.rows else None

    def _take(self, sel: slice | np.ndarray) -> ArrayRows:
        r = self._r
        return ArrayRows(
            r.t_mono[sel], r.t_wall[sel], r.web_position_m[sel], r.values[sel], r.quality[sel]
        )

    def read(self, start: int, stop: int) -> ArrayRows:
        return self._take(slice(max(0, start), max(0, stop)))

    def read_window(self, t0: float, t1: float) -> ArrayRows:
        t = self._r.t_mono
        return self._take(np.flatnonzero((t >= t0) & (t < t1)))


@dataclass(frozen=True)
class RowsDue:
    """Consecutive rows of the run from row ``first`` on, due together (a batch the
    source could not read back, which it reports, is missing from them)."""

    first: int
    rows: Rows


Due = RowsDue | LoggedEvent


def _finite(name: str, x: float) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"{name} must be a number, not {x!r}") from exc
    if not math.isfinite(v):
        raise InvalidArgument(f"{name} must be a finite number, not {x!r}")
    return v


def check_speed(speed: float) -> float:
    """``speed`` as a float if it is a replay speed (0.1x to 1000x), else
    ``InvalidSpeed`` naming the window."""
    try:
        v = float(speed)
    except (TypeError, ValueError) as exc:
        raise InvalidSpeed(f"speed must be a number from 0.1x to 1000x, not {speed!r}") from exc
    if not math.isfinite(v):
        raise InvalidSpeed(f"speed must be a finite number from 0.1x to 1000x, not {speed!r}")
    if not MIN_SPEED <= v <= MAX_SPEED:
        raise InvalidSpeed(f"speed {speed!r} is outside 0.1x to 1000x")
    return v


class Player:
    """Replays ``source``'s rows and ``events`` from the start of the timeline.

    ``now``: the time of the start (the first item is due at once unless
    ``paused``)."""

    def __init__(
        self,
        source: SampleSource,
        events: Sequence[LoggedEvent],
        now: float,
        *,
        speed: float = 1.0,
        paused: bool = False,
    ) -> None:
        self.source = source
        self.events = tuple(events)
        self._ev_t = np.array([e.t_mono for e in self.events], np.float64)
        # Samples before each event in the merge: every row at or before its time,
        # and never fewer than before the event above it (the log's order is kept).
        before = source.rows_after_times(self._ev_t).astype(np.int64)
        self._before = np.maximum.accumulate(before) if len(before) else before
        self._ev_pos = self._before + np.arange(len(self.events), dtype=np.int64)
        self._speed = check_speed(speed)
        self._now = _finite("now", now)
        self._k = 0  # next row
        self._j = 0  # next event
        first = [float(self._ev_t[0])] if len(self.events) else []
        if source.rows:
            first.append(source.t_first)
        self._anchor_t = min(first) if first else 0.0
        self._anchor_now = self._now
        self._paused = paused

    # ------------------------------------------------------------------ state
    @property
    def speed(self) -> float:
        return self._speed

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def next_row(self) -> int:
        return self._k

    @property
    def next_event(self) -> int:
        return self._j

    @property
    def finished(self) -> bool:
        return self._k >= self.source.rows and self._j >= len(self.events)

    def _tick(self, now: float) -> float:
        v = _finite("now", now)
        if v < self._now:
            raise InvalidArgument(f"now went back: {now!r} after {self._now!r}")
        self._now = v
        return v

    def replay_time(self, now: float) -> float:
        """The recorded time the replay is at, at ``now``."""
        now = self._tick(now)
        if self._paused:
            return self._anchor_t
        return self._anchor_t + (now - self._anchor_now) * self._speed

    def _anchor(self, now: float) -> None:
        self._anchor_t = self.replay_time(now)
        self._anchor_now = self._now

    # ------------------------------------------------------------------ controls
    def pause(self, now: float) -> None:
        self._anchor(now)
        self._paused = True

    def resume(self, now: float) -> None:
        self._anchor(now)
        self._paused = False

    def set_speed(self, speed: float, now: float) -> None:
        v = check_speed(speed)
        self._anchor(now)
        self._speed = v

    def _event_next(self) -> bool:
        return self._j < len(self.events) and int(self._before[self._j]) <= self._k

    def _goto(self, pos: int) -> None:
        """Put the cursor at merged position ``pos``."""
        self._j = int(np.searchsorted(self._ev_pos, pos, "left"))
        self._k = pos - self._j

    def _end(self) -> int:
        return self.source.rows + len(self.events)

    def seek_time(self, t: float, now: float) -> None:
        t = _finite("t", t)
        self._tick(now)
        k = self.source.row_at_time(t)
        # A sample's position in the merge: the row, plus the events before it.
        pos_k = k + int(np.searchsorted(self._before, k, "right"))
        later = np.flatnonzero(self._ev_t >= t)
        pos_e = int(self._ev_pos[later[0]]) if later.size else self._end()
        pos = min(pos_k, pos_e)
        if pos >= self._end():
            raise SeekOutOfRange(f"nothing of the run at or after t={t!r} {self._span()}")
        self._goto(pos)
        self._anchor_t, self._anchor_now = t, self._now

    def seek_metre(self, metre: float, now: float) -> None:
        metre = _finite("metre", metre)
        self._tick(now)
        k = self.source.row_at_metre(metre)
        if k is None:
            raise SeekOutOfRange(f"the web never reached {metre!r} m in this run")
        row = self.source.read(k, k + 1)
        if not len(row.t_mono):  # found, then not read back: the source reports why
            raise SeekOutOfRange(f"row {k} of the run, at {metre!r} m, cannot be read back")
        self._goto(k + int(np.searchsorted(self._before, k, "right")))
        self._anchor_t, self._anchor_now = float(row.t_mono[0]), self._now

    def _span(self) -> str:
        rows = self.source.rows
        if not rows and not len(self.events):
            return "(the run is empty)"
        ends = [float(self._ev_t.max())] if len(self.events) else []
        if rows:
            ends.append(self.source.t_last)
        return f"(its last item is at t={max(ends)!r})"

    # ------------------------------------------------------------------ output
    def due(self, now: float) -> list[Due]:
        """Every item not yet returned whose time is at or before the replay time,
        in recorded order."""
        t = self.replay_time(now)
        out: list[Due] = []
        rows = self.source.rows
        while True:
            if self._event_next():
                if self._ev_t[self._j] > t:
                    break
                out.append(self.events[self._j])
                self._j += 1
                continue
            if self._k >= rows:
                break
            limit = int(self._before[self._j]) if self._j < len(self.events) else rows
            stop = min(limit, self.source.row_after_time(t))
            if stop <= self._k:
                break
            out.append(RowsDue(self._k, self.source.read(self._k, stop)))
            self._k = stop
        return out

    def step(self, now: float) -> list[Due]:
        """Pause, then return the events before the next sample and that sample (the
        rest of the events if no sample is left: they all come before the end); the
        replay time moves to the last returned item's time if it is later."""
        self.pause(now)
        out: list[Due] = []
        while self._event_next():
            out.append(self.events[self._j])
            self._anchor_t = max(self._anchor_t, float(self._ev_t[self._j]))
            self._j += 1
        if self._k < self.source.rows:
            rows = self.source.read(self._k, self._k + 1)
            out.append(RowsDue(self._k, rows))
            self._k += 1
            if len(rows.t_mono):
                self._anchor_t = max(self._anchor_t, float(rows.t_mono[0]))
        return out

    def trend_window(self, span_s: float, now: float) -> Rows:
        """The rows of the ``span_s`` recorded seconds before the replay time (what a
        trend shows after a seek)."""
        span = _finite("span_s", span_s)
        if span < 0:
            raise InvalidArgument(f"span_s must not be negative, not {span_s!r}")
        t = self.replay_time(now)
        return self.source.read_window(t - span, t)
