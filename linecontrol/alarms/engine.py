"""The alarm engine (pure): ISA-18.2 / IEC 62682 lifecycle of the line config's alarms.

Each alarm's state is a set of independent flags, as OPC UA Part 9 has them (active,
acknowledged, latched, shelved, suppressed by design, out of service); its ISA-18.2
label (``NORM``, ``UNACK``, ``ACKED``, ``RTNUN``, ``LATCHED_UNACK``, ``LATCHED_ACK``,
``SHLVD``, ``DSUPR``, ``OOSRV``) is derived from them (:meth:`AlarmState.label`).

``step`` evaluates every definition on one sample at ``now`` (monotonic seconds, passed
in: the engine never reads a clock) and returns the new states and an event per label
change. ``act`` applies one operator command. ``consequences`` says what the alarms
demand of the supervisor. Timers (on-delay, off-delay, shelve expiry) are deadlines on
``now``, so a logged run re-evaluated later gives the same events.

Rules the engine keeps:

- A value that is not GOOD (``Sample.good`` gives None) never moves a process alarm:
  its condition is unknown, so the alarm, its deadband state and any pending delay stay
  as they were; only a GOOD sample confirms or cancels a pending delay.
- Communication loss is its own class (``comm_loss`` alarms, on quality): it never
  shares a flag with a process alarm, and a command names one alarm only.
- A condition must hold for ``on_delay_s`` (its first true sample at ``t``: active at
  the first sample with ``now >= t + on_delay_s`` still true), and be clear for
  ``off_delay_s`` before the alarm clears; a condition that flips back cancels the delay
  (chatter shorter than the delay never annunciates).
- Hiding hides the annunciation, never an obligation (OPC UA Part 9: shelved,
  suppressed and out of service are sub-states beside active, acknowledged and latched,
  not resets of them). A shelve, design suppression or out of service keeps the latch
  and a pending acknowledgement as they were; leaving the last of them shows the flags
  again: ``LATCHED_UNACK`` / ``LATCHED_ACK``, ``UNACK`` / ``ACKED``, ``RTNUN`` or ``NORM``
  by the active, latched and acknowledged flags. Only ``ResetAlarm`` clears a latch,
  only ``AcknowledgeAlarm`` (or a new activation) moves the acknowledgement.
- In use and out of use: a shelved alarm is in use (the operator hides what it says, the
  line still relies on it); one suppressed by design or out of service is not. A
  condition that comes while the alarm is out of use is tracked (``active``) but raised
  to nobody: it asks no acknowledgement and latches nothing (``raised_hidden``), so the
  air in a cold, stopped oven is no O2 trip to reset. When the alarm comes back into
  use with that condition still present, it is raised then (``UNACK``, and latched if
  latching).
- The latch rule: a latching alarm raised in use is latched from that moment
  (``latched``) until ``ResetAlarm``, which it takes only once acknowledged and clear.
  A latch demands its consequence whatever hides it (shelve, design suppression, out of
  service) and is not hidden by design suppression: ``o2_cure_trip`` tripped in Execute
  still shows ``LATCHED_UNACK`` and still demands its hold in Stopped (where
  ``suppress_in`` lists it), so it blocks a restart until acknowledged and reset; the
  operator can do both there. Shelved or out of service, a latch is hidden and still
  demands: unshelve it or return it to service to acknowledge and reset it. An alarm
  that is not latched demands its consequence when active and in use (shelved too).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from linecontrol.config import CONSEQUENCES, AlarmDefinition, Consequence
from linecontrol.errors import InvalidArgument
from linecontrol.model import (
    AcknowledgeAlarm,
    AlarmChanged,
    AlarmClass,
    AlarmCommand,
    AlarmLabel,
    AlarmRaised,
    Event,
    Quality,
    RemoveAlarmFromService,
    ResetAlarm,
    ReturnAlarmToService,
    Sample,
    ShelveAlarm,
    UnshelveAlarm,
)

LABELS: tuple[AlarmLabel, ...] = (
    "NORM",
    "UNACK",
    "ACKED",
    "RTNUN",
    "LATCHED_UNACK",
    "LATCHED_ACK",
    "SHLVD",
    "DSUPR",
    "OOSRV",
)
HIDDEN: frozenset[AlarmLabel] = frozenset({"SHLVD", "DSUPR", "OOSRV"})


@dataclass(frozen=True)
class AlarmContext:
    """What the supervisor tells the engine besides the sample.

    ``state``: the PackML state name (``Execute``, ``Held``...; ``""`` when there is
    none yet); an alarm whose ``suppress_in`` lists it is suppressed by design.
    ``suppressed``: ids of alarms the supervisor suppresses by design for equipment
    the running recipe does not use (an oven it leaves cold, a device it does not
    need). ``setpoints``: by channel (``device.channel``), the setpoint a deviation
    alarm without a ``setpoint`` channel deviates from (the recipe's value).
    ``startup_until``: until then a WAITING channel (not yet polled since acquisition
    started) is not a communication loss; from then on it is. ``limits``: by channel, the
    loaded recipe's limit, which a ``limit_from_recipe`` alarm of that channel takes.
    """

    state: str = ""
    suppressed: frozenset[str] = frozenset()
    setpoints: Mapping[str, float] = field(default_factory=dict)
    limits: Mapping[str, float] = field(default_factory=dict)
    startup_until: float = -math.inf


@dataclass(frozen=True)
class AlarmState:
    """One alarm: the OPC UA Part 9 sub-states as flags, and what its evaluation keeps.

    ``active``: the condition holds (after its delays); ``acked``: no acknowledgement
    is due; ``latched``: a latching alarm raised in use, held (and demanding its
    consequence) until reset, whatever hides it; ``raised_hidden``: the current
    activation came while the alarm was suppressed by design or out of service (raised
    to nobody: no acknowledgement due, no latch); ``shelved_until``: a timed shelve's
    expiry (monotonic seconds) or None; ``suppressed``: suppressed by design at the last
    step; ``out_of_service``. The
    rest is evaluation: ``condition`` the deadband (hysteresis) state of the raw
    condition, ``deadline`` when a pending on- or off-delay ends, ``history`` the
    (time, value) points of a rate-of-change window. A state that nothing changed is
    handed back as the same object (a step allocates only for what moved).
    """

    alarm_class: AlarmClass = "process"
    active: bool = False
    acked: bool = True
    latched: bool = False
    shelved_until: float | None = None
    shelved_by: str = ""
    shelve_reason: str = ""
    suppressed: bool = False
    out_of_service: bool = False
    oos_by: str = ""
    oos_reason: str = ""
    raised_hidden: bool = False
    condition: bool = False
    deadline: float | None = None
    history: tuple[tuple[float, float], ...] = ()

    @property
    def shelved(self) -> bool:
        return self.shelved_until is not None

    @property
    def hidden(self) -> bool:
        return self.out_of_service or self.shelved or self.suppressed

    @property
    def in_use(self) -> bool:
        """Neither suppressed by design nor out of service (a shelved alarm is in use)."""
        return not (self.out_of_service or self.suppressed)

    @property
    def label(self) -> AlarmLabel:
        if self.out_of_service:
            return "OOSRV"
        if self.shelved:
            return "SHLVD"
        if self.suppressed and not self.latched:
            return "DSUPR"  # a latch is not suppressed by design: it demands a reset
        if self.active:
            return "ACKED" if self.acked else "UNACK"
        if self.latched:
            return "LATCHED_ACK" if self.acked else "LATCHED_UNACK"
        return "NORM" if self.acked else "RTNUN"

    @property
    def annunciated(self) -> bool:
        """Shown to the operator: active, latched or awaiting an acknowledgement."""
        return self.label not in HIDDEN and self.label != "NORM"


Alarms = Mapping[str, AlarmState]


@dataclass(frozen=True)
class Rejected:
    """An operator command the engine refused, and why (the alarms are unchanged)."""

    command: AlarmCommand
    reason: str


def class_of(definition: AlarmDefinition) -> AlarmClass:
    return "comm_loss" if definition.is_comm_loss else "process"


def initial(definitions: Mapping[str, AlarmDefinition]) -> dict[str, AlarmState]:
    """Every alarm normal, in service, unshelved."""
    return {k: AlarmState(alarm_class=class_of(d)) for k, d in definitions.items()}


def _finite_now(now: float) -> None:
    if not isinstance(now, int | float) or not math.isfinite(now):
        raise InvalidArgument(f"now = {now!r}: the engine needs a finite time")


# ------------------------------------------------------------------ conditions
def _threshold(d: AlarmDefinition, held: bool, x: float, limit: float) -> bool:
    """Above ``limit`` (high-type: ``x``) with the deadband below it, as a hysteresis."""
    return x > limit - d.deadband if held else x > limit


class _Row:
    """One sample as plain Python lists, read once per step (numpy scalars are slow to
    index one by one): ``good`` has ``Sample.good``'s meaning."""

    __slots__ = ("index", "quality", "values")

    def __init__(self, sample: Sample) -> None:
        self.index = sample.index
        self.values: list[float] = sample.values.tolist()
        self.quality: list[int] = sample.quality_codes.tolist()

    def good(self, name: str) -> float | None:
        i = self.index.get(name)
        if i is None or self.quality[i] != _GOOD:
            return None
        v = self.values[i]
        return v if math.isfinite(v) else None


_GOOD = int(Quality.GOOD)
_WAITING = int(Quality.WAITING)


def _observe(
    d: AlarmDefinition, s: AlarmState, row: _Row, now: float, ctx: AlarmContext
) -> tuple[bool | None, float | None, tuple[tuple[float, float], ...] | None]:
    """The condition (None: unknown, nothing moves), the GOOD value it was judged on, and
    for a rate-of-change alarm its new history (None: unchanged)."""
    kind = d.kind
    if kind == "comm_loss":
        i = row.index.get(d.channel)
        if i is None:
            return True, None, None
        q = row.quality[i]
        if q == _WAITING and now < ctx.startup_until:
            return None, None, None
        return q != _GOOD, None, None
    v = row.good(d.channel)
    if v is None:
        return None, None, None
    held = s.condition
    limit = d.limit
    if d.limit_from_recipe:
        limit = ctx.limits.get(d.channel, limit)
    if kind == "high" or kind == "high_high":
        assert limit is not None
        return _threshold(d, held, v, limit), v, None
    if kind == "low" or kind == "low_low":
        assert limit is not None
        return _threshold(d, held, -v, -limit), v, None
    if kind == "deviation":
        assert limit is not None
        sp = row.good(d.setpoint) if d.setpoint is not None else ctx.setpoints.get(d.channel)
        if sp is None or not math.isfinite(sp):
            return None, v, None
        return _threshold(d, held, abs(v - sp), limit), v, None
    if kind == "rate_of_change":
        assert limit is not None and d.window_s is not None
        points = (*s.history, (now, v))
        # The reference: the newest point at least a window old; older ones are dropped
        # (so the reference is at or just after the front: a short scan from there).
        if now - points[0][0] < d.window_s:
            return None, v, points
        ref = 0
        while ref + 1 < len(points) and now - points[ref + 1][0] >= d.window_s:
            ref += 1
        points = points[ref:]
        t0, v0 = points[0]
        rate = (v - v0) / (now - t0) * 60.0
        direction = d.direction or "either"
        signed = rate if direction == "rise" else -rate if direction == "fall" else abs(rate)
        return _threshold(d, held, signed, limit), v, points
    # discrete
    if d.bit is not None:
        if v != int(v) or v < 0:
            return None, v, None  # not a status word: no bit to read
        return bool((int(v) >> d.bit) & 1), v, None
    return v == d.equals, v, None


# ------------------------------------------------------------------ events
def _event(
    alarm_id: str,
    d: AlarmDefinition,
    old: AlarmState,
    new: AlarmState,
    cause: str,
    value: float | None = None,
    by: str = "",
    reason: str = "",
) -> Event | None:
    if old.label == new.label:
        return None
    fields: dict[str, Any] = {
        "alarm": alarm_id,
        "alarm_class": new.alarm_class,
        "old": old.label,
        "new": new.label,
        "value": value,
        "priority": d.priority,
        "consequence": d.consequence,
        "cause": cause,
        "by": by,
        "reason": reason,
    }
    if new.label == "UNACK":
        return AlarmRaised(**fields)
    return AlarmChanged(**fields)


def _into_use(d: AlarmDefinition, s: AlarmState) -> AlarmState:
    """Back in use (neither suppressed nor out of service): a condition raised to nobody
    while out of use and still present is raised now (unacknowledged, latched if
    latching). Everything else (latch, acknowledgement) is kept as it was."""
    if not s.in_use or not s.raised_hidden:
        return s
    if not s.active:
        return replace(s, raised_hidden=False)
    return replace(s, acked=False, latched=s.latched or d.latching, raised_hidden=False)


def _flip(d: AlarmDefinition, s: AlarmState, active: bool) -> AlarmState:
    """The condition becomes ``active`` (or clears). In use, an activation asks an
    acknowledgement and latches a latching alarm; out of use it does neither. A latch is
    never cleared here."""
    if active:
        if s.in_use:
            return replace(s, active=True, acked=False, latched=s.latched or d.latching)
        return replace(s, active=True, raised_hidden=True)
    # A latching alarm raised in use is latched already; this also latches one read
    # back from an older file, which kept a latch only once the condition had cleared.
    latched = s.latched or (d.latching and not s.raised_hidden)
    return replace(s, active=False, latched=latched, raised_hidden=False)


def _step_one(
    alarm_id: str,
    d: AlarmDefinition,
    s: AlarmState,
    row: _Row,
    now: float,
    ctx: AlarmContext,
) -> tuple[AlarmState, list[tuple[AlarmState, str]], float | None]:
    """The alarm's new state, the states it passed through with their causes (in order;
    an event for each that changes the label) and the GOOD value it was judged on."""
    changes: list[tuple[AlarmState, str]] = []
    # Shelve expiry first: a timed shelve ends at its deadline.
    if s.shelved_until is not None and now >= s.shelved_until:
        s = replace(s, shelved_until=None, shelved_by="", shelve_reason="")
        changes.append((s, "shelve expired"))
    # Design suppression starts before the condition is judged and ends after it: a
    # condition at the step the state changes is judged out of use (raised to nobody,
    # latching nothing); one still present once in use is raised then.
    suppressed = ctx.state in d.suppress_in or alarm_id in ctx.suppressed
    if suppressed and not s.suppressed:
        s = replace(s, suppressed=True)
        changes.append((s, "suppressed by design"))
    cond, value, history = _observe(d, s, row, now, ctx)
    if history is not None:
        s = replace(s, history=history)
    if cond is not None:
        if cond != s.condition:
            s = replace(s, condition=cond)
        if cond == s.active:
            if s.deadline is not None:
                s = replace(s, deadline=None)
        else:
            delay = d.on_delay_s if cond else d.off_delay_s
            deadline = s.deadline if s.deadline is not None else now + delay
            if now >= deadline:
                s = _flip(d, replace(s, deadline=None), cond)
                changes.append((s, "condition" if cond else "cleared"))
            elif deadline != s.deadline:
                s = replace(s, deadline=deadline)
    if not suppressed and s.suppressed:
        s = _into_use(d, replace(s, suppressed=False))
        changes.append((s, "suppression ended"))
    elif s.raised_hidden and s.in_use:  # read back from a file without its suppression
        s = _into_use(d, s)
        changes.append((s, "in use"))
    return s, changes, value


def step(
    definitions: Mapping[str, AlarmDefinition],
    alarms: Alarms,
    sample: Sample,
    now: float,
    context: AlarmContext | None = None,
) -> tuple[dict[str, AlarmState], tuple[Event, ...]]:
    """Evaluate every definition on ``sample`` at ``now``.

    The definitions rule: an alarm without a state starts normal, a state without a
    definition is dropped. Events come in definition order, one per label change
    (``AlarmRaised`` when the label becomes ``UNACK``, else ``AlarmChanged``). A
    non-finite ``now`` is an ``InvalidArgument`` (a deadline on it could never pass).
    """
    _finite_now(now)
    ctx = context if context is not None else AlarmContext()
    row = _Row(sample)
    out: dict[str, AlarmState] = {}
    events: list[Event] = []
    for alarm_id, d in definitions.items():
        old = alarms.get(alarm_id)
        if old is None:
            old = AlarmState(alarm_class=class_of(d))
        new, changes, value = _step_one(alarm_id, d, old, row, now, ctx)
        prev = old
        for state, cause in changes:
            e = _event(alarm_id, d, prev, state, cause, value)
            if e is not None:
                events.append(e)
            prev = state
        out[alarm_id] = new
    return out, tuple(events)


# ------------------------------------------------------------------ operator actions
def act(
    definitions: Mapping[str, AlarmDefinition],
    alarms: Alarms,
    command: AlarmCommand,
    now: float,
) -> tuple[dict[str, AlarmState], tuple[Event, ...]] | Rejected:
    """Apply one operator command to the one alarm it names: the new states and the
    event of its label change, or ``Rejected`` with the reason (nothing changes).

    - ``AcknowledgeAlarm``: UNACK -> ACKED, RTNUN -> NORM, LATCHED_UNACK -> LATCHED_ACK.
    - ``ShelveAlarm``: from NORM, UNACK, ACKED or RTNUN, for ``duration_s`` up to the
      alarm's ``max_shelve_s`` (longer is refused, not cut short), with a reason.
    - ``UnshelveAlarm``: SHLVD -> the label its flags give (latch and acknowledgement
      kept: ``LATCHED_UNACK``/``LATCHED_ACK``, ``UNACK``/``ACKED``, ``RTNUN``, ``NORM``).
    - ``ResetAlarm``: LATCHED_ACK -> NORM (a latched alarm, acknowledged, condition clear;
      ``DSUPR`` if it is suppressed by design). The only command that clears a latch.
    - ``RemoveAlarmFromService`` (with a reason) / ``ReturnAlarmToService``: OOSRV and back
      (the label its flags give; a condition that came while out of service: UNACK).
    """
    _finite_now(now)
    alarm_id = command.alarm
    d = definitions.get(alarm_id)
    if d is None:
        return Rejected(command, f"no alarm {alarm_id!r} in the line config")
    old = alarms.get(alarm_id) or AlarmState(alarm_class=class_of(d))
    label = old.label
    new: AlarmState | str
    if isinstance(command, AcknowledgeAlarm):
        if label in HIDDEN:
            new = f"{alarm_id} is {label}: nothing to acknowledge while hidden"
        elif old.acked:
            new = f"{alarm_id} is {label}: nothing to acknowledge"
        else:
            new = replace(old, acked=True)
    elif isinstance(command, ShelveAlarm):
        if label not in ("NORM", "UNACK", "ACKED", "RTNUN"):
            new = f"{alarm_id} is {label}: only NORM, UNACK, ACKED or RTNUN can be shelved"
        elif not command.duration_s <= d.max_shelve_s:
            new = (
                f"shelve for {command.duration_s} s: at most {d.max_shelve_s} s "
                f"(max_shelve_s of {alarm_id})"
            )
        else:
            new = replace(
                old,
                shelved_until=now + command.duration_s,
                shelved_by=command.by,
                shelve_reason=command.reason,
            )
    elif isinstance(command, UnshelveAlarm):
        if not old.shelved:
            new = f"{alarm_id} is {label}: not shelved"
        else:
            new = replace(old, shelved_until=None, shelved_by="", shelve_reason="")
    elif isinstance(command, ResetAlarm):
        if label == "LATCHED_ACK":
            new = replace(old, latched=False)
        elif label == "LATCHED_UNACK":
            new = f"{alarm_id} is LATCHED_UNACK: acknowledge it before the reset"
        elif label in HIDDEN and old.latched:
            new = f"{alarm_id} is {label}: unshelve it or return it to service before the reset"
        elif old.latched or (d.latching and old.active):
            new = f"{alarm_id} is {label}: its condition is still present"
        else:
            new = f"{alarm_id} is {label}: not latched"
    elif isinstance(command, RemoveAlarmFromService):
        if old.out_of_service:
            new = f"{alarm_id} is already out of service"
        else:
            new = replace(old, out_of_service=True, oos_by=command.by, oos_reason=command.reason)
    elif isinstance(command, ReturnAlarmToService):
        if not old.out_of_service:
            new = f"{alarm_id} is {label}: not out of service"
        else:
            new = _into_use(d, replace(old, out_of_service=False, oos_by="", oos_reason=""))
    else:
        new = f"{command.name or type(command).__name__}: not an alarm command the engine knows"
    if isinstance(new, str):
        return Rejected(command, new)
    out = dict(alarms)
    out[alarm_id] = new
    e = _event(alarm_id, d, old, new, command.name, None, command.by, command.reason)
    return out, (() if e is None else (e,))


# ------------------------------------------------------------------ consequences
def demands(state: AlarmState) -> bool:
    """Whether the alarm demands its consequence: latched (a latching alarm raised in
    use, until reset), whatever hides it; else active, raised in use and in use (in
    service, not suppressed by design; a shelve hides the annunciation only, so a
    shelved alarm still demands)."""
    return state.latched or (state.active and state.in_use and not state.raised_hidden)


def consequences(
    definitions: Mapping[str, AlarmDefinition], alarms: Alarms
) -> dict[Consequence, tuple[str, ...]]:
    """What the alarms demand of the supervisor, most severe first (``abort``, ``stop``,
    ``hold``, ``suspend``): each consequence with the ids of the alarms that demand it
    (sorted); a consequence nobody demands is absent, ``none`` always is."""
    out: dict[Consequence, tuple[str, ...]] = {}
    for c in CONSEQUENCES:
        if c == "none":
            continue
        ids = tuple(
            sorted(
                k
                for k, d in definitions.items()
                if d.consequence == c and (s := alarms.get(k)) is not None and demands(s)
            )
        )
        if ids:
            out[c] = ids
    return out
