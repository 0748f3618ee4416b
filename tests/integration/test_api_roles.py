"""Every command of the API for every role, against a real ``linecontrol serve`` child
whose owner (the test's own uid: a second uid is not available) has that role: a
command beyond the role is 403 and a CommandRejected naming the role in the run log;
one within it is never 403 (the supervisor may still refuse it). And ``--recipe``
loads the recipe at start."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from linecontrol.api import ROLE_COMMANDS, ROLES
from linecontrol.model import CommandRejected
from tests.integration.test_api_serve import RECIPE, line_config, post, serving, state

pytestmark = [pytest.mark.integration, pytest.mark.deadline(180)]

FIELDS: dict[str, dict[str, Any]] = {
    "take_control": {},
    "set_mode": {"mode": "production"},
    "load_recipe": {"path": str(RECIPE)},
    "change_setpoint": {"field": "press.roll_load_kg", "value": 15.0},
    "jog_web": {"speed_m_min": 0.0},
    "acknowledge_alarm": {"alarm": "o2_cure_high"},
    "reset_alarm": {"alarm": "o2_cure_high"},
    "shelve_alarm": {"alarm": "o2_cure_high", "reason": "sensor swap", "duration_s": 60.0},
    "unshelve_alarm": {"alarm": "o2_cure_high"},
    "remove_alarm_from_service": {"alarm": "o2_cure_high", "reason": "sensor swap"},
    "return_alarm_to_service": {"alarm": "o2_cure_high"},
    "reset": {}, "start": {}, "hold": {}, "unhold": {}, "suspend": {}, "unsuspend": {},
    "stop": {}, "clear": {}, "abort": {},
    "release_control": {},
}  # fmt: skip


def test_every_api_command_has_a_body_here() -> None:
    assert set(FIELDS) == set(ROLE_COMMANDS["engineer"])


@pytest.mark.parametrize("role", ROLES)
async def test_every_command_for_every_role(tmp_path: Path, role: str) -> None:
    config = line_config(tmp_path, f'[api]\nowner_role = "{role}"\n')
    extra = ("--recipe", str(RECIPE)) if role == "engineer" else ()
    with serving(tmp_path, *extra, config=config) as srv:
        async with srv.client(f"{role}-1") as http:
            if extra:  # --recipe: loaded at start, by serve
                async with asyncio.timeout(30.0), http.ws_connect("/v1/stream") as ws:
                    while (await state(http))["supervisor"]["recipe"] != "fault-run":
                        await ws.receive()
            replies = {}
            for i, (name, fields) in enumerate(FIELDS.items()):
                body = {"command": name, "request_id": f"{role}-{i}", **fields}
                replies[name] = await post(http, body)
        assert srv.stop() == 0
        events = srv.events()
    rejected = {e.command.request_id: e.reason for e in events if isinstance(e, CommandRejected)}
    for i, (name, (status, body)) in enumerate(replies.items()):
        if name in ROLE_COMMANDS[role]:  # type: ignore[index]
            assert status != 403, (name, body)
            assert status in (200, 409, 423), (name, body)
        else:
            assert (status, body["error"]["code"]) == (403, "forbidden"), (name, body)
            assert role in rejected[f"{role}-{i}"], rejected
    if role == "engineer":
        for name in ("take_control", "load_recipe", "release_control"):
            assert replies[name][0] == 200, (name, replies[name])
