"""Run-log events of the alarms (ISA-18.2 lifecycle transitions, operator actions):
frozen, typed, versioned (no I/O).

Registered in ``linecontrol.model.events.EVENT_TYPES`` through ``TYPES``; the wire
form is the one every event has (``linecontrol.model.event_base``).

Emitted:

``AlarmRaised``   an alarm annunciated: its label became ``UNACK`` (its condition
                  became active, or came back while it was unacknowledged or
                  latched, or it left a shelve, design suppression or out of service
                  with its condition active). Always an alarm (``is_alarm``).
``AlarmChanged``  every other change of an alarm's lifecycle label: acknowledged,
                  returned to normal, latched, reset, shelved, unshelved (by an
                  operator or by the shelve's expiry), suppressed by design and back,
                  out of service and back. A record, not an alarm.
``AlarmInputs``   what the supervisor tells the alarm engine besides the sample, logged
                  at the first step and whenever it changes (before that step's alarm
                  events), so a logged run can be evaluated again (``whatif``). A
                  record, not an alarm.
``AlarmStatesKept`` the alarm states the supervisor booted with, kept from the run before
                  (acknowledgements, latches, shelves, out of service; logged at boot
                  when it read them from its state file), so that a re-evaluation
                  starts where it did. A record, not an alarm.
``RowsSkipped``   the supervisor steps on the newest sampled row: this many older rows
                  came while it was busy and were never stepped (logged with the step
                  that follows them). A record, not an alarm.

Both carry the alarm's id, its class (``process`` or ``comm_loss``), the label before
and after (one of ``AlarmLabel``: the ISA-18.2 states), the GOOD value it was judged
on (None for an operator's command, or with no GOOD value, as in a communication
loss), its priority and consequence, the cause (``condition``, ``cleared``, ``shelve
expired``, ``suppressed by design``, ``suppression ended``, or the wire name of the
operator's command), who (``by``, empty for the engine) and why (``reason``, the
operator's).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from linecontrol.model.event_base import EVENT_CONFIG, Event

AlarmLabel = Literal[
    "NORM",
    "UNACK",
    "ACKED",
    "RTNUN",
    "LATCHED_UNACK",
    "LATCHED_ACK",
    "SHLVD",
    "DSUPR",
    "OOSRV",
]
AlarmClass = Literal["process", "comm_loss"]


class _AlarmTransition(Event):
    alarm: str
    alarm_class: AlarmClass
    old: AlarmLabel
    new: AlarmLabel
    value: float | None
    priority: str
    consequence: str
    cause: str
    by: str = ""
    reason: str = ""


class AlarmRaised(_AlarmTransition):
    @property
    def is_alarm(self) -> bool:
        return True


class AlarmChanged(_AlarmTransition):
    pass


class AlarmInputs(Event):
    """The alarm engine's context besides the sample (``linecontrol.alarms.context_of``
    makes an ``AlarmContext`` of it for any set of definitions): the PackML ``state``,
    whether a recipe is loaded (``recipe``) and the devices it needs (``needed``), the
    O2 channels of ovens not yet purged and not curing (``airy``: their alarms are
    suppressed), the setpoint of each bound channel (``setpoints``, an operator's
    change included), the recipe's limits by channel (``limits``) and the end of
    acquisition's start-up grace (``startup_until``, None: none)."""

    state: str
    recipe: bool
    needed: tuple[str, ...]
    airy: tuple[str, ...]
    setpoints: dict[str, float]
    limits: dict[str, float]
    startup_until: float | None


class KeptAlarm(BaseModel):
    """One alarm's lasting state at boot (``linecontrol.alarms.AlarmState``'s flags;
    ``shelved_until`` on the monotonic clock)."""

    model_config = EVENT_CONFIG

    alarm_class: AlarmClass
    active: bool
    acked: bool
    latched: bool
    raised_hidden: bool = False
    shelved_until: float | None = None
    shelved_by: str = ""
    shelve_reason: str = ""
    out_of_service: bool = False
    oos_by: str = ""
    oos_reason: str = ""


class AlarmStatesKept(Event):
    alarms: dict[str, KeptAlarm]


class RowsSkipped(Event):
    count: int


TYPES: tuple[type[Event], ...] = (
    AlarmRaised,
    AlarmChanged,
    AlarmInputs,
    AlarmStatesKept,
    RowsSkipped,
)

# The types here that are always alarms.
ALARM_TYPES: frozenset[str] = frozenset({"AlarmRaised"})
