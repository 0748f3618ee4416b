"""The client's mirror of the line: the stream's messages applied to a plain state (pure).

The local API's stream (docs/api.md) sends a ``full`` state first, then ``values``,
``status``, ``event``, ``heartbeat`` and ``resync`` messages, each with a ``seq`` that
grows by one per message of the connection. ``LineView.apply`` folds one message into
the view; nothing here does I/O or reads a clock: the caller passes ``now`` (its own
monotonic seconds) with each message and when it asks for the connection's state.

Rules, in the order ``apply`` checks them:

- A message that is not an object with a string ``type`` and an integer ``seq`` is
  malformed: the view needs a resync (``needs_resync``, ``resync_reason`` says why).
- ``full`` replaces everything and restarts the count at its ``seq``; it is the only
  message that ends a resync.
- Before the first ``full``, and while a resync is pending, every other message is
  counted as seen (the connection is alive) and otherwise ignored: applying a change to
  a state that may have missed an earlier one could show a wrong value as good.
- A ``seq`` other than the last one plus one is a gap: something was lost, the view
  needs a resync (the client opens a fresh stream, which starts with a ``full``).
- ``resync`` from the server (its queue for this client overflowed): a resync is pending
  until the ``full`` the server sends next.
- ``values``: per channel the latest wins; a value that is null or not a finite number
  is kept as ``None`` and, if its quality says GOOD, the quality becomes INVALID, so a
  missing number is never shown as a good one.
- ``status``: the supervisor's status and the control holder replace the old ones.
- ``event``: appended in order (the last ``MAX_EVENTS`` kept); an alarm transition
  (``AlarmRaised``, ``AlarmChanged``) also updates that alarm's entry; a
  ``RecipeLoaded`` needs a resync (the new recipe's bands come only in a full state),
  and the stream's close that follows is shown resyncing, not lost; one the full state
  counts already (its ``seq`` at most the state's ``run.events``) needs none.
- ``heartbeat`` and unknown types: seen, nothing else (a newer server's types are
  ignored, not fatal).

The connection (``connection(now)``): ``connecting`` before the first ``full``,
``lost`` once nothing has come for ``HEARTBEAT_LOST_S`` (3 s: heartbeats come every
second) or after ``disconnected`` (but for the close the view asked for to have a new
recipe's bands), ``resyncing`` while a resync is pending, else ``live``. A number is
taken only finite (``finite``: an int past a float's range is none, never an error).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

HEARTBEAT_LOST_S = 3.0
"""Nothing seen for this long: the connection is shown lost (heartbeats come every 1 s)."""

MAX_EVENTS = 500
"""The events kept (the newest) for the screens."""

QUALITIES = ("GOOD", "STALE", "INVALID", "WAITING")

Connection = Literal["connecting", "live", "resyncing", "lost"]

ALARM_EVENTS = ("AlarmRaised", "AlarmChanged")


@dataclass(frozen=True)
class Sample:
    """One channel's latest value: ``value`` is None when there is no number to show
    (null or not finite on the wire), and then ``quality`` is never GOOD."""

    value: float | None
    quality: str
    t_wall: float | None

    @property
    def good(self) -> bool:
        return self.quality == "GOOD" and self.value is not None


def finite(value: Any) -> float | None:
    """A number (not a boolean) as a finite float, or None: NaN, an infinity, an int past
    a float's range (``math.isfinite`` of it raises ``OverflowError``: a decoder other
    than the client's may hand one over) and every other type."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def sample_from_wire(raw: Any) -> Sample:
    """``[value | null, quality, t_wall]`` -> ``Sample``. Anything else is INVALID with
    no value (``ValueError`` is never raised: one bad channel spoils only itself)."""
    if not isinstance(raw, list | tuple) or len(raw) != 3:
        return Sample(None, "INVALID", None)
    value, quality, t_wall = raw
    number = finite(value)
    if not isinstance(quality, str) or quality not in QUALITIES:
        quality = "INVALID"
    if number is None and quality == "GOOD":
        quality = "INVALID"
    return Sample(number, quality, finite(t_wall))


def _dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


