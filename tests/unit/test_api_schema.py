"""The API's JSON schema (``linecontrol api schema``, ``GET /v1/schema``): generated from
the model's registries, every reference resolves, and what the protocol builds and the
run log writes validates against it."""

from __future__ import annotations

import io
import json
import re
from contextlib import redirect_stdout
from typing import Any

import jsonschema

from linecontrol.api import (
    API_COMMANDS,
    API_VERSION,
    ROLE_COMMANDS,
    SCHEMA_VERSION,
    api_schema,
    event_envelope,
    event_message,
    heartbeat_message,
    resync_message,
    values_message,
    with_seq,
)
from linecontrol.cli.entry import main
from linecontrol.model import (
    COMMAND_TYPES,
    EVENT_TYPES,
    ChangeSetpoint,
    CommandGiven,
    CommandRejected,
    ControlChanged,
    ShelveAlarm,
    Start,
    StateChanged,
    TakeControl,
)


def resolve(doc: dict[str, Any], ref: str) -> Any:
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def validator(doc: dict[str, Any], node: dict[str, Any]) -> Any:
    """A validator of ``node`` whose ``#/...`` references resolve in the whole ``doc``."""
    from referencing import Registry, Resource

    root = Resource.from_contents({**doc, "$schema": doc["$schema"]})
    registry = Registry().with_resource("urn:api", root)
    return jsonschema.Draft202012Validator(
        {"$ref": "urn:api#" + _pointer(doc, node)}, registry=registry
    )


def _pointer(doc: dict[str, Any], node: Any, path: str = "") -> str:
    if doc is node:
        return path
    if isinstance(doc, dict):
        for k, v in doc.items():
            found = _pointer(v, node, f"{path}/{k}")
            if found:
                return found
    return ""


def test_the_schema_covers_every_command_and_event_and_is_versioned() -> None:
    doc = api_schema()
    json.dumps(doc, allow_nan=False)
    assert (doc["api"], doc["schema_version"]) == (API_VERSION, SCHEMA_VERSION)
    jsonschema.Draft202012Validator.check_schema(doc)
    assert set(doc["commands"]) == set(COMMAND_TYPES)
    assert {n for n, c in doc["commands"].items() if "request" in c} == set(API_COMMANDS)
    assert set(doc["events"]) == set(EVENT_TYPES)
    for name, c in doc["commands"].items():
        assert c["roles"] == [r for r, cmds in ROLE_COMMANDS.items() if name in cmds]
    assert doc["commands"]["start"]["roles"] == ["operator", "engineer"]
    assert doc["commands"]["load_recipe"]["roles"] == ["engineer"]
    text = json.dumps(doc)
    for ref in set(re.findall(r'"\$ref": "([^"]+)"', text)):
        assert resolve(doc, ref) is not None, ref
    assert set(doc["messages"]) == {"full", "values", "status", "event", "heartbeat", "resync"}


def test_requests_and_run_log_forms_validate_and_bad_ones_do_not() -> None:
    doc = api_schema()
    req = validator(doc, doc["commands"]["change_setpoint"]["request"])
    assert req.is_valid({"command": "change_setpoint", "request_id": "a-1",
                         "field": "press.roll_load_kg", "value": 15.0})  # fmt: skip
    assert not req.is_valid({"command": "change_setpoint", "request_id": "a-1",
                             "field": "press.roll_load_kg", "value": "hot"})  # fmt: skip
    assert not req.is_valid({"command": "change_setpoint", "field": "x", "value": 1.0})
    assert not req.is_valid({"command": "change_setpoint", "request_id": "a-1", "by": "m",
                             "field": "x", "value": 1.0})  # fmt: skip
    shelve = validator(doc, doc["commands"]["shelve_alarm"]["request"])
    assert not shelve.is_valid({"command": "shelve_alarm", "request_id": "s", "alarm": "a",
                                "duration_s": 10.0})  # a reason is required  # fmt: skip
    samples = [
        CommandGiven(command=ChangeSetpoint(by="ana@t", request_id="r", at=1.0,
                                            field="press.roll_load_kg", value=14.0)),
        CommandGiven(command=TakeControl(by="ana@t", request_id="r", force=True)),
        CommandRejected(command=Start(by="v@t", request_id="r2"), reason="needs operator"),
        CommandRejected(
            command=ShelveAlarm(by="e@t", alarm="a", reason="maint", duration_s=60.0),
            reason="no such alarm",
        ),
        ControlChanged(old="", new="ana@t", by="ana@t"),
        StateChanged(old="Stopped", new="Resetting", mode="production", cause="reset"),
    ]  # fmt: skip
    for event in samples:
        data = validator(doc, doc["events"][event.type_name]["data"])
        assert data.is_valid(event.to_data()), event
        env = with_seq(event_message(event_envelope(event, 3, 1.0, 2.0)), 7)
        assert validator(doc, doc["messages"]["event"]).is_valid(env)
    assert not validator(doc, doc["events"]["ControlChanged"]["data"]).is_valid({"old": ""})
    for message, kind in [
        (values_message(1.0, {"d.c": [1.5, "GOOD", 1.0], "d.e": [None, "STALE", None]}),
         "values"),
        (heartbeat_message(2.0), "heartbeat"),
        (resync_message("behind"), "resync"),
    ]:  # fmt: skip
        assert validator(doc, doc["messages"][kind]).is_valid(with_seq(message, 2))
    bad = with_seq(values_message(1.0, {"d.c": [1.5, "FINE", 1.0]}), 2)
    assert not validator(doc, doc["messages"]["values"]).is_valid(bad)


def test_linecontrol_api_schema_prints_the_same_document() -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["api", "schema"]) == 0
    assert json.loads(out.getvalue()) == json.loads(json.dumps(api_schema()))
