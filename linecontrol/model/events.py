"""Run-log events: what happened, in the past tense (frozen, typed, versioned; no I/O).

An event's wire form is ``type`` (its class name), ``v`` (the version of its
data) and ``data`` (its fields as JSON); the run log adds ``seq``, ``t_mono``,
``t_wall`` and ``crc32`` around it (``linecontrol.runlog.events``). Every type is at
version 1; a line written before versions were recorded has no ``v`` and reads
as version 1. ``decode_event`` reads a wire form back into its class; a type it
does not know, a version newer than its own (or below 1) or data that does not
match comes back as an ``UnknownEvent`` that keeps the type, version and data as
they were; envelope keys the reader does not know stay in ``LoggedEvent.extra``:
nothing is dropped, and writing it again gives the same line.

Emitted:

``RunStarted``       the run log was created (run id, operator, roll and lot ids).
``RunStopped``       the run ended, with its exit status.
``CommandGiven``     a command (``linecontrol.model.commands``) and who gave it.
``DeviceFailed``     a device went from answering to failing (timeouts, refused
                     connections: ``state`` ``failing``) or to answering with no
                     value (``state`` ``invalid``), with the first error.
``DeviceRecovered``  a device answers with values again (``was``: its state before).
``QualityChanged``   the quality of some of a device's channels changed: one event
                     per device and (old, new) pair, with the channels, when a poll
                     ends or the sampler ages values into STALE.
``DeviceSummary``    at the end of a run: polls, errors and state of each device.
``RunLogBacklog``    the run log's queue was full; items wait in a spill list.
``RunLogError``      a write of the run log failed (once per streak of failures).
``RunLogRecovered``  writes work again, with the count of failures and items lost.

Read, no longer emitted: ``DeviceError`` (runs recorded before ``DeviceFailed``;
the same fields).

Alarms (``is_alarm``): ``DeviceFailed``, ``DeviceError``, ``RunLogBacklog``,
``RunLogError``, and ``QualityChanged`` into STALE or INVALID.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, Self

from pydantic import BaseModel, ValidationError, field_serializer, field_validator

from linecontrol.model import alarm_events, api_events, control_events
from linecontrol.model.command_base import Command
from linecontrol.model.commands import command_from_data
from linecontrol.model.event_base import EVENT_CONFIG as _CONFIG
from linecontrol.model.event_base import DeviceState, Event, QualityName


class RunStarted(Event):
    run_id: str
    operator: str
    roll_id: str
    lot_id: str


class RunStopped(Event):
    exit_status: str


class CommandGiven(Event):
    """Data: the command's wire form (``command``: its name, then its fields)."""

    command: Command

    def to_data(self) -> dict[str, Any]:
        return self.command.to_data()

    @classmethod
    def from_data(cls, data: Mapping[str, Any], v: int = 1) -> Self:
        return cls(command=command_from_data(data))


class DeviceFailed(Event):
    device: str
    state: Literal["failing", "invalid"]
    error: str

    @property
    def is_alarm(self) -> bool:
        return True


class DeviceError(DeviceFailed):
    """``DeviceFailed`` as runs recorded before it have it; read, not emitted."""


class DeviceRecovered(Event):
    device: str
    was: Literal["failing", "invalid"]


class QualityChanged(Event):
    device: str
    channels: tuple[str, ...]
    old: QualityName
    new: QualityName

    @property
    def is_alarm(self) -> bool:
        return self.new in ("STALE", "INVALID")


class DeviceStats(BaseModel):
    """One device in a ``DeviceSummary`` (``Acquisition.device_report``)."""

    model_config = _CONFIG

    polls: int
    good_polls: int
    errors: int
    kinds: Mapping[str, int]  # read-only (a MappingProxyType), like every event's fields
    answered: bool
    state: DeviceState

    @field_validator("kinds", mode="after")
    @classmethod
    def _frozen(cls, value: Mapping[str, int]) -> Mapping[str, int]:
        return MappingProxyType(dict(value))

    @field_serializer("kinds")
    def _plain(self, value: Mapping[str, int]) -> dict[str, int]:
        return dict(value)


class DeviceSummary(Event):
    devices: Mapping[str, DeviceStats]  # read-only (a MappingProxyType)

    @field_validator("devices", mode="after")
    @classmethod
    def _frozen(cls, value: Mapping[str, DeviceStats]) -> Mapping[str, DeviceStats]:
        return MappingProxyType(dict(value))

    @field_serializer("devices")
    def _plain(self, value: Mapping[str, DeviceStats]) -> dict[str, Any]:
        return {n: d.model_dump(mode="json") for n, d in value.items()}


class RunLogBacklog(Event):
    queued: int
    spilled: int

    @property
    def is_alarm(self) -> bool:
        return True


class RunLogError(Event):
    """Data as in the run log's ``errors`` entries: ``type`` (always
    ``RunLogError``), ``where``, ``error`` and ``errno`` (null when none)."""

    type: Literal["RunLogError"] = "RunLogError"
    where: str
    error: str
    errno: int | None

    @property
    def is_alarm(self) -> bool:
        return True


