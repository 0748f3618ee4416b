"""The supervisor's commands and events: wire names, exact round trips through the
run-log wire form, strict validation (extra fields, wrong types, non-finite numbers
refused). Every event type's round trip is also in test_events (its STRATEGIES)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from linecontrol.errors import InvalidArgument
from linecontrol.model import (
    COMMAND_TYPES,
    PACKML_COMMANDS,
    Abort,
    ChangeSetpoint,
    Clear,
    Command,
    CommandGiven,
    CommandRejected,
    Hold,
    JogWeb,
    LoadRecipe,
    ModeChanged,
    Reset,
    SetMode,
    Start,
    StateChanged,
    Stop,
    Suspend,
    Unhold,
    UnknownEvent,
    Unsuspend,
    command_from_data,
    control_commands,
    decode_event,
)
from linecontrol.runlog import decode_line, encode_event

text = st.text(max_size=12)
finite = st.floats(allow_nan=False, allow_infinity=False)
who = {"by": text, "request_id": text, "at": st.none() | finite, "reason": text}
CONTROL_COMMANDS: st.SearchStrategy[Command] = st.one_of(
    *(st.builds(c, **who) for c in PACKML_COMMANDS),
    st.builds(SetMode, mode=st.sampled_from(["production", "maintenance", "manual"]), **who),
    st.builds(LoadRecipe, path=text, **who),
    st.builds(ChangeSetpoint, field=text, value=finite, **who),
    st.builds(JogWeb, speed_m_min=finite, **who),
)


def test_wire_names() -> None:
    names = {c.name: c for c in control_commands.TYPES}
    assert names == {
        "reset": Reset,
        "start": Start,
        "stop": Stop,
        "hold": Hold,
        "unhold": Unhold,
        "suspend": Suspend,
        "unsuspend": Unsuspend,
        "abort": Abort,
        "clear": Clear,
        "set_mode": SetMode,
        "load_recipe": LoadRecipe,
        "change_setpoint": ChangeSetpoint,
        "jog_web": JogWeb,
    }
    assert {n: COMMAND_TYPES[n] for n in names} == names
    assert {c.version for c in control_commands.TYPES} == {1}
    # The PackML commands carry only who, request id, when and why.
    assert all(set(c.model_fields) == {"by", "request_id", "at", "reason"} for c in PACKML_COMMANDS)


def test_golden_wire_form() -> None:
    cmd = ChangeSetpoint(
        by="ana",
        request_id="r7",
        at=1.8e9,
        reason="trial",
        field="press.roll_load_kg",
        value=1200.0,
    )
    assert cmd.to_data() == {
        "command": "change_setpoint",
        "by": "ana",
        "request_id": "r7",
        "at": 1.8e9,
        "reason": "trial",
        "field": "press.roll_load_kg",
        "value": 1200.0,
    }
    assert Start(by="ana").to_data() == {
        "command": "start",
        "by": "ana",
        "request_id": "",
        "at": None,
        "reason": "",
    }


@given(CONTROL_COMMANDS, st.integers(1, 2**40), finite, finite)
def test_every_command_round_trips_through_the_run_log(
    cmd: Command, seq: int, t_mono: float, t_wall: float
) -> None:
    assert command_from_data(json.loads(json.dumps(cmd.to_data()))) == cmd
    line = encode_event(seq, t_mono, t_wall, CommandGiven(command=cmd))
    got = decode_line(line[:-1])
    assert got is not None and got.event == CommandGiven(command=cmd)
    assert isinstance(got.event, CommandGiven) and type(got.event.command) is type(cmd)
    assert encode_event(got.seq, got.t_mono, got.t_wall, got.event) == line


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"command": "start", "by": "ana", "speed": 1.0}, "speed"),  # no extra field
        ({"command": "start"}, "by"),  # who is required
        ({"command": "set_mode", "by": "ana", "mode": "auto"}, "mode"),
        ({"command": "set_mode", "by": "ana", "mode": "Production"}, "mode"),
        ({"command": "set_mode", "by": "ana"}, "mode"),
        ({"command": "load_recipe", "by": "ana", "path": 3}, "path"),
        ({"command": "change_setpoint", "by": "ana", "field": "x", "value": "1.0"}, "value"),
        ({"command": "change_setpoint", "by": "ana", "field": "x", "value": True}, "value"),
        ({"command": "change_setpoint", "by": "ana", "value": 1.0}, "field"),
        ({"command": "jog_web", "by": "ana", "speed_m_min": None}, "speed_m_min"),
        ({"command": "reset", "by": 7}, "by"),
    ],
)
def test_wrong_fields_are_refused_with_the_field_named(data: dict[str, Any], where: str) -> None:
    with pytest.raises(ValidationError, match=rf"(?m)^{where}$"):  # the field's own line
        command_from_data(data)
    # In the run log, such a command is kept as it was, not dropped.
    got = decode_event("CommandGiven", 1, data)
    assert isinstance(got, UnknownEvent) and got.data == data
    assert got.problem.startswith(f"data does not match CommandGiven v1: {where}: ")


def test_an_unknown_command_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="unknown command 'run'"):
        command_from_data({"command": "run", "by": "ana"})


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_refused_never_clamped(bad: float) -> None:
    with pytest.raises(ValidationError, match="finite"):
        ChangeSetpoint(by="ana", field="press.roll_load_kg", value=bad)
    with pytest.raises(ValidationError, match="finite"):
        JogWeb(by="ana", speed_m_min=bad)
    with pytest.raises(ValidationError, match="finite"):
        Start(by="ana", at=bad)
    # Read back from JSON (Python's json writes NaN and Infinity): refused too.
    for data in (
        {"command": "change_setpoint", "by": "ana", "field": "x", "value": bad},
        {"command": "jog_web", "by": "ana", "speed_m_min": bad},
    ):
        with pytest.raises(ValidationError, match="finite"):
            command_from_data(data)


def test_commands_are_frozen() -> None:
    cmd = JogWeb(by="ana", speed_m_min=2.0)
    with pytest.raises(ValidationError):
        cmd.speed_m_min = 3.0  # frozen: refused at run time


# ------------------------------------------------------------------ events
def test_event_wire_forms() -> None:
    changed = StateChanged(
        old="Execute", new="Holding", mode="production", cause="web break", first_out="web break"
    )
    assert changed.to_data() == {
        "old": "Execute",
        "new": "Holding",
        "mode": "production",
        "cause": "web break",
        "by": "",
        "first_out": "web break",
    }
    assert ModeChanged(old="production", new="manual", by="eve").to_data() == {
        "old": "production",
        "new": "manual",
        "by": "eve",
    }
    rejected = CommandRejected(
        command=Start(by="ana", request_id="r1"), reason="start is not allowed in Stopped"
    )
    # The command as CommandGiven has it: its wire name under "command", then its fields.
    assert rejected.to_data() == {
        "command": {"command": "start", "by": "ana", "request_id": "r1", "at": None, "reason": ""},
        "reason": "start is not allowed in Stopped",
    }
    for event in (changed, rejected):
        line = encode_event(3, 1.5, 1.8e9, event)
        got = decode_line(line[:-1])
        assert got is not None and got.event == event and type(got.event) is type(event)
        assert encode_event(got.seq, got.t_mono, got.t_wall, got.event) == line


@pytest.mark.parametrize(
    ("type_name", "data", "where"),
    [
        ("StateChanged", {"old": "Run", "new": "Idle", "mode": "production", "cause": "x"}, "old"),
        ("StateChanged", {"old": "Idle", "new": "Idle", "mode": "auto", "cause": "x"}, "mode"),
        ("StateChanged", {"old": "Idle", "new": "Idle", "mode": "manual"}, "cause"),
        ("ModeChanged", {"old": "manual", "new": "manual", "by": "x", "when": 1}, "when"),
        ("CommandRejected", {"command": "start", "reason": "r"}, "command"),
        ("CommandRejected", {"command": {"command": "start", "by": "x"}}, "reason"),
        (
            "CommandRejected",
            {"command": {"command": "start", "by": "x", "z": 1}, "reason": ""},
            "command.z",
        ),
        ("CommandRejected", {"command": {"command": "fly", "by": "x"}, "reason": ""}, "command"),
        (
            "CommandRejected",
            {"command": {"command": "jog_web", "by": "x", "speed_m_min": math.inf}, "reason": ""},
            "command.speed_m_min",
        ),
    ],
)
def test_events_that_do_not_match_are_kept_not_typed(
    type_name: str, data: dict[str, Any], where: str
) -> None:
    got = decode_event(type_name, 1, data)
    assert isinstance(got, UnknownEvent) and got.data == data
    assert got.problem.startswith(f"data does not match {type_name} v1: {where}: ")
