"""The local API's JSON schema (pure): generated from the model's registries with
pydantic, so it cannot drift from what the server speaks and the run log writes.

``api_schema()`` is what ``linecontrol api schema`` prints and ``GET /v1/schema``
serves: versioned (``api``: the protocol version, ``schema_version``: this document's
layout), with

- ``commands``: every command the API takes, by wire name: ``request`` (the body a
  client posts: ``command``, ``request_id``, the command's fields; never ``by`` or
  ``at``), ``wire`` (the command as the run log keeps it, inside ``CommandGiven`` and
  ``CommandRejected``) and the ``roles`` that may give it;
- ``events``: every event type by name: its version ``v`` and the schema of its
  ``data`` (a command's events: one of the commands' wire forms);
- ``replay_commands``: the commands of a replay (``linecontrol replay``: pause,
  resume, speed, seek, step), from any role;
- ``messages``: the stream's messages (``full``, ``values``, ``status``, ``event``,
  ``heartbeat``, ``resync``) and ``replies`` (a command's answer, an error).
"""

from __future__ import annotations

import copy
from typing import Any

from linecontrol.api import protocol as p
from linecontrol.model import COMMAND_TYPES, EVENT_TYPES, Command, Event

SCHEMA_VERSION = 1
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _fields(cls: type[Command]) -> dict[str, Any]:
    return cls.model_json_schema(ref_template="#/$defs/{model}")


def command_wire(cls: type[Command]) -> dict[str, Any]:
    """A command's run-log wire form: ``command`` (its name) and its fields."""
    s = copy.deepcopy(_fields(cls))
    s["properties"] = {"command": {"const": cls.name}, **s["properties"]}
    s["required"] = ["command", *s.get("required", [])]
    s.pop("title", None)
    return s


def command_request(cls: type[Command]) -> dict[str, Any]:
    """The body a client posts: the wire form without ``by`` and ``at`` (the server
    sets them), ``request_id`` required."""
    s = command_wire(cls)
    for key in p.SERVER_SET:
        s["properties"].pop(key, None)
    s["properties"]["request_id"] = {"type": "string", "pattern": p.ID_PATTERN}
    s["required"] = [
        r for r in dict.fromkeys([*s["required"], "request_id"]) if r not in p.SERVER_SET
    ]
    return s


def _wire_ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/commands/{name}/wire"}


def _event_data(cls: type[Event]) -> dict[str, Any]:
    every_command = {"oneOf": [_wire_ref(n) for n in sorted(COMMAND_TYPES)]}
    if cls.__name__ == "CommandGiven":
        return every_command
    s = copy.deepcopy(
        cls.model_json_schema(ref_template=f"#/events/{cls.__name__}/data/$defs/{{model}}")
    )
    if "command" in s.get("properties", {}):
        s["properties"]["command"] = every_command
        s.get("$defs", {}).pop("Command", None)
        if not s.get("$defs"):
            s.pop("$defs", None)
    s.pop("title", None)
    return s


def _roles_of(name: str) -> list[str]:
    return [r for r in p.ROLES if name in p.ROLE_COMMANDS[r]]


NUMBER_OR_NULL = {"type": ["number", "null"]}
VALUE = {
    "type": "array",
    "prefixItems": [
        NUMBER_OR_NULL,
        {"enum": ["GOOD", "STALE", "INVALID", "WAITING"]},
        NUMBER_OR_NULL,
    ],
    "minItems": 3,
    "maxItems": 3,
    "description": "[value or null (not finite, never answered), quality, wall time of "
    "the latest answer or null]",
}


def _message(kind: str, props: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "type": {"const": kind},
            "seq": {"type": "integer", "minimum": 1},
            **props,
        },
        "required": ["type", "seq", *props],
    }


def _source() -> dict[str, Any]:
    """What the full state is of: a live line, or a logged run replayed (``linecontrol
    replay``) at a position."""
    number = {"type": "number"}
    position = {
        "type": "object",
        "required": ["t_s", "t_mono", "t_wall", "metre", "row", "event"],
        "properties": {
            "t_s": number, "t_mono": number, "t_wall": number, "metre": NUMBER_OR_NULL,
            "row": {"type": "integer", "minimum": 0},
            "event": {"type": "integer", "minimum": 0},
        },
    }  # fmt: skip
    trend = {
        "type": "object",
        "required": ["span_s", "t_wall", "values"],
        "properties": {
            "span_s": number,
            "t_wall": {"type": "array", "items": number},
            "values": {
                "type": "object",
                "additionalProperties": {"type": "array", "items": NUMBER_OR_NULL},
            },
        },
    }
    replay = {
        "type": "object",
        "required": ["kind", "run", "position", "span", "speed", "paused", "finished", "trend"],
        "properties": {
            "kind": {"const": "replay"},
            "run": {"type": "string"},
            "position": position,
            "span": {
                "type": "object",
                "properties": {
                    "t_s": number,
                    "rows": {"type": "integer"},
                    "events": {"type": "integer"},
                },
            },
            "speed": {"type": "number", "minimum": 0.1, "maximum": 1000},
            "paused": {"type": "boolean"},
            "finished": {"type": "boolean"},
            "trend": trend,
        },
    }
    live = {"type": "object", "required": ["kind"], "properties": {"kind": {"const": "live"}}}
    return {"oneOf": [live, replay]}


