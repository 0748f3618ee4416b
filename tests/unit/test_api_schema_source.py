"""The full state's ``source`` in the schema: a live serve's (``kind: live``) is valid;
one without it, or a replay's without its position, is not; the replay commands are
listed for every role and validate their requests."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import numpy as np
import pytest

from linecontrol.api import api_schema
from linecontrol.server.hub import Caller, Hub
from tests.unit.test_api_schema import validator


def _live_full(tmp_path: Any) -> dict[str, Any]:
    clock = SimpleNamespace(monotonic=lambda: 10.0, wall=lambda: 1000.0)
    supervisor = SimpleNamespace(
        status=lambda: {"state": "Stopped"}, bands=list, alarm_states=lambda: ({}, {})
    )
    snap = SimpleNamespace(values=np.zeros(0), quality=np.zeros(0, np.uint8), t_good=np.zeros(0))
    line = SimpleNamespace(devices={}, stations=[], line=SimpleNamespace(name="l"))
    log = SimpleNamespace(dir=tmp_path, meta=SimpleNamespace(run_id="r", start_wall=1.0))
    session = SimpleNamespace(
        listeners=[], acq=SimpleNamespace(channels=[], snapshot=snap), clock=clock,
        supervisor=supervisor, line=line, log=log,
    )  # fmt: skip
    hub = Hub(cast(Any, session), cast(Any, SimpleNamespace(stream_queue=10)))
    return hub.full_state(Caller("ana", "operator", "t"))


def test_a_live_full_state_says_live_and_is_valid(tmp_path: Any) -> None:
    doc = api_schema()
    v = validator(doc, doc["messages"]["full"])
    state = _live_full(tmp_path)
    assert state["source"] == {"kind": "live"}
    v.validate({"type": "full", "seq": 1, "state": state})
    without = {k: x for k, x in state.items() if k != "source"}
    assert not v.is_valid({"type": "full", "seq": 1, "state": without})
    replay = {**state, "source": {"kind": "replay", "run": "r"}}  # no position
    assert not v.is_valid({"type": "full", "seq": 1, "state": replay})


@pytest.mark.parametrize(
    ("body", "ok"),
    [
        ({"command": "replay_pause", "request_id": "a"}, True),
        ({"command": "replay_speed", "request_id": "a", "speed": 250}, True),
        ({"command": "replay_speed", "request_id": "a", "speed": 5000}, False),
        ({"command": "replay_speed", "request_id": "a"}, False),
        ({"command": "replay_seek", "request_id": "a", "t_s": 12.5}, True),
        ({"command": "replay_seek", "request_id": "a", "metre": 40}, True),
        ({"command": "replay_seek", "request_id": "a"}, False),
        ({"command": "replay_seek", "request_id": "a", "t_s": 1, "metre": 2}, False),
        ({"command": "replay_step", "request_id": "a", "row": 3}, False),
    ],
)
def test_the_replay_commands_validate_their_requests(body: dict[str, Any], ok: bool) -> None:
    doc = api_schema()
    spec = doc["replay_commands"][body["command"]]
    assert spec["roles"] == ["viewer", "operator", "engineer"]
    assert validator(doc, spec["request"]).is_valid(body) is ok
