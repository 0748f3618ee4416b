"""The alarms room: a pure ISA-18.2 / IEC 62682 alarm engine over the line config's
``[alarms.<id>]`` definitions (``linecontrol.config.AlarmDefinition``).

``step(definitions, alarms, sample, now, context)`` evaluates one sample; ``act``
applies an operator command (acknowledge, shelve, unshelve, reset, out of service and
back) or rejects it with a reason; ``consequences`` says what the active and latched
alarms demand (suspend, hold, stop, abort; a latch whatever hides it);
``to_json``/``from_json`` keep the states across a restart. No clock, no I/O: ``now`` is
passed in, timers are deadlines.
"""

from linecontrol.alarms.context import context_of, kept_event, kept_states
from linecontrol.alarms.engine import (
    HIDDEN,
    LABELS,
    AlarmContext,
    Alarms,
    AlarmState,
    Rejected,
    act,
    class_of,
    consequences,
    demands,
    initial,
    step,
)
from linecontrol.alarms.persist import AlarmStateError, AlarmStateLoad, from_json, to_json

__all__ = [
    "HIDDEN",
    "LABELS",
    "AlarmContext",
    "AlarmState",
    "AlarmStateError",
    "AlarmStateLoad",
    "Alarms",
    "Rejected",
    "act",
    "class_of",
    "consequences",
    "context_of",
    "demands",
    "from_json",
    "initial",
    "kept_event",
    "kept_states",
    "step",
    "to_json",
]
