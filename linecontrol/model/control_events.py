"""Run-log events of the supervisor (PackML state, commands, setpoints, interlocks):
frozen, typed, versioned (no I/O).

Registered in ``linecontrol.model.events.EVENT_TYPES`` through ``TYPES``; the wire
form is the one every event has (``linecontrol.model.event_base``).

Emitted:

``StateChanged``     the PackML state changed (old, new, the unit mode, the cause: a
                     command's wire name, ``state complete``, or an interlock or
                     alarm; who gave the command, empty for the machine itself; the
                     first-out cause of the stop, hold or abort, kept until Reset or
                     Clear).
``ModeChanged``      the unit mode changed (old, new, who asked).
``CommandRejected``  a command was refused with no change, with the reason; the
                     command in its wire form, as ``CommandGiven`` has it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import field_serializer, field_validator

from linecontrol.model.command_base import Command
from linecontrol.model.commands import command_from_data
from linecontrol.model.control_commands import ModeName
from linecontrol.model.event_base import Event

StateName = Literal[
    "Undefined",
    "Clearing",
    "Stopped",
    "Starting",
    "Idle",
    "Suspended",
    "Execute",
    "Stopping",
    "Aborting",
    "Aborted",
    "Holding",
    "Held",
    "Unholding",
    "Suspending",
    "Unsuspending",
    "Resetting",
    "Completing",
    "Complete",
]
"""A PackML state by name (ISA-TR88.00.02), in the order of its PackTags number."""


class StateChanged(Event):
    old: StateName
    new: StateName
    mode: ModeName
    cause: str
    by: str = ""
    first_out: str = ""


class ModeChanged(Event):
    old: ModeName
    new: ModeName
    by: str


class CommandRejected(Event):
    """Data: ``command`` (the command's wire form: its name under ``command``, then
    its fields) and ``reason``."""

    command: Command
    reason: str

    @field_validator("command", mode="before")
    @classmethod
    def _typed(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return command_from_data(value)
        return value

    @field_serializer("command")
    def _wire(self, value: Command) -> dict[str, Any]:
        return value.to_data()


TYPES: tuple[type[Event], ...] = (StateChanged, ModeChanged, CommandRejected)

# The types here that are always alarms.
ALARM_TYPES: frozenset[str] = frozenset()
