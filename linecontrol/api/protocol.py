"""The local API's wire protocol (pure: no I/O): version, limits, roles, the command
requests a client posts and the messages of the stream (docs/api.md is the contract).

A command request is a command's run-log wire form (``Command.to_data``) without
``by`` and ``at``, which the server sets from the caller: ``parse_command`` checks it
and builds the typed command, or raises ``BadRequest`` naming the field, the value and
what is allowed. The stream's messages are built by ``full_message``,
``values_message``, ``status_message``, ``event_message``, ``heartbeat_message`` and
``resync_message``; ``seq`` is set when each is sent (``with_seq``). Numbers that are
not finite are ``null`` on the wire (``finite_or_none``): JSON has no NaN, and the
value's quality says why.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import ValidationError

from linecontrol.errors import InvalidArgument
from linecontrol.model import (
    COMMAND_TYPES,
    PACKML_COMMANDS,
    Command,
    Event,
    ReleaseControl,
    TakeControl,
)

API_VERSION = 1
PREFIX = "/v1"
MAX_BODY_BYTES = 64 * 1024
# The longest text a command field may carry (a reason, a recipe path): a refused command
# is logged with its fields, so a caller may not write more than this per request.
MAX_TEXT_CHARS = 1000
VERDICT_DEADLINE_S = 5.0  # real seconds a command's reply waits for the supervisor
BODY_DEADLINE_S = 5.0  # real seconds a client has to send the whole body of a request
STREAM_HZ = 4.0  # values and status messages per second, at most, per client
HEARTBEAT_S = 1.0
LOST_AFTER_S = 3.0  # a client that has seen nothing for this long shows the link lost

ID_PATTERN = r"^[A-Za-z0-9._:-]{1,64}$"
_ID = re.compile(ID_PATTERN)

Role = Literal["viewer", "operator", "engineer"]
ROLES: tuple[Role, ...] = ("viewer", "operator", "engineer")

_PACKML = frozenset(c.name for c in PACKML_COMMANDS)
_CONTROL = frozenset({TakeControl.name, ReleaseControl.name})
OPERATOR_COMMANDS: frozenset[str] = frozenset(
    _PACKML | _CONTROL | {"acknowledge_alarm", "reset_alarm", "change_setpoint", "set_mode"}
)
"""An operator's commands; ``set_mode`` to ``production`` only (``role_refusal``)."""
ENGINEER_COMMANDS: frozenset[str] = frozenset(
    OPERATOR_COMMANDS
    | {
        "load_recipe",
        "shelve_alarm",
        "unshelve_alarm",
        "remove_alarm_from_service",
        "return_alarm_to_service",
        "jog_web",
    }
)
API_COMMANDS: frozenset[str] = ENGINEER_COMMANDS
"""The commands the API takes (``record`` is ``linecontrol record``'s own)."""
ROLE_COMMANDS: Mapping[Role, frozenset[str]] = {
    "viewer": frozenset(),
    "operator": OPERATOR_COMMANDS,
    "engineer": ENGINEER_COMMANDS,
}
SERVER_SET = ("by", "at")  # fields the server sets from the caller, never from the body


class ApiError(InvalidArgument):
    """An API request refused before it reached the line: HTTP ``status``, ``code``."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def body(self, request_id: str = "") -> dict[str, Any]:
        return {
            "ok": False,
            "request_id": request_id,
            "error": {"code": self.code, "message": self.message},
        }


class BadRequest(ApiError):
    """Malformed JSON, an unknown command, a bad field (400)."""


class TooLarge(ApiError):
    status = 413
    code = "too_large"


class Forbidden(ApiError):
    """Beyond the caller's role (403)."""

    status = 403
    code = "forbidden"


class NoControl(ApiError):
    """Another client holds control, or nobody does (423)."""

    status = 423
    code = "no_control"


class BodyTimeout(ApiError):
    """The body did not come in time: shorter than its Content-Length, or trickled (408)."""

    status = 408
    code = "timeout"


class ShuttingDown(ApiError):
    """The server is stopping the line and closing (503): no command is taken."""

    status = 503
    code = "shutting_down"


def valid_id(text: object) -> bool:
    return isinstance(text, str) and _ID.match(text) is not None


def decode_body(raw: bytes) -> dict[str, Any]:
    """The JSON object of a request body: ``TooLarge`` above ``MAX_BODY_BYTES``,
    ``BadRequest`` for what is not UTF-8 JSON of one object."""
    if len(raw) > MAX_BODY_BYTES:
        raise TooLarge(f"the body has {len(raw)} bytes: at most {MAX_BODY_BYTES}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the body is not UTF-8: {exc.reason} at byte {exc.start}") from None
    try:
        data = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except ValueError as exc:
        raise BadRequest(f"the body is not JSON: {exc}") from None
    except RecursionError:  # arrays or objects nested thousands deep: no command is
        raise BadRequest("the body is JSON nested too deep: no command is") from None
    if not isinstance(data, dict):
        raise BadRequest(f"the body is a JSON {type(data).__name__}: a JSON object is needed")
    return data


