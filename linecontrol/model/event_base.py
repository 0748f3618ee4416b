"""The base of every event: its wire form and strict validation (frozen; no I/O).

Event types live by room, each in its own module of ``linecontrol.model``
(``events`` the core: runs, devices, the run log; ``control_events`` the
supervisor; ``alarm_events`` the alarms); ``linecontrol.model.events`` gathers them
into one registry, ``EVENT_TYPES``, that reads every wire form back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict

QualityName = Literal["GOOD", "STALE", "INVALID", "WAITING"]
DeviceState = Literal["new", "ok", "failing", "invalid"]
EVENT_CONFIG = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)


class Event(BaseModel):
    """Base of every event. ``version`` is the version of the type's data."""

    model_config = EVENT_CONFIG

    version: ClassVar[int] = 1

    @property
    def type_name(self) -> str:
        return type(self).__name__

    @property
    def schema_version(self) -> int:
        return type(self).version

    @property
    def is_alarm(self) -> bool:
        return False

    def to_data(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_data(cls, data: Mapping[str, Any], v: int = 1) -> Self:
        """Strict validation of data as it is in JSON (``v``: the version it was
        written at; every type is at version 1 so far)."""
        return cls.model_validate_json(json.dumps(dict(data)))