@dataclass
class LineView:
    """The line as the client last heard it. Mutated by ``apply``; read by the screens."""

    state: dict[str, Any] | None = None
    """The last ``full`` state as sent (``values``, ``supervisor``, ``control``,
    ``alarms`` are kept in their own fields below and kept current there)."""
    values: dict[str, Sample] = field(default_factory=dict)
    supervisor: dict[str, Any] = field(default_factory=dict)
    control: dict[str, Any] = field(default_factory=dict)
    alarms: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=MAX_EVENTS))
    seq: int | None = None
    needs_resync: bool = False
    resync_reason: str = ""
    resyncs: int = 0
    last_seen: float | None = None
    closed_reason: str = ""
    messages: int = 0
    server_time: float | None = None
    """The server's clock (its line clock: ``server_time`` of the last ``full``, then the
    latest ``t`` of the heartbeat and values messages since; it never goes back within
    one state), for durations on the line's clock."""
    events_since_full: int = 0
    """How many of ``events`` (the newest) came after the last ``full``: what the full
    state's counts do not hold yet (the events before it may be another run's, of a
    server since restarted, whose event numbers began again)."""
    reloading: bool = False
    """The view asked for a fresh full state to have a new recipe's bands (the client
    closes the stream for it): that close is a resync, not a loss (``disconnected``)."""
    changed: int = 0
    """Bumped whenever what the screens show may have changed (so a repaint can skip
    an unchanged view)."""

    # ---------------------------------------------------------------- applying
    def apply(self, message: Any, now: float) -> None:
        """Fold one stream message (decoded JSON) into the view, seen at ``now``."""
        self.messages += 1
        self.last_seen = now
        self.closed_reason = ""
        if not isinstance(message, dict):
            self._resync(f"malformed message: not an object ({type(message).__name__})")
            return
        kind, seq = message.get("type"), message.get("seq")
        if not isinstance(kind, str) or not isinstance(seq, int) or isinstance(seq, bool):
            self._resync("malformed message: no string 'type' and integer 'seq'")
            return
        if kind == "full":
            self._full(message, seq)
            return
        if self.seq is None or self.needs_resync:
            if self.seq is not None:
                self.seq = seq
            return
        if seq != self.seq + 1:
            self._resync(f"sequence gap: expected {self.seq + 1}, got {seq}")
            return
        self.seq = seq
        self._clock(message.get("t"))
        if kind == "resync":
            reason = message.get("reason")
            self._resync(f"server: {reason}" if isinstance(reason, str) else "server asked")
        elif kind == "values":
            self._values(message.get("values"))
        elif kind == "status":
            if isinstance(message.get("supervisor"), dict):
                self.supervisor = dict(message["supervisor"])
            if isinstance(message.get("control"), dict):
                self.control = dict(message["control"])
            self.changed += 1
        elif kind == "event":
            self._event(message.get("event"))

    def disconnected(self, reason: str) -> None:
        """The stream ended (closed, refused, timed out): shown lost at once; the state
        is kept for show, marked stale by the connection, until a fresh ``full``. The
        close the view asked for to have a new recipe's bands (``reloading``) is shown
        resyncing, not lost (the header said CONNECTION LOST at every recipe load);
        the next close, a fresh stream that failed, is a loss."""
        if self.reloading and self.state is not None:
            self.reloading = False
            self.needs_resync = True
            self.changed += 1
            return
        self.closed_reason = reason or "disconnected"
        self.needs_resync = self.state is not None
        self.resync_reason = self.closed_reason
        self.changed += 1

    def _resync(self, reason: str) -> None:
        if not self.needs_resync:
            self.resyncs += 1
        self.needs_resync = True
        self.resync_reason = reason
        self.changed += 1

    def _full(self, message: dict[str, Any], seq: int) -> None:
        state = message.get("state")
        if not isinstance(state, dict):
            self._resync("malformed full message: no 'state' object")
            return
        self.state = dict(state)
        self.values = {}
        self._values(state.get("values"))
        self.supervisor = _dict(state.get("supervisor"))
        self.control = _dict(state.get("control"))
        self.alarms = {}
        alarms = state.get("alarms")
        for alarm in alarms if isinstance(alarms, list) else []:
            if isinstance(alarm, dict) and isinstance(alarm.get("name"), str):
                self.alarms[alarm["name"]] = dict(alarm)
        self.seq = seq
        self.events_since_full = 0
        self.reloading = False
        self.server_time = None
        self._clock(state.get("server_time"))
        self.needs_resync = False
        self.resync_reason = ""
        self.changed += 1

    def _clock(self, raw: Any) -> None:
        t = finite(raw)
        if t is None:
            return
        if self.server_time is None or t > self.server_time:
            self.server_time = t
            self.changed += 1  # a duration on the line's clock is shown

    def _values(self, values: Any) -> None:
        if not isinstance(values, dict):
            return
        for name, raw in values.items():
            if isinstance(name, str):
                self.values[name] = sample_from_wire(raw)
        self.changed += 1

    def _event(self, envelope: Any) -> None:
        if not isinstance(envelope, dict):
            return
        self.events.append(envelope)
        self.events_since_full = min(self.events_since_full + 1, MAX_EVENTS)
        self.changed += 1
        if envelope.get("type") == "RecipeLoaded":
            # else the full state has its bands already, or is a replay's (no bands)
            if not self._counted(envelope) and (self.state or {}).get("mode") != "replay":
                self._resync("a recipe was loaded: its bands come in a fresh full state")
                self.reloading = True
            return
        data = envelope.get("data")
        if envelope.get("type") not in ALARM_EVENTS or not isinstance(data, dict):
            return
        name = data.get("alarm")
        if not isinstance(name, str):
            return
        entry = self.alarms.setdefault(name, {"name": name})
        entry["state"] = data.get("new", entry.get("state"))
        for key, wire in (("priority", "priority"), ("class", "alarm_class")):
            if wire in data:
                entry[key] = data[wire]
        if "value" in data:
            entry["value"] = finite(data["value"])
        if envelope.get("type") == "AlarmRaised" or "since" not in entry:
            entry["since"] = envelope.get("t_wall")

    def _counted(self, envelope: dict[str, Any]) -> bool:
        """Whether the last full state counts this event already (its ``seq`` is at most
        the state's ``run.events``): a server that sends it again after its full (a
        replay) would have the view resync for its recipe's bands for ever."""
        run = self.state.get("run") if self.state else None
        base = run.get("events") if isinstance(run, dict) else None
        seq = envelope.get("seq")
        if not isinstance(base, int) or not isinstance(seq, int):
            return False
        return not isinstance(base, bool) and not isinstance(seq, bool) and seq <= base

    # ---------------------------------------------------------------- reading
    def connection(self, now: float) -> Connection:
        if self.closed_reason:
            return "lost"
        if self.last_seen is not None and now - self.last_seen > HEARTBEAT_LOST_S:
            return "lost"
        if self.state is None:
            return "connecting"
        if self.needs_resync:
            return "resyncing"
        return "live"

    def sample(self, channel: str) -> Sample:
        """The channel's latest value; WAITING with no value if none has come."""
        return self.values.get(channel, Sample(None, "WAITING", None))

    @property
    def allowed(self) -> frozenset[str]:
        """The commands the supervisor last said it allows; none while the view may be
        out of date (a resync pending, the stream closed). Heartbeat loss needs ``now``:
        the caller checks ``connection(now)``."""
        allowed = self.supervisor.get("allowed")
        if not isinstance(allowed, list) or self.needs_resync or self.closed_reason:
            return frozenset()
        return frozenset(a for a in allowed if isinstance(a, str))

    def active_alarms(self) -> list[dict[str, Any]]:
        """Alarms not in NORM and not suppressed by design (DSUPR: the state the line is
        in makes them meaningless, ISA-18.2; ``suppressed_alarms`` counts them):
        unacknowledged first, then by priority, then oldest first."""
        order = {"urgent": 0, "high": 1, "medium": 2, "low": 3}

        def key(a: dict[str, Any]) -> tuple[int, int, float]:
            state = str(a.get("state", ""))
            unack = 0 if state.endswith("UNACK") or state == "RTNUN" else 1
            t = finite(a.get("since")) or 0.0
            return (unack, order.get(str(a.get("priority", "")).lower(), 4), t)

        shown = (a for a in self.alarms.values() if a.get("state") not in ("NORM", "DSUPR"))
        return sorted(shown, key=key)

    def suppressed_alarms(self) -> int:
        """How many alarms are suppressed by design (DSUPR) now."""
        return sum(1 for a in self.alarms.values() if a.get("state") == "DSUPR")
