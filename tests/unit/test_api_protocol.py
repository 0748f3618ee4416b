"""The API's wire protocol (pure): request bodies, command parsing, roles, stream
messages, and the bearer tokens and roles of linecontrol.server.auth."""

from __future__ import annotations

import json
import math
import tomllib
from typing import Any

import pytest

from linecontrol.api import (
    MAX_BODY_BYTES,
    ROLE_COMMANDS,
    BadRequest,
    TooLarge,
    decode_body,
    dumps,
    full_message,
    jsonable,
    parse_command,
    role_refusal,
    with_seq,
)
from linecontrol.cli.entry import main
from linecontrol.config import ROLES, ApiSettings
from linecontrol.model import ChangeSetpoint, LoadRecipe, SetMode, Start
from linecontrol.server.auth import Unauthorized, new_token, role_of_token, role_of_uid


def test_a_body_is_one_json_object_of_at_most_64_kib() -> None:
    assert decode_body(b'{"a": 1}') == {"a": 1}
    with pytest.raises(TooLarge, match="at most 65536"):
        decode_body(b" " * (MAX_BODY_BYTES + 1))
    for raw, words in [
        (b"{", "not JSON"),
        (b"[]", "JSON object"),
        (b"\xff", "not UTF-8"),
        (b'{"v": NaN}', "NaN"),
        (b'{"v": Infinity}', "Infinity"),
        # JSON, but an infinity in Python: it reached the hub, whose digest of the body
        # (allow_nan=False) raised ValueError, a 500
        (b'{"v": 1e400}', "1e400 is past a float's range"),
        (b'{"v": -1E+999}', "-1E\\+999 is past"),
    ]:
        with pytest.raises(BadRequest, match=words):
            decode_body(raw)


@pytest.mark.parametrize("opening", [b"[", b'{"a":'])
def test_json_nested_too_deep_is_a_bad_request_not_a_crash(opening: bytes) -> None:
    # Within 64 KiB, nested deeper than Python's recursion limit: json raises
    # RecursionError, which was a 500 with a traceback in serve's log.
    raw = (b'{"x":' + opening * 30_000)[:MAX_BODY_BYTES]
    with pytest.raises(BadRequest, match="nested too deep"):
        decode_body(raw)


def test_a_command_is_parsed_with_the_caller_and_time_set_by_the_server() -> None:
    cmd = parse_command(
        {"command": "change_setpoint", "request_id": "r-1", "field": "press.roll_load_kg",
         "value": 15.5, "reason": "trial"},
        "ana@tui-1", 1.7e9,
    )  # fmt: skip
    assert cmd == ChangeSetpoint(by="ana@tui-1", at=1.7e9, request_id="r-1", reason="trial",
                                 field="press.roll_load_kg", value=15.5)  # fmt: skip
    cases: list[tuple[dict[str, Any], str]] = [
        ({"command": "record", "request_id": "r", "duration_s": 1.0, "simulated": True},
         "unknown command 'record'"),
        ({"request_id": "r"}, "unknown command None"),
        ({"command": "start"}, "request_id = None"),
        ({"command": "start", "request_id": "has space"}, "request_id = 'has space'"),
        ({"command": "start", "request_id": "x" * 65}, "1 to 64"),
        ({"command": "start", "request_id": "r", "at": 1.0}, "'at' is set by the server"),
        ({"command": "set_mode", "request_id": "r", "mode": "turbo"}, "mode = 'turbo'"),
        ({"command": "change_setpoint", "request_id": "r", "field": "f", "value": True},
         "value = True"),
        ({"command": "shelve_alarm", "request_id": "r", "alarm": "a", "duration_s": 5.0},
         "reason"),
        # A refused command is logged with its fields: no field may fill the run log.
        ({"command": "start", "request_id": "r", "reason": "x" * 1001},
         "reason has 1001 characters: at most 1000"),
        ({"command": "load_recipe", "request_id": "r", "path": "p" * 5000}, "path has 5000"),
    ]  # fmt: skip
    for data, words in cases:
        with pytest.raises(BadRequest, match=words):
            parse_command(data, "ana@t", 1.0)
    # A field's bad value is shown, shortened: an error never echoes a whole body.
    with pytest.raises(BadRequest) as bad:
        parse_command({"command": "change_setpoint", "request_id": "r", "field": "f",
                       "value": [1] * 300}, "ana@t", 1.0)  # fmt: skip
    assert len(str(bad.value)) < 300


