"""The supervisor's commands (PackML, mode, recipe, setpoints): in the imperative,
frozen, typed, versioned (no I/O).

Registered in ``linecontrol.model.commands.COMMAND_TYPES`` by wire name through
``TYPES``; every command carries who gave it, a request id, when and why
(``linecontrol.model.command_base.Command``).

The nine PackML commands (ISA-TR88.00.02) have no fields of their own; which of
them the machine accepts in which state and unit mode is the supervisor's table
(``linecontrol.supervisor``). Numbers are strict and finite: ``NaN`` and
infinities are refused when the command is built and when it is read back.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from linecontrol.model.command_base import Command

ModeName = Literal["production", "maintenance", "manual"]
"""A PackML unit mode by wire name (Production = 1, Maintenance = 2, Manual = 3)."""


class PackMLCommand(Command):
    """Base of the nine PackML commands (no fields of their own); not registered."""


class Reset(PackMLCommand):
    name: ClassVar[str] = "reset"


class Start(PackMLCommand):
    name: ClassVar[str] = "start"


class Stop(PackMLCommand):
    name: ClassVar[str] = "stop"


class Hold(PackMLCommand):
    name: ClassVar[str] = "hold"


class Unhold(PackMLCommand):
    name: ClassVar[str] = "unhold"


class Suspend(PackMLCommand):
    name: ClassVar[str] = "suspend"


class Unsuspend(PackMLCommand):
    name: ClassVar[str] = "unsuspend"


class Abort(PackMLCommand):
    name: ClassVar[str] = "abort"


class Clear(PackMLCommand):
    name: ClassVar[str] = "clear"


class SetMode(Command):
    """Change the unit mode."""

    name: ClassVar[str] = "set_mode"

    mode: ModeName


class LoadRecipe(Command):
    """Load the recipe file at ``path``."""

    name: ClassVar[str] = "load_recipe"

    path: str


class ChangeSetpoint(Command):
    """Set ``field`` to ``value``: a recipe field as in ``process.bindings`` (for
    example ``press.roll_load_kg``) or, in Manual mode, a ``device.channel``."""

    name: ClassVar[str] = "change_setpoint"

    field: str
    value: float


class JogWeb(Command):
    """Move the web at ``speed_m_min`` (Manual mode only; 0 stops the jog)."""

    name: ClassVar[str] = "jog_web"

    speed_m_min: float


PACKML_COMMANDS: tuple[type[PackMLCommand], ...] = (
    Reset,
    Start,
    Stop,
    Hold,
    Unhold,
    Suspend,
    Unsuspend,
    Abort,
    Clear,
)

TYPES: tuple[type[Command], ...] = (*PACKML_COMMANDS, SetMode, LoadRecipe, ChangeSetpoint, JogWeb)
