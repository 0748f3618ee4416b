"""The alarms' states as JSON, so acknowledgements, shelves, latches and out-of-service
survive a restart of the supervisor (pure: text in, text out; the shell writes the file
atomically and reads it back).

Kept for each alarm: active, acknowledged, latched, whether the activation was raised to
nobody (``raised_hidden``: written only when true, absent in older files), the shelve (its
expiry as wall-clock seconds, who and why) and out of service (who and why). Not kept:
design suppression (it follows the PackML state, given again at the next step) and the
evaluation memory (deadband state, pending delays, rate history), which the next samples
rebuild.

A shelve's expiry is written as wall time because monotonic time does not carry over a
restart: ``to_json`` takes ``wall``, the wall-clock time at ``now``, and ``from_json``
maps it back onto the new monotonic clock, so time spent stopped counts against the
shelve (one that expired meanwhile ends at the first step). A shelve read back lasts at
most the alarm's ``max_shelve_s``, and a file written at a wall time later than ``wall``
(a simulated run's clock runs ahead of real time at a speed-up) counts as written now.

A file that is not this format (not JSON, another format or version, a field of the wrong
type, a non-finite number) is an ``AlarmStateError`` naming what is wrong: never a
crash, never silently an empty state. Alarms in the file that the line config no longer
defines are left out (``from_json`` reports them in ``AlarmStateLoad.dropped``); alarms
the file does not have start normal.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from linecontrol.alarms.engine import Alarms, AlarmState, class_of
from linecontrol.config import AlarmDefinition
from linecontrol.errors import LinecontrolError

FORMAT = "linecontrol.alarm_states"
VERSION = 1


class AlarmStateError(LinecontrolError, ValueError):
    """A saved alarm-state file that cannot be read back: the message says why."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


class _Shelve(_Strict):
    until_wall: float
    by: str
    reason: str


class _OutOfService(_Strict):
    by: str
    reason: str


class _Saved(_Strict):
    alarm_class: Literal["process", "comm_loss"]
    active: bool
    acked: bool
    latched: bool
    raised_hidden: bool = False
    shelve: _Shelve | None = None
    out_of_service: _OutOfService | None = None


class _File(_Strict):
    format: Literal["linecontrol.alarm_states"]
    version: Literal[1]
    written_wall: float
    alarms: dict[str, _Saved] = Field(default_factory=dict)


@dataclass(frozen=True)
class AlarmStateLoad:
    """What ``from_json`` read: the states, and the ids it left out (not defined)."""

    alarms: dict[str, AlarmState]
    dropped: tuple[str, ...] = ()


def _finite(name: str, x: float) -> None:
    if not math.isfinite(x):
        raise AlarmStateError(f"{name} = {x!r}: a finite number is needed")


def to_json(alarms: Alarms, now: float, wall: float) -> str:
    """The alarms' lasting states as JSON text (``now`` monotonic, ``wall`` the
    wall-clock time at ``now``, both finite)."""
    _finite("now", now)
    _finite("wall", wall)
    saved: dict[str, Any] = {}
    for alarm_id, s in sorted(alarms.items()):
        item: dict[str, Any] = {
            "alarm_class": s.alarm_class,
            "active": s.active,
            "acked": s.acked,
            "latched": s.latched,
        }
        if s.raised_hidden:
            item["raised_hidden"] = True
        if s.shelved_until is not None:
            item["shelve"] = {
                "until_wall": wall + (s.shelved_until - now),
                "by": s.shelved_by,
                "reason": s.shelve_reason,
            }
        if s.out_of_service:
            item["out_of_service"] = {"by": s.oos_by, "reason": s.oos_reason}
        saved[alarm_id] = item
    doc = {"format": FORMAT, "version": VERSION, "written_wall": wall, "alarms": saved}
    return json.dumps(doc, indent=1, sort_keys=True, allow_nan=False) + "\n"


def _reject_constant(name: str) -> float:
    raise AlarmStateError(f"{name} in the alarm-state file: not a finite number")


def from_json(
    text: str | bytes,
    definitions: Mapping[str, AlarmDefinition],
    now: float,
    wall: float,
) -> AlarmStateLoad:
    """The alarms' states read back from ``to_json``'s text, on the current clock
    (``now`` monotonic, ``wall`` the wall-clock time at ``now``). ``AlarmStateError``
    when the text is not that format."""
    _finite("now", now)
    _finite("wall", wall)
    try:
        raw = json.loads(text, parse_constant=_reject_constant)
    except AlarmStateError:
        raise
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise AlarmStateError(f"alarm-state file is not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise AlarmStateError(f"alarm-state file holds a {type(raw).__name__}, not an object")
    if raw.get("format") != FORMAT:
        raise AlarmStateError(
            f"not an alarm-state file: format {raw.get('format')!r}, expected {FORMAT!r}"
        )
    if raw.get("version") != VERSION:
        raise AlarmStateError(
            f"alarm-state file version {raw.get('version')!r}: this reader knows {VERSION}"
        )
    try:
        doc = _File.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise AlarmStateError(f"alarm-state file: {where}: {first['msg']}") from exc
    out: dict[str, AlarmState] = {}
    dropped: list[str] = []
    for alarm_id, saved in doc.alarms.items():
        d = definitions.get(alarm_id)
        if d is None or class_of(d) != saved.alarm_class:
            dropped.append(alarm_id)
            continue
        s = AlarmState(
            alarm_class=saved.alarm_class,
            active=saved.active,
            acked=saved.acked,
            latched=saved.latched and d.latching,
            raised_hidden=saved.raised_hidden and saved.active,
            condition=saved.active,
        )
        if saved.shelve is not None:
            # What was left when written, less the wall time since; a file written "in
            # the future" (a simulated clock runs ahead at a speed-up) counts as now, and
            # no shelve comes back longer than the alarm may be shelved for.
            left = saved.shelve.until_wall - doc.written_wall
            left -= max(0.0, wall - doc.written_wall)
            s = replace(
                s,
                shelved_until=now + min(left, d.max_shelve_s),
                shelved_by=saved.shelve.by,
                shelve_reason=saved.shelve.reason,
            )
        if saved.out_of_service is not None:
            s = replace(
                s,
                out_of_service=True,
                oos_by=saved.out_of_service.by,
                oos_reason=saved.out_of_service.reason,
            )
        out[alarm_id] = s
    for alarm_id, d in definitions.items():
        out.setdefault(alarm_id, AlarmState(alarm_class=class_of(d)))
    return AlarmStateLoad(alarms=out, dropped=tuple(sorted(dropped)))
