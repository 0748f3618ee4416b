"""Run-log events of the alarms (ISA-18.2 lifecycle transitions, operator actions):
frozen, typed, versioned (no I/O).

Registered in ``linecontrol.model.events.EVENT_TYPES`` through ``TYPES``; the wire
form is the one every event has (``linecontrol.model.event_base``).

Emitted:

"""

from __future__ import annotations

from linecontrol.model.event_base import Event

TYPES: tuple[type[Event], ...] = ()

# The types here that are always alarms.
ALARM_TYPES: frozenset[str] = frozenset()