def replay_commands() -> dict[str, Any]:
    """The commands of a replay (``linecontrol replay``), from any role; a live serve
    knows none of them."""
    base = {"command": None, "request_id": {"type": "string", "pattern": p.ID_PATTERN},
            "reason": {"type": "string"}}  # fmt: skip
    fields: dict[str, dict[str, Any]] = {
        "replay_pause": {},
        "replay_resume": {},
        "replay_speed": {"speed": {"type": "number", "minimum": 0.1, "maximum": 1000}},
        "replay_seek": {"t_s": {"type": "number"}, "metre": {"type": "number"}},
        "replay_step": {},
    }
    out: dict[str, Any] = {}
    for name, extra in fields.items():
        props = {**base, "command": {"const": name}, **extra}
        required = ["command", "request_id", *(["speed"] if name == "replay_speed" else [])]
        request: dict[str, Any] = {
            "type": "object", "properties": props, "required": required,
            "additionalProperties": False,
        }  # fmt: skip
        if name == "replay_seek":
            request["oneOf"] = [{"required": ["t_s"]}, {"required": ["metre"]}]
        out[name] = {"request": request, "roles": list(p.ROLES)}
    return out


def _messages() -> dict[str, Any]:
    values = {"type": "object", "additionalProperties": VALUE}
    full_state = {
        "type": "object",
        "required": [
            "api",
            "server_time",
            "mode",
            "you",
            "control",
            "line",
            "supervisor",
            "bands",
            "values",
            "alarms",
            "run",
            "seq",
            "source",
        ],
        "properties": {
            "api": {"const": p.API_VERSION},
            "server_time": {"type": "number"},
            "mode": {"enum": ["live", "replay"]},
            "you": {
                "type": "object",
                "properties": {
                    "user": {"type": "string"},
                    "role": {"enum": list(p.ROLES)},
                    "client": {"type": "string"},
                },
            },
            "control": {"$ref": "#/definitions/control"},
            "line": {"type": "object"},
            "supervisor": {"$ref": "#/definitions/supervisor"},
            "bands": {"type": "object"},
            "values": values,
            "alarms": {"type": "array", "items": {"type": "object"}},
            "run": {"type": "object"},
            "seq": {"type": "integer", "minimum": 0},
            "source": _source(),
        },
    }
    envelope = {
        "type": "object",
        "required": ["seq", "t_mono", "t_wall", "type", "v", "data"],
        "properties": {
            "seq": {"type": "integer"},
            "t_mono": {"type": "number"},
            "t_wall": {"type": "number"},
            "type": {"enum": sorted(EVENT_TYPES)},
            "v": {"type": "integer", "minimum": 1},
            "data": {"type": "object"},
        },
    }
    return {
        "full": _message("full", {"state": full_state}),
        "values": _message("values", {"t": {"type": "number"}, "values": values}),
        "status": _message(
            "status",
            {
                "supervisor": {"$ref": "#/definitions/supervisor"},
                "control": {"$ref": "#/definitions/control"},
            },
        ),
        "event": _message("event", {"event": envelope}),
        "heartbeat": _message("heartbeat", {"t": {"type": "number"}}),
        "resync": _message("resync", {"reason": {"type": "string"}}),
    }


def _replies() -> dict[str, Any]:
    codes = [
        "rejected", "forbidden", "no_control", "bad_request", "too_large", "timeout",
        "unauthorized", "shutting_down", "not_found", "method_not_allowed", "replay",
    ]  # fmt: skip
    return {
        "accepted": {
            "type": "object",
            "required": ["ok", "request_id", "result"],
            "properties": {
                "ok": {"const": True},
                "request_id": {"type": "string"},
                "result": {"const": "accepted"},
                "previous": {"type": ["number", "null"]},
            },
        },
        "error": {
            "type": "object",
            "required": ["ok", "request_id", "error"],
            "properties": {
                "ok": {"const": False},
                "request_id": {"type": "string"},
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {"code": {"enum": codes}, "message": {"type": "string"}},
                },
            },
        },
    }


def api_schema() -> dict[str, Any]:
    """The whole schema document (see the module docstring)."""
    commands = {
        name: {
            "wire": command_wire(cls),
            **({"request": command_request(cls)} if name in p.API_COMMANDS else {}),
            "roles": _roles_of(name),
        }
        for name, cls in sorted(COMMAND_TYPES.items())
    }
    events = {
        name: {"v": cls.version, "data": _event_data(cls)}
        for name, cls in sorted(EVENT_TYPES.items())
    }
    return {
        "$schema": DIALECT,
        "title": "linecontrol local API",
        "api": p.API_VERSION,
        "schema_version": SCHEMA_VERSION,
        "limits": {
            "max_body_bytes": p.MAX_BODY_BYTES,
            "verdict_deadline_s": p.VERDICT_DEADLINE_S,
            "stream_hz": p.STREAM_HZ,
            "heartbeat_s": p.HEARTBEAT_S,
            "lost_after_s": p.LOST_AFTER_S,
        },
        "definitions": {
            "control": {
                "type": "object",
                "properties": {"holder": {"type": ["string", "null"]}},
                "required": ["holder"],
            },
            "supervisor": {
                "type": "object",
                "properties": {
                    "state": {"type": "string"},
                    "state_number": {"type": "integer"},
                    "mode": {"type": "string"},
                    "allowed": {"type": "array", "items": {"type": "string"}},
                    "first_out": {"type": "string"},
                    "recipe": {"type": ["string", "null"]},
                    "step": {"type": "string"},
                    "waiting_for": {"type": "array", "items": {"type": "string"}},
                    "interlocks": {"type": "array", "items": {"type": "string"}},
                    "steps": {"type": "integer"},
                    "web_position_m": NUMBER_OR_NULL,
                    "line_speed": NUMBER_OR_NULL,
                    "metres_done": NUMBER_OR_NULL,
                    "metres_to_go": NUMBER_OR_NULL,
                },
                "required": ["state"],
            },
        },
        "commands": commands,
        "replay_commands": replay_commands(),
        "events": events,
        "messages": _messages(),
        "replies": _replies(),
    }