def _no_constant(name: str) -> Any:
    raise BadRequest(f"{name} is no JSON number (non-finite numbers are refused)")


def _finite_float(text: str) -> float:
    """A JSON number as a float; one past a float's range (``1e400``: JSON, but an
    infinity in Python) is refused as the non-finite constants are."""
    value = float(text)
    if not math.isfinite(value):
        raise BadRequest(f"{text} is past a float's range (non-finite numbers are refused)")
    return value


def request_id_of(data: Mapping[str, Any]) -> str:
    """The request's id, checked: ``BadRequest`` when missing or malformed."""
    rid = data.get("request_id")
    if not valid_id(rid):
        raise BadRequest(
            f"request_id = {rid!r}: 1 to 64 characters of A-Z a-z 0-9 . _ : - are needed"
        )
    assert isinstance(rid, str)
    return rid


def parse_command(data: Mapping[str, Any], by: str, at: float) -> Command:
    """The typed command of a request ``data`` given by ``by`` at wall time ``at``;
    ``BadRequest`` for an unknown command, a field set by the server, or a field that
    does not validate (the message names the field, the value and what is allowed)."""
    fields = dict(data)
    name = fields.pop("command", None)
    if not isinstance(name, str) or name not in API_COMMANDS:
        known = ", ".join(sorted(API_COMMANDS))
        raise BadRequest(f"unknown command {name!r}: the API takes {known}")
    request_id_of(fields)
    for key in SERVER_SET:
        if key in fields:
            raise BadRequest(f"{key!r} is set by the server from the caller: leave it out")
    for key, value in fields.items():
        if isinstance(value, str) and len(value) > MAX_TEXT_CHARS:
            raise BadRequest(
                f"{name}: {key} has {len(value)} characters: at most {MAX_TEXT_CHARS}"
            )
    cls = COMMAND_TYPES[name]
    try:
        return cls.from_fields({**fields, "by": by, "at": at})
    except ValidationError as exc:
        raise BadRequest(f"{name}: {_validation_text(exc)}") from None


def _validation_text(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "(body)"
        if err["type"] == "extra_forbidden":
            parts.append(f"{loc} = {err.get('input')!r}: no such field")
        elif err["type"] == "missing":
            parts.append(f"{loc}: required")
        else:
            shown = repr(err.get("input"))
            shown = shown if len(shown) <= 80 else shown[:77] + "..."
            parts.append(f"{loc} = {shown}: {err['msg']}")
    return "; ".join(parts)


def role_refusal(role: Role, command: Command) -> str:
    """Why ``role`` may not give ``command`` (empty: it may)."""
    if command.name not in ROLE_COMMANDS[role]:
        need = "operator" if command.name in OPERATOR_COMMANDS else "engineer"
        return f"{command.name} needs the {need} role; {command.by} has the {role} role"
    mode = getattr(command, "mode", None)
    if command.name == "set_mode" and mode != "production" and role != "engineer":
        return f"set_mode {mode} needs the engineer role; {command.by} has the {role} role"
    return ""


def accepted_body(request_id: str) -> dict[str, Any]:
    return {"ok": True, "request_id": request_id, "result": "accepted"}


def rejected_body(request_id: str, reason: str, code: str = "rejected") -> dict[str, Any]:
    return {"ok": False, "request_id": request_id, "error": {"code": code, "message": reason}}


# ---------------------------------------------------------------- the stream
def finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def jsonable(value: Any) -> Any:
    """``value`` with every non-finite float replaced by ``None`` (dicts, lists, tuples)."""
    if isinstance(value, float):
        return finite_or_none(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def event_envelope(event: Event, seq: int, t_mono: float, t_wall: float) -> dict[str, Any]:
    """An event as the run log writes it: ``seq`` (the server's count of events),
    ``t_mono``, ``t_wall``, ``type``, ``v`` and ``data`` (no CRC: the stream is no file)."""
    return {
        "seq": seq,
        "t_mono": t_mono,
        "t_wall": t_wall,
        "type": event.type_name,
        "v": event.schema_version,
        "data": jsonable(event.to_data()),
    }


def full_message(state: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "full", "state": state}


def values_message(t: float, values: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "values", "t": t, "values": values}


def status_message(supervisor: Mapping[str, Any], control: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "status", "supervisor": supervisor, "control": control}


def event_message(envelope: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "event", "event": envelope}


def heartbeat_message(t: float) -> dict[str, Any]:
    return {"type": "heartbeat", "t": t}


def resync_message(reason: str) -> dict[str, Any]:
    return {"type": "resync", "reason": reason}


def with_seq(message: Mapping[str, Any], seq: int) -> dict[str, Any]:
    """The message as sent: ``seq`` beside ``type``; a full state carries it too."""
    out = {"type": message["type"], "seq": seq, **message}
    if out["type"] == "full":
        out["state"] = {**out["state"], "seq": seq}
    return out


def dumps(message: Mapping[str, Any]) -> str:
    """JSON text of a message (``allow_nan=False``: a NaN left in is a bug, not a value)."""
    return json.dumps(message, allow_nan=False, separators=(",", ":"))
