"""Commands: what someone asks the line to do, in the imperative (frozen, no I/O).

Every command carries who gave it (``by``), a request id (empty when the giver
named none), when it was given (wall time, seconds since the epoch; ``None`` when
not known, as in runs recorded before commands were typed) and why (``reason``).
A command is logged inside a ``CommandGiven`` event: its wire name under
``command``, its fields beside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

from linecontrol.errors import InvalidArgument
from linecontrol.model import alarm_commands, api_commands, control_commands
from linecontrol.model.command_base import Command


class StartRecording(Command):
    """Record the line for ``duration_s`` seconds (``linecontrol record``); its wire
    name is ``record``, as runs recorded before commands were typed have it."""

    name: ClassVar[str] = "record"

    duration_s: float
    simulated: bool


COMMAND_MODULES = (
    __name__,
    control_commands.__name__,
    alarm_commands.__name__,
    api_commands.__name__,
)

_ALL: tuple[type[Command], ...] = (
    StartRecording,
    *control_commands.TYPES,
    *alarm_commands.TYPES,
    *api_commands.TYPES,
)
COMMAND_TYPES: Mapping[str, type[Command]] = MappingProxyType({c.name: c for c in _ALL})


def command_from_data(data: Mapping[str, Any]) -> Command:
    """The command of a wire form; ``ValueError`` (pydantic's ``ValidationError``
    is one) for an unknown name or fields that do not match."""
    fields = dict(data)
    name = fields.pop("command", None)
    cls = COMMAND_TYPES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise InvalidArgument(f"unknown command {name!r}")
    return cls.from_fields(fields)
