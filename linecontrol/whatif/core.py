"""What-if (pure): a logged run through the alarm engine again, on a virtual clock.

``evaluate(definitions, run)`` feeds the run's sampled rows, in order and at their
logged times, through the same pure engine (``linecontrol.alarms.step``) the
supervisor ran, with the context the supervisor logged (``AlarmInputs``, made an
``AlarmContext`` by ``linecontrol.alarms.context_of`` for these definitions) and the
operator's alarm commands (``linecontrol.alarms.act``) at the steps they were taken
in, before that step's evaluation, as the supervisor takes them, starting from the
states it booted with (``AlarmStatesKept``). A row the supervisor never stepped (before
its first step, after its last, ``SupervisorStopped``, or one it skipped while busy,
``RowsSkipped``) is not fed. Timers are deadlines on the row times, so the same run and
definitions give the same journal every time.

A journal is the list of label changes (``Transition``) with their times and the web
position of their row. ``compare`` diffs two journals; ``measures`` gives the EEMUA 191
measures of one. No I/O: ``linecontrol.whatif.load`` reads a run directory.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from linecontrol import alarms as engine
from linecontrol.config import AlarmDefinition
from linecontrol.errors import InvalidArgument
from linecontrol.model import (
    AlarmChanged,
    AlarmCommand,
    AlarmInputs,
    AlarmRaised,
    AlarmStatesKept,
    Event,
    Quality,
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
    commands it accepted (``actions``), in log order, the rows it skipped
    (``skipped``: (time of the step after them, how many)) and the alarm states it
    booted with, kept from the run before (``kept``; None: it started from normal), and
    the time of its last step (``last_step``)."""

    inputs: Sequence[tuple[float, AlarmInputs]] = ()
    actions: Sequence[tuple[float, AlarmCommand]] = ()
    skipped: Sequence[tuple[float, int]] = ()
    kept: AlarmStatesKept | None = None  # the states the supervisor booted with
    last_step: float | None = None  # the supervisor's last step (None: not logged)


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
    """Which rows the supervisor stepped: from its first logged context to its last
    step, less the rows it skipped (the ``count`` rows just before the step that
    reported them)."""
    n = len(rows.t)
    mask = np.ones(n, dtype=bool)
    if logged.inputs:
        first = logged.inputs[0][0]
        mask[: int(np.searchsorted(rows.t, first, side="left"))] = False
    for t, count in logged.skipped:
        at = int(np.searchsorted(rows.t, t, side="left"))
        mask[max(0, at - count) : at] = False
    if logged.last_step is not None:
        mask[int(np.searchsorted(rows.t, logged.last_step, side="right")) :] = False
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
    return Logged(out, logged.actions, logged.skipped, logged.kept, logged.last_step)


