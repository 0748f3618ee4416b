"""The alarm engine's context from what the supervisor logs (pure).

The supervisor logs ``AlarmInputs`` (the PackML state, the recipe's needed devices,
the O2 channels of ovens not yet purged, setpoints, limits, the start-up grace) and
makes the engine's ``AlarmContext`` of it with ``context_of``; a logged run evaluated
again with other definitions (``linecontrol.whatif``) makes its context the same way,
so both judge every definition alike. ``kept_event`` and ``kept_states``: the alarm
states a supervisor boots with (kept from the run before), as it logs them and as a
re-evaluation starts from them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from linecontrol.alarms.engine import AlarmContext, AlarmState, class_of, initial
from linecontrol.config import AlarmDefinition
from linecontrol.model import AlarmInputs, AlarmStatesKept, KeptAlarm


def context_of(definitions: Mapping[str, AlarmDefinition], inputs: AlarmInputs) -> AlarmContext:
    """With a recipe loaded, the alarms of equipment it does not use (their device not
    in ``needed``) and those of an oven expected to hold air (their channel in
    ``airy``) are suppressed by design."""
    suppressed: frozenset[str] = frozenset()
    if inputs.recipe:
        needed = set(inputs.needed)
        airy = set(inputs.airy)
        suppressed = frozenset(
            k for k, d in definitions.items() if d.device not in needed or d.channel in airy
        )
    return AlarmContext(
        state=inputs.state,
        suppressed=suppressed,
        setpoints=inputs.setpoints,
        limits=inputs.limits,
        startup_until=-math.inf if inputs.startup_until is None else inputs.startup_until,
    )


def kept_event(alarms: Mapping[str, AlarmState]) -> AlarmStatesKept:
    """The lasting part of ``alarms`` (what ``to_json`` keeps, on the monotonic clock) as
    the event the supervisor logs at boot."""
    return AlarmStatesKept(
        alarms={
            k: KeptAlarm(
                alarm_class=s.alarm_class,
                active=s.active,
                acked=s.acked,
                latched=s.latched,
                raised_hidden=s.raised_hidden,
                shelved_until=s.shelved_until,
                shelved_by=s.shelved_by,
                shelve_reason=s.shelve_reason,
                out_of_service=s.out_of_service,
                oos_by=s.oos_by,
                oos_reason=s.oos_reason,
            )
            for k, s in sorted(alarms.items())
        }
    )


def kept_states(
    definitions: Mapping[str, AlarmDefinition], event: AlarmStatesKept
) -> dict[str, AlarmState]:
    """Every defined alarm's state at boot from ``event``, read as ``from_json`` reads
    its file: an alarm of another class, or not defined, is left out; a latch only for a
    latching definition; the condition as the alarm's active flag; the rest normal."""
    out = initial(definitions)
    for k, saved in event.alarms.items():
        d = definitions.get(k)
        if d is None or class_of(d) != saved.alarm_class:
            continue
        out[k] = AlarmState(
            alarm_class=saved.alarm_class,
            active=saved.active,
            acked=saved.acked,
            latched=saved.latched and d.latching,
            raised_hidden=saved.raised_hidden and saved.active,
            condition=saved.active,
            shelved_until=saved.shelved_until,
            shelved_by=saved.shelved_by,
            shelve_reason=saved.shelve_reason,
            out_of_service=saved.out_of_service,
            oos_by=saved.oos_by,
            oos_reason=saved.oos_reason,
        )
    return out
