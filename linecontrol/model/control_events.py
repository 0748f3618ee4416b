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
``SetpointWritten``  a setpoint written and verified by read-back (value, read-back,
                     the value before).
``SetpointFailed``   a write that did not hold (refused, unanswered, read back
                     different after its retry), or a setpoint found changed when its
                     device came back (an alarm).
``InterlockTripped`` an interlock acted: which, why, what it asked of the machine
                     (suspend, hold, stop, abort), the web position (an alarm).
``InterlockCleared`` its condition is gone.
``RecipeLoaded``     a recipe passed the rules and was planned (name, path, SHA-256, its
                     warnings).
``SafeStateApplied`` the safe state was written to every device at once: which took it
                     and which did not.
``SequenceStepped``  an acting state's sequence moved to its next step, or an oven's N2
                     purge was complete.
``BandLeft``         in Execute, a bound value left its recipe band.
``BandReturned``     it came back into its band.
``SupervisorStopped`` the supervisor's loop ended: how many steps it took and the time of
                     its last one (so a re-evaluation feeds no row it never stepped).
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


class SetpointWritten(Event):
    """A setpoint written and verified by read-back (``previous``: the value written
    before, None when none since the supervisor started)."""

    device: str
    channel: str
    value: float
    read_back: float
    previous: float | None = None


class SetpointFailed(Event):
    """A write that did not hold: refused, unanswered, or read back different after
    its retry; or a setpoint found changed when its device came back."""

    device: str
    channel: str
    value: float
    read_back: float | None = None
    error: str

    @property
    def is_alarm(self) -> bool:
        return True


class InterlockTripped(Event):
    """An interlock acted (``action``: what it asked of the machine), with the web
    position (metres from the unwind) when it did."""

    interlock: str
    detail: str
    action: Literal["suspend", "hold", "stop", "abort"]
    web_position_m: float | None = None

    @property
    def is_alarm(self) -> bool:
        return True


class InterlockCleared(Event):
    interlock: str
    detail: str


class RecipeLoaded(Event):
    """A recipe passed the rules and was planned; ``violations``: its warnings."""

    recipe: str
    path: str
    sha256: str
    violations: tuple[str, ...] = ()


class SafeStateApplied(Event):
    """The safe state was written to every device at once (``why``: abort, web break):
    the devices that took every safe write and those that did not (each failed write
    is its own ``SetpointFailed``, an alarm)."""

    why: str
    answered: tuple[str, ...]
    failed: tuple[str, ...]


class SequenceStepped(Event):
    """The sequence of an acting state moved to its next step (or an oven was purged)."""

    state: StateName
    step: str


class BandLeft(Event):
    """In Execute, a bound value left its recipe band (``value`` None: not GOOD)."""

    channel: str
    value: float | None


class BandReturned(Event):
    channel: str
    value: float | None


class SupervisorStopped(Event):
    steps: int
    last_step: float | None


TYPES: tuple[type[Event], ...] = (
    StateChanged,
    ModeChanged,
    CommandRejected,
    SetpointWritten,
    SetpointFailed,
    InterlockTripped,
    InterlockCleared,
    RecipeLoaded,
    SafeStateApplied,
    SequenceStepped,
    BandLeft,
    BandReturned,
    SupervisorStopped,
)

# The types here that are always alarms.
ALARM_TYPES: frozenset[str] = frozenset({"SetpointFailed", "InterlockTripped"})