def evaluate(
    definitions: Mapping[str, AlarmDefinition], rows: Rows, logged: Logged, *, dense: bool = False
) -> Result:
    """The alarm journal of ``definitions`` over the logged run (see the module
    docstring). Only the channels the definitions read are handed to the engine (a
    channel the run does not have stays absent, as it was to the supervisor: a
    communication loss for a ``comm_loss`` alarm, no value for the others).

    An alarm is handed to the engine only at the rows where its step could change
    something (``_Schedule``): every alarm at the first row, where a logged context
    starts and where an operator's command is taken; a rate-of-change alarm, and one
    with an on- or off-delay pending, at every row; a shelved one at its expiry; any
    other at the next row whose GOOD value would flip its condition (its deadband
    state), which the engine's own rules make the only row that moves it. At every other
    row the engine would hand its state back unchanged, with no event. ``dense``: every
    alarm at every row (the reference the tests hold the schedule to)."""
    res = Result()
    defs = dict(definitions)
    ids = list(defs)
    where = {c: i for i, c in enumerate(rows.channels)}
    used = [c for c in used_channels(defs) if c in where]
    index = {c: i for i, c in enumerate(used)}
    stepped = np.flatnonzero(_stepped(rows, logged))
    cols = np.array([where[c] for c in used], dtype=np.intp)
    values = np.ascontiguousarray(rows.values[np.ix_(stepped, cols)], dtype=np.float64)
    quality = np.ascontiguousarray(rows.quality[np.ix_(stepped, cols)])
    times = np.ascontiguousarray(rows.t[stepped], dtype=np.float64)
    web = rows.web_position_m[stepped]
    n = len(stepped)
    state: dict[str, engine.AlarmState] = (
        engine.initial(defs) if logged.kept is None else engine.kept_states(defs, logged.kept)
    )
    # The rows at which a context starts and at which commands are taken.
    ctx_at: dict[int, AlarmInputs] = {}
    for t, inp in logged.inputs:
        r = int(np.searchsorted(times, t, side="left"))
        if r < n:
            ctx_at[r] = inp  # the last one logged at or before the row is the one in force
    acts_at: dict[int, list[tuple[float, AlarmCommand]]] = {}
    for t, cmd in logged.actions:
        r = int(np.searchsorted(times, t, side="left"))
        if r < n:
            acts_at.setdefault(r, []).append((t, cmd))
    forced = sorted({0, *ctx_at, *acts_at}) if n else []
    sched = _Schedule(defs, ids, values, quality, times, index)
    ctx = engine.AlarmContext()
    journal = res.journal
    heap: list[tuple[int, int]] = [(r, -1) for r in forced]
    heapq.heapify(heap)
    due_at = [0] * len(ids)  # the row each alarm is next due at
    while heap:
        r = heap[0][0]
        every = dense
        due: set[int] = set()
        while heap and heap[0][0] == r:
            _, k = heapq.heappop(heap)
            if k < 0:
                every = True
            elif due_at[k] == r:
                due.add(k)
        now = float(times[r])
        w = float(web[r])
        wpos = w if math.isfinite(w) else None
        for t_cmd, cmd in acts_at.get(r, ()):
            out = engine.act(defs, state, cmd, now)
            if isinstance(out, engine.Rejected):
                res.rejected.append((t_cmd, out.reason))
                continue
            state, evs = out
            journal.extend(transitions_of(evs, now, wpos))
        if r in ctx_at:
            ctx = engine.context_of(defs, ctx_at[r])
            sched.context(ctx)
        ks = range(len(ids)) if every else sorted(due)
        sub = {ids[k]: defs[ids[k]] for k in ks}
        sample = Sample(now, index, values[r], quality[r], w)
        out_states, evs = engine.step(sub, state, sample, now, ctx)
        state.update(out_states)
        if evs:
            journal.extend(transitions_of(evs, now, wpos))
        nxt = r + 1
        for k in ks:
            due_at[k] = nr = nxt if dense else sched.next_row(k, state[ids[k]], r)
            if nr < n:
                heapq.heappush(heap, (nr, k))
        if dense and nxt < n and (not heap or heap[0][0] != nxt):
            heapq.heappush(heap, (nxt, -1))
    if n:
        res.rows = n
        res.start, res.end = float(times[0]), float(times[-1])
    res.final = {k: s.label for k, s in state.items()}
    return res


