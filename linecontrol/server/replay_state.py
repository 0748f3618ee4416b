"""What a live supervisor's full state says, rebuilt from a logged run's events up to a
replay position (pure: no I/O, no clock): the PackML state, unit mode, first-out,
recipe, sequence step and interlocks, every alarm's ISA-18.2 label with the GOOD value
and the wall time of its last transition, and the operator actions counted.

Nothing is inferred that the events do not say: a replay's ``allowed`` is always empty
(nothing can be commanded), an alarm never transitioned is ``NORM``, and a shelve's
end is not known (``shelved_until`` is None)."""

from __future__ import annotations

import math
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from linecontrol.config import AlarmDefinition
from linecontrol.model import (
    AlarmChanged,
    AlarmRaised,
    AlarmStatesKept,
    CommandGiven,
    InterlockCleared,
    InterlockTripped,
    LoggedEvent,
    ModeChanged,
    RecipeLoaded,
    SequenceStepped,
    StateChanged,
    StateName,
)

STATES: tuple[str, ...] = typing.get_args(StateName)
"""PackML states in the order of their PackTags number (``state_number``)."""

ACTIVE = frozenset({"UNACK", "ACKED"})
ACKED = frozenset({"NORM", "ACKED", "LATCHED_ACK"})


@dataclass
class AlarmSeen:
    label: str = "NORM"
    alarm_class: str = "process"
    priority: str | None = None
    consequence: str | None = None
    value: float | None = None
    since: float | None = None  # wall time of its last transition
    active: bool = False
    acked: bool = True
    latched: bool = False


def _kept_label(k: Any) -> str:
    if k.out_of_service:
        return "OOSRV"
    if k.shelved_until is not None:
        return "SHLVD"
    if k.latched:
        return "LATCHED_ACK" if k.acked else "LATCHED_UNACK"
    if k.active:
        return "ACKED" if k.acked else "UNACK"
    return "NORM" if k.acked else "RTNUN"


@dataclass
class ReplayState:
    """The line's state after the events ``apply`` was given, in log order."""

    defs: Mapping[str, AlarmDefinition] = field(default_factory=dict)
    state: str = "Undefined"
    mode: str = "production"
    first_out: str = ""
    recipe: str | None = None
    step: str = ""
    interlocks: set[str] = field(default_factory=set)
    alarms: dict[str, AlarmSeen] = field(default_factory=dict)
    commands: int = 0  # CommandGiven events: the operator actions
    last_seq: int = 0  # the seq of the last event applied

    def __post_init__(self) -> None:
        for name, d in self.defs.items():
            self.alarms.setdefault(name, AlarmSeen(priority=d.priority))

    def apply_all(self, events: Iterable[LoggedEvent]) -> None:
        for e in events:
            self.apply(e)

    def apply(self, logged: LoggedEvent) -> None:
        e = logged.event
        self.last_seq = logged.seq
        if isinstance(e, StateChanged):
            self.state, self.mode, self.first_out = e.new, e.mode, e.first_out
        elif isinstance(e, ModeChanged):
            self.mode = e.new
        elif isinstance(e, RecipeLoaded):
            self.recipe = e.recipe
        elif isinstance(e, SequenceStepped):
            self.step = e.step
        elif isinstance(e, InterlockTripped):
            self.interlocks.add(e.interlock)
        elif isinstance(e, InterlockCleared):
            self.interlocks.discard(e.interlock)
        elif isinstance(e, CommandGiven):
            self.commands += 1
        elif isinstance(e, AlarmRaised | AlarmChanged):
            a = self.alarms.setdefault(e.alarm, AlarmSeen())
            a.label, a.alarm_class = e.new, e.alarm_class
            a.priority, a.consequence = e.priority, e.consequence
            a.value, a.since = e.value, logged.t_wall
            if e.new in ACTIVE or e.new == "RTNUN" or e.new == "NORM":
                a.active = e.new in ACTIVE
            a.acked = e.new in ACKED or (e.new in ("SHLVD", "DSUPR", "OOSRV") and a.acked)
            a.latched = e.new.startswith("LATCHED")
        elif isinstance(e, AlarmStatesKept):
            for name, k in e.alarms.items():
                a = self.alarms.setdefault(name, AlarmSeen())
                a.label, a.alarm_class = _kept_label(k), k.alarm_class
                a.active, a.acked, a.latched = k.active, k.acked, k.latched

    def status(self, web_position_m: float | None, line_speed: float | None) -> dict[str, Any]:
        """The ``supervisor`` object of a full state (``allowed``: none, a replay)."""
        return {
            "state": self.state,
            "state_number": STATES.index(self.state) if self.state in STATES else 0,
            "mode": self.mode,
            "allowed": [],
            "first_out": self.first_out,
            "recipe": self.recipe,
            "step": self.step,
            "waiting_for": [],
            "interlocks": sorted(self.interlocks),
            "steps": self.last_seq,
            "web_position_m": _finite(web_position_m),
            "line_speed": _finite(line_speed),
            "metres_done": None,
            "metres_to_go": None,
        }

    def alarm_list(self) -> list[dict[str, Any]]:
        """The ``alarms`` of a full state, each as a live server lists it."""
        out = []
        for name, a in self.alarms.items():
            d = self.defs.get(name)
            out.append({
                "name": name, "state": a.label, "priority": a.priority,
                "class": a.alarm_class, "channel": d.channel if d is not None else None,
                "value": _finite(a.value), "since": a.since,
                "guidance": d.guidance if d is not None else None,
                "shelved_until": None, "latched": a.latched, "active": a.active,
                "acked": a.acked, "consequence": a.consequence,
                "max_shelve_s": d.max_shelve_s if d is not None else None,
            })  # fmt: skip
        return out


def _finite(v: float | None) -> float | None:
    return v if v is not None and math.isfinite(v) else None