def test_roles_viewer_reads_operator_runs_engineer_sets_up() -> None:
    start = Start(by="v@t")
    assert "operator" in role_refusal("viewer", start)
    # No article to get wrong ("is a operator"): the role is named as a role.
    load = LoadRecipe(by="o@t", path="r.toml")
    assert role_refusal("operator", load).endswith("o@t has the operator role")
    assert role_refusal("operator", start) == role_refusal("engineer", start) == ""
    assert role_refusal("operator", SetMode(by="o@t", mode="production")) == ""
    assert "engineer" in role_refusal("operator", SetMode(by="o@t", mode="manual"))
    assert role_refusal("engineer", SetMode(by="e@t", mode="maintenance")) == ""
    assert ROLE_COMMANDS["viewer"] == frozenset()
    assert ROLE_COMMANDS["operator"] < ROLE_COMMANDS["engineer"]
    assert {"load_recipe", "shelve_alarm", "jog_web"} <= ROLE_COMMANDS["engineer"] - ROLE_COMMANDS[
        "operator"
    ]
    assert {"start", "acknowledge_alarm", "change_setpoint", "take_control"} <= ROLE_COMMANDS[
        "operator"
    ]
    assert tuple(ROLE_COMMANDS) == ROLES


def test_non_finite_numbers_are_null_on_the_wire_and_seq_is_set_when_sent() -> None:
    assert jsonable({"a": [math.nan, 1.0, (math.inf,)], "b": {"c": -math.inf}}) == {
        "a": [None, 1.0, [None]], "b": {"c": None}
    }  # fmt: skip
    with pytest.raises(ValueError):
        dumps({"v": math.nan})
    sent = with_seq(full_message({"api": 1, "seq": 0}), 5)
    assert sent == {"type": "full", "seq": 5, "state": {"api": 1, "seq": 5}}
    assert json.loads(dumps(sent)) == sent


def test_roles_of_uids_and_tokens() -> None:
    token, digest = new_token()
    settings = ApiSettings.model_validate({
        "owner_role": "engineer", "default_role": "viewer", "users": {"12345": "operator"},
        "tokens": {"scada": {"sha256": digest, "role": "operator"}},
    })  # fmt: skip
    assert role_of_uid(settings, 1000, owner_uid=1000) == "engineer"
    assert role_of_uid(settings, 12345, owner_uid=1000) == "operator"
    assert role_of_uid(settings, 54321, owner_uid=1000) == "viewer"
    assert role_of_token(settings, f"Bearer {token}") == ("scada", "operator")
    # The scheme is case-insensitive (RFC 7235): curl and libraries may send "bearer".
    assert role_of_token(settings, f"bearer {token}") == ("scada", "operator")
    assert role_of_token(settings, f"BEARER  {token} ") == ("scada", "operator")
    for header in (None, token, "Bearer wrong", f"Basic {token}", "Bearer", "Bearer "):
        with pytest.raises(Unauthorized):
            role_of_token(settings, header)


def test_api_token_prints_a_token_and_the_toml_that_keeps_only_its_hash(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["api", "token", "scada", "--role", "operator"]) == 0
    out = capsys.readouterr().out
    token = out.splitlines()[0].removeprefix("token: ")
    assert token not in out.split("\n", 1)[1]  # the TOML has no token
    settings = ApiSettings.model_validate(tomllib.loads(out.split("\n", 1)[1])["api"])
    assert role_of_token(settings, f"Bearer {token}") == ("scada", "operator")
    assert main(["api", "token", "bad name", "--role", "viewer"]) == 2
