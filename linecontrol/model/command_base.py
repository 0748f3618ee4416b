"""The base of every command: who gave it, its request id, when and why (frozen, no I/O).

Command types live by room (``commands`` the recorder's, ``control_commands`` the
supervisor's, ``alarm_commands`` the alarms'); ``linecontrol.model.commands`` gathers
them into one registry, ``COMMAND_TYPES``, by wire name.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict


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