class _Schedule:
    """For each alarm, the rows (of those fed) at which a GOOD value would turn its
    condition on (judged as not held) or off (judged as held), by the engine's own
    comparisons; recomputed for the alarms whose limit, setpoint or grace comes from the
    context when it changes."""

    def __init__(
        self,
        defs: Mapping[str, AlarmDefinition],
        ids: Sequence[str],
        values: np.ndarray,
        quality: np.ndarray,
        times: np.ndarray,
        index: Mapping[str, int],
    ) -> None:
        self.defs = [defs[k] for k in ids]
        self.values = values
        self.quality = quality
        self.times = times
        self.index = index
        self.n = len(times)
        self.on: list[np.ndarray] = []
        self.off: list[np.ndarray] = []
        self.keys: list[object] = []
        self._cache: dict[tuple[int, object], tuple[np.ndarray, np.ndarray]] = {}
        ctx = engine.AlarmContext()
        for k in range(len(self.defs)):
            key = self._key(k, ctx)
            on, off = self._masks(k, ctx, key)
            self.on.append(on)
            self.off.append(off)
            self.keys.append(key)

    def _key(self, k: int, ctx: engine.AlarmContext) -> object:
        d = self.defs[k]
        if d.kind == "comm_loss":
            return ctx.startup_until
        if d.kind == "deviation" and d.setpoint is None:
            return ctx.setpoints.get(d.channel)
        if d.limit_from_recipe:
            return ctx.limits.get(d.channel, d.limit)
        return None

    def context(self, ctx: engine.AlarmContext) -> None:
        for k in range(len(self.defs)):
            key = self._key(k, ctx)
            if key != self.keys[k]:
                self.on[k], self.off[k] = self._masks(k, ctx, key)
                self.keys[k] = key

    def _col(self, channel: str) -> tuple[np.ndarray, np.ndarray] | None:
        i = self.index.get(channel)
        if i is None:
            return None
        v = self.values[:, i]
        return v, (self.quality[:, i] == int(Quality.GOOD)) & np.isfinite(v)

    def _masks(
        self, k: int, ctx: engine.AlarmContext, key: object
    ) -> tuple[np.ndarray, np.ndarray]:
        cached = self._cache.get((k, key))
        if cached is not None:
            return cached
        d = self.defs[k]
        none = np.zeros(self.n, dtype=bool)
        on, off = none, none
        col = self._col(d.channel)
        kind = d.kind
        with np.errstate(invalid="ignore"):
            if kind == "comm_loss":
                i = self.index.get(d.channel)
                if i is None:
                    on = np.ones(self.n, dtype=bool)
                else:
                    q = self.quality[:, i]
                    waiting = (q == int(Quality.WAITING)) & (self.times < ctx.startup_until)
                    on = (q != int(Quality.GOOD)) & ~waiting
                    off = q == int(Quality.GOOD)
            elif col is not None:
                v, good = col
                limit = d.limit
                if d.limit_from_recipe:
                    limit = ctx.limits.get(d.channel, limit)
                if kind in ("high", "high_high"):
                    assert limit is not None
                    on = good & (v > limit)
                    off = good & ~(v > limit - d.deadband)
                elif kind in ("low", "low_low"):
                    assert limit is not None
                    on = good & (-v > -limit)
                    off = good & ~(-v > -limit - d.deadband)
                elif kind == "deviation":
                    assert limit is not None
                    if d.setpoint is not None:
                        sp_col = self._col(d.setpoint)
                        if sp_col is not None:
                            sp, sp_good = sp_col
                            dev = np.abs(v - sp)
                            on = good & sp_good & (dev > limit)
                            off = good & sp_good & ~(dev > limit - d.deadband)
                    else:
                        sp0 = ctx.setpoints.get(d.channel)
                        if sp0 is not None and math.isfinite(sp0):
                            dev = np.abs(v - sp0)
                            on = good & (dev > limit)
                            off = good & ~(dev > limit - d.deadband)
                elif kind == "discrete":
                    if d.bit is not None:
                        whole = good & (v == np.floor(v)) & (v >= 0)
                        # A word past int64 is judged by the engine's own Python int: such
                        # a row is in both masks (handed to the engine whatever it holds).
                        big = whole & (v >= 2.0**63)
                        safe = np.where(whole & ~big, v, 0.0).astype(np.int64)
                        bit = ((safe >> d.bit) & 1).astype(bool)
                        on = (whole & bit) | big
                        off = (whole & ~bit) | big
                    else:
                        on = good & (v == d.equals)
                        off = good & (v != d.equals)
        out = (np.flatnonzero(on), np.flatnonzero(off))
        self._cache[(k, key)] = out
        return out

    def next_row(self, k: int, s: engine.AlarmState, r: int) -> int:
        """The next row after ``r`` at which alarm ``k`` in state ``s`` could move."""
        d = self.defs[k]
        if d.kind == "rate_of_change" or s.deadline is not None:
            return r + 1
        rows = self.off[k] if s.condition else self.on[k]
        j = int(np.searchsorted(rows, r, side="right"))
        nr = int(rows[j]) if j < len(rows) else self.n
        if s.shelved_until is not None:
            e = int(np.searchsorted(self.times, s.shelved_until, side="left"))
            nr = min(nr, max(e, r + 1))
        return nr


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
        raise InvalidArgument(f"operators = {operators}: at least 1")
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
