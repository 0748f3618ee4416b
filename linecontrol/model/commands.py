"""Commands: what someone asks the line to do, in the imperative (frozen, no I/O).

Every command carries who gave it (``by``), a request id (empty when the giver
named none), when it was given (wall time, seconds since the epoch; ``None`` when
not known, as in runs recorded before commands were typed) and why (``reason``).
A command is logged inside a ``CommandGiven`` event: its wire name under
``command``, its fields beside it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict

from linecontrol.errors import InvalidArgument


class Command(BaseModel):
    """Base of every command. ``name`` is its wire name; ``version`` is the version
    of its fields (every command is at 1). In the run log a command's fields are
    part of ``CommandGiven``'s data, so its ``v`` changes with them."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)

    name: ClassVar[str] = ""
    version: ClassVar[int] = 1

    by: str
    request_id: str = ""
    at: float | None = None
    reason: str = ""

    def to_data(self) -> dict[str, Any]:
        """The wire form: ``command`` (the name) and the fields."""
        return {"command": self.name, **self.model_dump(mode="json")}

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> Self:
        """Strict validation of the fields as they are in JSON (no ``command`` key)."""
        return cls.model_validate_json(json.dumps(dict(fields)))


class StartRecording(Command):
    """Record the line for ``duration_s`` seconds (``linecontrol record``); its wire
    name is ``record``, as runs recorded before commands were typed have it."""

    name: ClassVar[str] = "record"

    duration_s: float
    simulated: bool


COMMAND_TYPES: Mapping[str, type[Command]] = MappingProxyType(
    {c.name: c for c in (StartRecording,)}
)


def command_from_data(data: Mapping[str, Any]) -> Command:
    """The command of a wire form; ``ValueError`` (pydantic's ``ValidationError``
    is one) for an unknown name or fields that do not match."""
    fields = dict(data)
    name = fields.pop("command", None)
    cls = COMMAND_TYPES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise InvalidArgument(f"unknown command {name!r}")
    return cls.from_fields(fields)
