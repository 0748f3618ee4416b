"""Run-log events of the local API (the point of control): frozen, typed, versioned
(no I/O).

Registered in ``linecontrol.model.events.EVENT_TYPES`` through ``TYPES``; the wire
form is the one every event has (``linecontrol.model.event_base``).

Emitted:

``ControlChanged``  the point of control changed hands: the holder before and after
                    (``user@client``, empty for nobody) and who asked (``by``).
"""

from __future__ import annotations

from linecontrol.model.event_base import Event


class ControlChanged(Event):
    old: str
    new: str
    by: str


TYPES: tuple[type[Event], ...] = (ControlChanged,)
