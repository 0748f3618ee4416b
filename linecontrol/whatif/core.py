"""What-if (pure): a logged run through the alarm engine again, on a virtual clock.

``evaluate(definitions, run)`` feeds the run's sampled rows, in order and at their
logged times, through the same pure engine (``linecontrol.alarms.step``) the
supervisor ran, with the context the supervisor logged (``AlarmInputs``, made an
``AlarmContext`` by ``linecontrol.alarms.context_of`` for these definitions) and the
operator's alarm commands (``linecontrol.alarms.act``) at the steps they were taken
in, before that step's evaluation, as the supervisor takes them. A row the supervisor
never stepped (before its first step, or one it skipped while busy: ``RowsSkipped``)
is not fed. Timers are deadlines on the row times, so the same run and definitions
give the same journal every time.

A journal is the list of label changes (``Transition``) with their times and the web
position of their row. ``compare`` diffs two journals; ``measures`` gives the EEMUA 191
measures of one. No I/O: ``linecontrol.whatif.load`` reads a run directory.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from linecontrol import alarms as engine
from linecontrol.config import AlarmDefinition
from linecontrol.model import (
    AlarmChanged,
    AlarmCommand,
    AlarmInputs,
    AlarmRaised,
    Event,
    Sample,
)

# The labels in which an alarm's condition is present and shown (a standing alarm).
ACTIVE_LABELS = frozenset({"UNACK", "ACKED"})


@dataclass(frozen=True)
class Transition:
    """One label change of one alarm: at ``t`` (the step's time, monotonic seconds on the
    line's clock), from ``old`` to ``new``, why (``cause``), by whom (an operator's
    command), and where the web was (``web_position_m``, None when unknown)."""

    t: float
    alarm: str
    old: str
    new: str
    cause: str
    by: str = ""
    web_position_m: float | None = None

    @property
    def raised(self) -> bool:
        """An annunciation: the alarm became unacknowledged-active (``UNACK``)."""
        return self.new == "UNACK"

    def key(self) -> tuple[float, str, str, str, str]:
        """What two journals must agree on for this transition to be the same."""
        return (self.t, self.alarm, self.old, self.new, self.cause)

    def as_dict(self) -> dict[str, Any]:
        return {
            "t": self.t,
            "alarm": self.alarm,
            "old": self.old,
            "new": self.new,
            "cause": self.cause,
            "by": self.by,
            "web_position_m": self.web_position_m,
        }


@dataclass(frozen=True)
class Rows:
    """A run's sampled rows: ``t`` (n), ``web_position_m`` (n), ``values`` and
    ``quality`` (n x channels), ``channels`` the names of the columns."""

    channels: Sequence[str]
    t: np.ndarray
    web_position_m: np.ndarray
    values: np.ndarray
    quality: np.ndarray


@dataclass(frozen=True)
class Logged:
    """What the run log says the supervisor did besides the samples, each at the time
    of its step (``t_step``): the context it gave the engine (``inputs``), the alarm
    commands it accepted (``actions``), in log order, and the rows it skipped
    (``skipped``: (time of the step after them, how many))."""

    inputs: Sequence[tuple[float, AlarmInputs]] = ()
    actions: Sequence[tuple[float, AlarmCommand]] = ()
    skipped: Sequence[tuple[float, int]] = ()


@dataclass
class Result:
    journal: list[Transition] = field(default_factory=list)
    rejected: list[tuple[float, str]] = field(default_factory=list)  # (t, reason)
    rows: int = 0  # rows fed to the engine
    start: float = math.nan  # the first and last row fed
    end: float = math.nan
    final: dict[str, str] = field(default_factory=dict)  # alarm -> label at the end


def transitions_of(events: Iterable[Event], t: float, web: float | None) -> list[Transition]:
    out = []
    for e in events:
        if isinstance(e, AlarmRaised | AlarmChanged):
            out.append(Transition(t, e.alarm, e.old, e.new, e.cause, e.by, web))
    return out


def _stepped(rows: Rows, logged: Logged) -> np.ndarray:
    """Which rows the supervisor stepped: from its first logged context on, less the
    rows it skipped (the ``count`` rows just before the step that reported them)."""
    n = len(rows.t)
    mask = np.ones(n, dtype=bool)
    if logged.inputs:
        first = logged.inputs[0][0]
        mask[: int(np.searchsorted(rows.t, first, side="left"))] = False
    for t, count in logged.skipped:
        at = int(np.searchsorted(rows.t, t, side="left"))
        mask[max(0, at - count) : at] = False
    return mask


def used_channels(definitions: Mapping[str, AlarmDefinition]) -> list[str]:
    """Every channel a definition reads (its channel and its setpoint channel)."""
    out: dict[str, None] = {}
    for d in definitions.values():
        out[d.channel] = None
        if d.setpoint is not None:
            out[d.setpoint] = None
    return list(out)


def with_recipe(
    logged: Logged,
    needed: Iterable[str],
    setpoints: Mapping[str, float],
    limits: Mapping[str, float],
) -> Logged:
    """``logged`` with another recipe's windows: in every context logged while a
    recipe was loaded, its needed devices, setpoints and limits are the other recipe's
    (an operator's change to a setpoint in the run is not kept); the state, the grace
    and the ovens holding air (those of its O2 channels) stay as logged."""
    need = tuple(sorted(needed))
    o2 = set(limits)
    out = []
    for t, inp in logged.inputs:
        if inp.recipe:
            inp = inp.model_copy(
                update={
                    "needed": need,
                    "setpoints": dict(setpoints),
                    "limits": dict(limits),
                    "airy": tuple(c for c in inp.airy if c in o2),
                }
            )
        out.append((t, inp))
    return Logged(out, logged.actions, logged.skipped)


def evaluate(definitions: Mapping[str, AlarmDefinition], rows: Rows, logged: Logged) -> Result:
    """The alarm journal of ``definitions`` over the logged run (see the module
    docstring). Only the channels the definitions read are handed to the engine (a
    channel the run does not have stays absent, as it was to the supervisor: a
    communication loss for a ``comm_loss`` alarm, no value for the others)."""
    res = Result()
    defs = dict(definitions)
    names = list(rows.channels)
    where = {c: i for i, c in enumerate(names)}
    used = [c for c in used_channels(defs) if c in where]
    cols = [where[c] for c in used]
    index = {c: i for i, c in enumerate(used)}
    values = np.ascontiguousarray(rows.values[:, cols], dtype=np.float64)
    quality = np.ascontiguousarray(rows.quality[:, cols])
    mask = _stepped(rows, logged)
    state: dict[str, engine.AlarmState] = engine.initial(defs)
    ctx_list = list(logged.inputs)
    acts = list(logged.actions)
    ci = ai = 0
    ctx = engine.AlarmContext()
    web = rows.web_position_m
    times = rows.t
    journal = res.journal
    for i in np.flatnonzero(mask).tolist():
        now = float(times[i])
        w = float(web[i])
        wpos = w if math.isfinite(w) else None
        while ai < len(acts) and acts[ai][0] <= now:
            t_cmd, cmd = acts[ai]
            ai += 1
            out = engine.act(defs, state, cmd, now)
            if isinstance(out, engine.Rejected):
                res.rejected.append((t_cmd, out.reason))
                continue
            state, evs = out
            journal.extend(transitions_of(evs, now, wpos))
        changed = False
        while ci < len(ctx_list) and ctx_list[ci][0] <= now:
            changed = True
            ci += 1
        if changed:
            ctx = engine.context_of(defs, ctx_list[ci - 1][1])
        sample = Sample(now, index, values[i], quality[i], w)
        state, evs = engine.step(defs, state, sample, now, ctx)
        if evs:
            journal.extend(transitions_of(evs, now, wpos))
        if res.rows == 0:
            res.start = now
        res.end = now
        res.rows += 1
    res.final = {k: s.label for k, s in state.items()}
    return res


# ------------------------------------------------------------------ comparison
@dataclass(frozen=True)
class Moved:
    alarm: str
    nth: int  # 1 for the alarm's first annunciation
    t_from: float
    t_to: float

    @property
    def shift_s(self) -> float:
        return self.t_to - self.t_from


@dataclass
class Comparison:
    """Annunciations (``Transition.raised``) of journal ``b`` against ``a``, matched by
    alarm id and order (an alarm's n-th in ``b`` against its n-th in ``a``): ``added``
    (in ``b`` only), ``removed`` (in ``a`` only), ``moved`` (both, at another time), and
    how many are the same. ``identical``: the whole journals (every transition, its
    alarm, labels, cause and time) are equal."""

    added: list[Transition] = field(default_factory=list)
    removed: list[Transition] = field(default_factory=list)
    moved: list[Moved] = field(default_factory=list)
    same: int = 0
    identical: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "identical": self.identical,
            "same": self.same,
            "added": [t.as_dict() for t in self.added],
            "removed": [t.as_dict() for t in self.removed],
            "moved": [
                {
                    "alarm": m.alarm,
                    "nth": m.nth,
                    "t_from": m.t_from,
                    "t_to": m.t_to,
                    "shift_s": m.shift_s,
                }
                for m in self.moved
            ],
        }


def compare(a: Sequence[Transition], b: Sequence[Transition]) -> Comparison:
    out = Comparison(identical=[t.key() for t in a] == [t.key() for t in b])
    by_a: dict[str, list[Transition]] = {}
    by_b: dict[str, list[Transition]] = {}
    for t in a:
        if t.raised:
            by_a.setdefault(t.alarm, []).append(t)
    for t in b:
        if t.raised:
            by_b.setdefault(t.alarm, []).append(t)
    for alarm in sorted(set(by_a) | set(by_b)):
        xs, ys = by_a.get(alarm, []), by_b.get(alarm, [])
        for n, (x, y) in enumerate(zip(xs, ys, strict=False), start=1):
            if x.t == y.t:
                out.same += 1
            else:
                out.moved.append(Moved(alarm, n, x.t, y.t))
        out.removed.extend(xs[len(ys) :])
        out.added.extend(ys[len(xs) :])
    out.added.sort(key=lambda t: (t.t, t.alarm))
    out.removed.sort(key=lambda t: (t.t, t.alarm))
    out.moved.sort(key=lambda m: (m.t_from, m.alarm))
    return out


# ------------------------------------------------------------------ EEMUA 191
WINDOW_S = 600.0  # the rate's and the flood's window: 10 minutes
FLOOD_ABOVE = 10  # a flood: more than this many alarms per operator in the window
CHATTER_WINDOW_S = 60.0
CHATTER_AT = 3  # chattering: at least this many annunciations of one alarm in the window
STANDING_S = 24 * 3600.0
TOP_N = 10


@dataclass(frozen=True)
class Flood:
    start: float  # the annunciation that made the window's count exceed the limit
    end: float  # when the count fell back to the limit (an annunciation leaving it)
    peak: int  # the most annunciations in a window during it (per operator)
    alarms: int  # annunciations from its start to its end

    @property
    def duration_s(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Standing:
    alarm: str
    since: float
    duration_s: float
    rule: str  # "active longer than 24 h" or "active at the end of the run"


@dataclass
class Measures:
    alarms: int = 0  # annunciations
    duration_s: float = 0.0
    operators: int = 1
    rate_avg: float = 0.0  # per 10 minutes per operator
    rate_peak: float = 0.0  # the most in any 10-minute window, per operator
    floods: list[Flood] = field(default_factory=list)
    chattering: dict[str, int] = field(default_factory=dict)  # alarm -> most in 60 s
    standing: list[Standing] = field(default_factory=list)
    top: list[tuple[str, int]] = field(default_factory=list)

    @property
    def flood_s(self) -> float:
        return sum(f.duration_s for f in self.floods)

    def as_dict(self) -> dict[str, Any]:
        return {
            "alarms": self.alarms,
            "duration_s": self.duration_s,
            "operators": self.operators,
            "rate_per_10min_avg": self.rate_avg,
            "rate_per_10min_peak": self.rate_peak,
            "floods": [
                {
                    "start": f.start,
                    "end": f.end,
                    "duration_s": f.duration_s,
                    "peak": f.peak,
                    "alarms": f.alarms,
                }
                for f in self.floods
            ],
            "flood_s": self.flood_s,
            "chattering": self.chattering,
            "standing": [
                {"alarm": s.alarm, "since": s.since, "duration_s": s.duration_s, "rule": s.rule}
                for s in self.standing
            ],
            "top": [{"alarm": a, "count": n} for a, n in self.top],
        }


def _window_counts(times: Sequence[float], window: float) -> list[int]:
    """For each time (sorted), how many of the times are in the window ending at it,
    ``(t - window, t]``."""
    out = []
    j = 0
    for i, t in enumerate(times):
        while times[j] <= t - window:
            j += 1
        out.append(i - j + 1)
    return out


def _floods(times: Sequence[float], limit: float, end: float) -> list[Flood]:
    """Floods over annunciation ``times`` (sorted): a flood starts at the annunciation
    that makes the count in the trailing window exceed ``limit`` and ends when an
    annunciation leaves the window (at its time + the window) and the count is back at
    or below ``limit``, or at ``end``."""
    floods: list[Flood] = []
    # The count changes at entries (t, +1) and exits (t + WINDOW_S, -1); an exit at the
    # same time as an entry goes first (the window is half-open at its start).
    changes = sorted([(t, 1) for t in times] + [(t + WINDOW_S, -1) for t in times],
                     key=lambda x: (x[0], x[1]))  # fmt: skip
    count = 0
    start: float | None = None
    peak = 0
    alarms = 0
    for t, d in changes:
        if t > end and start is None:
            break
        count += d
        if start is None:
            if count > limit:
                start, peak, alarms = t, count, count
        else:
            if d > 0:
                alarms += 1
                peak = max(peak, count)
            if count <= limit or t >= end:
                floods.append(Flood(start, min(t, end), peak, alarms))
                start = None
    if start is not None:
        floods.append(Flood(start, end, peak, alarms))
    return floods


def measures(
    journal: Sequence[Transition], start: float, end: float, operators: int = 1
) -> Measures:
    """The EEMUA 191 measures of a journal over [``start``, ``end``] (see the README,
    "What-if": the definitions)."""
    if operators < 1:
        raise ValueError(f"operators = {operators}: at least 1")
    m = Measures(operators=operators, duration_s=max(0.0, end - start))
    raised = sorted((t for t in journal if t.raised), key=lambda t: t.t)
    times = [t.t for t in raised]
    m.alarms = len(raised)
    windows = max(m.duration_s / WINDOW_S, 1.0)
    m.rate_avg = m.alarms / windows / operators
    counts = _window_counts(times, WINDOW_S)
    m.rate_peak = max(counts, default=0) / operators
    m.floods = _floods(times, FLOOD_ABOVE * operators, end)
    by_alarm: dict[str, list[float]] = {}
    for r in raised:
        by_alarm.setdefault(r.alarm, []).append(r.t)
    for alarm, ts in sorted(by_alarm.items()):
        # At least CHATTER_AT within CHATTER_WINDOW_S: the first and the last of them
        # at most the window apart.
        most = 0
        j = 0
        for i, at in enumerate(ts):
            while at - ts[j] > CHATTER_WINDOW_S:
                j += 1
            most = max(most, i - j + 1)
        if most >= CHATTER_AT:
            m.chattering[alarm] = most
    m.top = sorted(((a, len(ts)) for a, ts in by_alarm.items()), key=lambda x: (-x[1], x[0]))[
        :TOP_N
    ]
    since: dict[str, float] = {}
    longest: dict[str, tuple[float, float]] = {}
    for tr in sorted(journal, key=lambda x: x.t):
        if tr.new in ACTIVE_LABELS and tr.alarm not in since:
            since[tr.alarm] = tr.t
        elif tr.new not in ACTIVE_LABELS and tr.alarm in since:
            s = since.pop(tr.alarm)
            if tr.t - s > STANDING_S and tr.t - s > longest.get(tr.alarm, (0.0, 0.0))[1]:
                longest[tr.alarm] = (s, tr.t - s)
    for alarm, (s, d) in sorted(longest.items()):
        m.standing.append(Standing(alarm, s, d, "active longer than 24 h"))
    for alarm, s in sorted(since.items()):
        rule = "active longer than 24 h" if end - s > STANDING_S else "active at the end of the run"
        m.standing.append(Standing(alarm, s, end - s, rule))
    return m