class RunLogRecovered(Event):
    """``events_lost`` after a streak of failed event writes, ``batches_lost``
    after failed sample writes (each the total so far); the other is absent."""

    where: str
    failures: int
    events_lost: int | None = None
    batches_lost: int | None = None

    def to_data(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class UnknownEvent(Event):
    """An event this reader cannot type: kept as it was read (``problem``: why).
    It is an alarm when its type is one (a newer version of an alarm is shown).
    ``data`` is read-only all the way down (objects as ``MappingProxyType``, arrays
    as tuples); ``to_data`` gives it back in plain JSON types."""

    name: str
    v: int
    data: Any
    problem: str

    @property
    def type_name(self) -> str:
        return self.name

    @property
    def is_alarm(self) -> bool:
        if self.name == "QualityChanged":
            return isinstance(self.data, Mapping) and self.data.get("new") in ("STALE", "INVALID")
        return self.name in ALARM_TYPES

    @property
    def schema_version(self) -> int:
        return self.v

    def to_data(self) -> Any:
        """``data`` as it was read, in plain JSON types (a fresh copy)."""
        return _thawed(self.data)

    @field_validator("data", mode="after")
    @classmethod
    def _json_only(cls, value: Any) -> Any:
        json.dumps(value, allow_nan=True)  # TypeError for what JSON cannot hold
        return _frozen(value)

    @field_serializer("data")
    def _keep(self, value: Any) -> Any:
        return _thawed(value)


def _frozen(value: Any) -> Any:
    """JSON data made read-only all the way down: objects as ``MappingProxyType``,
    arrays as tuples (an event may be shared by every subscriber of a fan-out).
    One frame a level (no comprehension), so data as deep as ``json`` reads fits."""
    if isinstance(value, dict | MappingProxyType):
        out = {}
        for k, v in value.items():
            out[k] = _frozen(v)
        return MappingProxyType(out)
    if isinstance(value, list | tuple):
        items = []
        for v in value:
            items.append(_frozen(v))
        return tuple(items)
    return value


def _thawed(value: Any) -> Any:
    if isinstance(value, dict | MappingProxyType):
        out = {}
        for k, v in value.items():
            out[k] = _thawed(v)
        return out
    if isinstance(value, list | tuple):
        items = []
        for v in value:
            items.append(_thawed(v))
        return items
    return value


CORE_TYPES: tuple[type[Event], ...] = (
    RunStarted,
    RunStopped,
    CommandGiven,
    DeviceFailed,
    DeviceError,
    DeviceRecovered,
    QualityChanged,
    DeviceSummary,
    RunLogBacklog,
    RunLogError,
    RunLogRecovered,
)

# The modules that declare event types, each with its ``Emitted:`` list in its docstring:
# this one (runs, devices, the run log), the supervisor's and the alarms'.
EVENT_MODULES = (
    __name__,
    control_events.__name__,
    alarm_events.__name__,
    api_events.__name__,
)

EVENT_TYPES: Mapping[str, type[Event]] = MappingProxyType(
    {
        c.__name__: c
        for c in (*CORE_TYPES, *control_events.TYPES, *alarm_events.TYPES, *api_events.TYPES)
    }
)


# The types that are always alarms (``QualityChanged`` is one by its data).
ALARM_TYPES = frozenset(
    {"DeviceFailed", "DeviceError", "RunLogBacklog", "RunLogError"}
    | control_events.ALARM_TYPES
    | alarm_events.ALARM_TYPES
)


def decode_event(type_name: str, v: int, data: Any) -> Event:
    """The typed event of a wire form, or an ``UnknownEvent`` that keeps it."""
    cls = EVENT_TYPES.get(type_name)
    if cls is None:
        problem = "unknown event type"
    elif v < 1:
        problem = f"version {v} is no version (they start at 1)"
    elif v > cls.version:
        problem = f"version {v} is newer than this reader's {cls.version}"
    elif not isinstance(data, dict):
        problem = "data is not a JSON object"
    else:
        try:
            return cls.from_data(data, v)
        except (ValidationError, ValueError) as exc:
            problem = f"data does not match {type_name} v{v}: {_first_error(exc)}"
    return UnknownEvent(name=type_name, v=v, data=data, problem=problem)


def _first_error(exc: ValueError) -> str:
    if isinstance(exc, ValidationError) and exc.errors():
        e = exc.errors()[0]
        where = ".".join(str(x) for x in e["loc"])
        return f"{where}: {e['msg']}" if where else str(e["msg"])
    return str(exc)


_NO_EXTRA: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class LoggedEvent:
    """An event as the run log holds it: its place (``seq``) and times. ``extra``:
    keys of the line's envelope this reader does not know (a newer writer's), kept
    as read so that writing the line again gives it back whole."""

    seq: int
    t_mono: float
    t_wall: float
    event: Event
    extra: Mapping[str, Any] = field(default_factory=lambda: _NO_EXTRA)

    @property
    def type(self) -> str:
        return self.event.type_name

    def as_dict(self) -> dict[str, Any]:
        """The line's JSON object without its ``crc32``."""
        return {
            **self.extra,
            "seq": self.seq,
            "t_mono": self.t_mono,
            "t_wall": self.t_wall,
            "type": self.event.type_name,
            "v": self.event.schema_version,
            "data": self.event.to_data(),
        }
