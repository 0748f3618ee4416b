"""``linecontrol serve`` as a user runs it: a real child process on the simulated line
(``--sim --speedup 300``), driven over its Unix socket with aiohttp's UnixConnector:
commands with their verdicts, roles, the point of control, bad requests, idempotent
request ids, the audit in the run log, a clean stop on a signal and the socket's life.

The child runs in a session of its own and is killed with its group (the simulators
too) whatever the test does."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from linecontrol.config import DEFAULT_LINE
from linecontrol.model import CommandGiven, CommandRejected, ControlChanged, RecipeLoaded
from linecontrol.runlog import load_events

pytestmark = [pytest.mark.integration, pytest.mark.deadline(120)]

RECIPE = Path(__file__).parent / "data" / "fault-run.toml"
START_S = 60.0  # real seconds for serve to start (the simulators too)
EXECUTE_S = 80.0  # real seconds for the line to reach Execute at 300x
STOP_S = 60.0  # real seconds for serve to stop the line and exit


@dataclass
class Served:
    proc: subprocess.Popen[str]
    socket: Path
    data: Path
    run_id: str
    stderr: Path
    stdout: list[str]

    def client(self, client_id: str = "test-1") -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            base_url="http://linecontrol",
            connector=aiohttp.UnixConnector(path=str(self.socket)),
            headers={"X-Client-Id": client_id},
        )

    def stop(self, sig: signal.Signals = signal.SIGINT) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=STOP_S)

    def events(self) -> list[Any]:
        return [e.event for e in load_events(self.data / self.run_id).events]


def line_config(tmp_path: Path, api: str) -> Path:
    """The embedded line with its ``[api]`` table replaced by ``api``."""
    text = DEFAULT_LINE.read_text(encoding="utf-8")
    head, sep, _ = text.partition("\n[api]\n")
    assert sep, "the embedded line has an [api] table"
    path = tmp_path / "line.toml"
    path.write_text(head + "\n" + api, encoding="utf-8")
    return path


@contextlib.contextmanager
def serving(
    tmp_path: Path, *args: str, config: Path = DEFAULT_LINE, name: str = "a"
) -> Iterator[Served]:
    data = tmp_path / f"data-{name}"
    sock = tmp_path / f"{name}.sock"
    err = tmp_path / f"serve-{name}.err"
    with open(err, "w", encoding="utf-8") as errf:
        proc = subprocess.Popen(
            [sys.executable, "-m", "linecontrol", "serve", "--sim", "--speedup", "300",
             "--config", str(config), "--data-dir", str(data), "--socket", str(sock), *args],
            stdout=subprocess.PIPE, stderr=errf, text=True, start_new_session=True,
        )  # fmt: skip
    try:
        lines = _ready(proc, err)
        yield Served(proc, sock, data, lines[-1].split()[1], err, lines)
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        assert proc.stdout is not None
        proc.stdout.close()


def _ready(proc: subprocess.Popen[str], err: Path) -> list[str]:
    """What serve prints once its API serves: the socket, the TCP address, the run id."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()  # read raw: a buffered readline would hide lines from select
    deadline = time.monotonic() + START_S
    out = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        out += chunk
        lines = out.decode().splitlines(keepends=True)
        for line in lines:
            if line.startswith("run ") and line.endswith("\n"):
                assert lines[0].startswith("socket "), lines
                return [ln.strip() for ln in lines]
    raise AssertionError(f"serve did not start: {out!r} {err.read_text(encoding='utf-8')}")


async def post(http: aiohttp.ClientSession, body: Any) -> tuple[int, dict[str, Any]]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with http.post("/v1/commands", data=data) as reply:
        return reply.status, await reply.json()


async def state(http: aiohttp.ClientSession) -> dict[str, Any]:
    async with http.get("/v1/state") as reply:
        assert reply.status == 200
        out: dict[str, Any] = await reply.json()
        return out


async def until_state(ws: aiohttp.ClientWebSocketResponse, want: str, deadline_s: float) -> None:
    """Read the stream until the supervisor's state is ``want`` (a full or a status)."""
    seen = []
    try:
        async with asyncio.timeout(deadline_s):
            while True:
                msg = await ws.receive_json()
                sup = msg.get("supervisor") or msg.get("state", {}).get("supervisor")
                if sup is not None:
                    seen.append(sup["state"])
                    if sup["state"] == want:
                        return
    except TimeoutError:
        raise AssertionError(f"not {want} within {deadline_s:g} s: {seen[-5:]}") from None


async def test_serve_runs_the_line_through_the_api_and_stops_cleanly(tmp_path: Path) -> None:
    with serving(tmp_path) as srv:
        assert srv.socket.exists() and (srv.socket.stat().st_mode & 0o777) == 0o660
        async with srv.client("tui-1") as http, http.ws_connect("/v1/stream") as ws:
            first = await ws.receive_json()
            assert first["type"] == "full" and first["seq"] == 1
            assert first["state"]["you"]["role"] == "engineer"
            assert first["state"]["you"]["client"] == "tui-1"
            assert first["state"]["supervisor"]["state"] == "Stopped"
            # Nothing without control; then control, and the line through its states.
            status, body = await post(http, {"command": "reset", "request_id": "r0"})
            assert status == 423 and body["error"]["code"] == "no_control", body
            assert (await post(http, {"command": "take_control", "request_id": "c1"}))[0] == 200
            assert (await state(http))["control"]["holder"].endswith("@tui-1")
            load = {"command": "load_recipe", "request_id": "l1", "path": str(RECIPE)}
            assert await post(http, load) == (200, {"ok": True, "request_id": "l1",
                                                     "result": "accepted"})  # fmt: skip
            # A command the supervisor refuses: 409 with its reason.
            status, body = await post(http, {"command": "unhold", "request_id": "u0"})
            assert status == 409 and body["error"]["code"] == "rejected", body
            assert body["error"]["message"]
            for rid, command, want, within in [
                ("r1", "reset", "Idle", 30.0),
                ("s1", "start", "Execute", EXECUTE_S),
                ("h1", "hold", "Held", 30.0),
                ("u1", "unhold", "Execute", 30.0),
                ("t1", "stop", "Stopped", 30.0),
            ]:
                status, body = await post(http, {"command": command, "request_id": rid})
                assert status == 200, body
                await until_state(ws, want, within)
                if want == "Execute" and command == "start":
                    # A setpoint within its band: accepted, the reply names the one before.
                    bands = (await state(http))["bands"]
                    band = next(b for b in bands.values() if b["sets"] and b["low"] is not None)
                    change = {"command": "change_setpoint", "request_id": "p1",
                              "field": band["field"], "value": band["setpoint"]}  # fmt: skip
                    status, body = await post(http, change)
                    assert status == 200 and body["previous"] == band["setpoint"], body
        code = srv.stop(signal.SIGINT)
        assert code == 0, srv.stderr.read_text(encoding="utf-8")
        assert not srv.socket.exists()
        events = srv.events()
    given = [e.command for e in events if isinstance(e, CommandGiven)]
    mine = [(c.name, c.request_id) for c in given if c.by.endswith("@tui-1")]
    assert mine == [
        ("take_control", "c1"), ("load_recipe", "l1"), ("reset", "r1"), ("start", "s1"),
        ("change_setpoint", "p1"), ("hold", "h1"), ("unhold", "u1"), ("stop", "t1"),
    ]  # fmt: skip
    assert all(c.at is not None for c in given)
    rejected = {e.command.request_id: e.reason for e in events if isinstance(e, CommandRejected)}
    assert "holds control" in rejected["r0"] or "nobody holds control" in rejected["r0"]
    assert "u0" in rejected
    changed = [e for e in events if isinstance(e, ControlChanged)]
    assert [(c.old, c.new.endswith("@tui-1")) for c in changed] == [("", True)]


async def test_a_viewer_cannot_start_and_is_logged(tmp_path: Path) -> None:
    # A second uid is not available: the owner's own role is made viewer.
    config = line_config(tmp_path, '[api]\nowner_role = "viewer"\n')
    with serving(tmp_path, config=config) as srv:
        async with srv.client("viewer-1") as http:
            assert (await state(http))["you"]["role"] == "viewer"
            status, body = await post(http, {"command": "take_control", "request_id": "v1"})
            assert status == 403 and body["error"]["code"] == "forbidden", body
            status, body = await post(http, {"command": "start", "request_id": "v2"})
            assert status == 403 and body["error"]["code"] == "forbidden", body
            assert "operator" in body["error"]["message"]
            assert (await state(http))["supervisor"]["state"] == "Stopped"
        assert srv.stop(signal.SIGTERM) == 0
        events = srv.events()
    rejected = {e.command.request_id: e for e in events if isinstance(e, CommandRejected)}
    assert set(rejected) >= {"v1", "v2"}
    assert "viewer" in rejected["v2"].reason and rejected["v2"].command.name == "start"
    assert rejected["v2"].command.by.endswith("@viewer-1")
    assert not [e for e in events if isinstance(e, CommandGiven) and e.command.name == "start"]


async def test_bad_requests_get_a_clear_error_and_the_same_id_acts_once(tmp_path: Path) -> None:
    with serving(tmp_path) as srv:
        async with srv.client("cli-1") as http:
            cases: list[tuple[Any, int, str, str]] = [
                (b"{not json", 400, "bad_request", "not JSON"),
                (b"[1, 2]", 400, "bad_request", "JSON object"),
                (b'{"command": "start", "request_id": "x", "at": NaN}', 400, "bad_request",
                 "NaN"),
                ({"command": "launch", "request_id": "x1"}, 400, "bad_request",
                 "unknown command 'launch'"),
                ({"command": "start"}, 400, "bad_request", "request_id"),
                ({"command": "start", "request_id": "x2", "by": "mallory"}, 400,
                 "bad_request", "'by' is set by the server"),
                ({"command": "change_setpoint", "request_id": "x3", "field": "press.x",
                  "value": "hot"}, 400, "bad_request", "value = 'hot'"),
                ({"command": "jog_web", "request_id": "x4", "speed_m_min": 0.5, "extra": 1},
                 400, "bad_request", "extra = 1: no such field"),
                (b"{" + b" " * (64 * 1024) + b"}", 413, "too_large", "at most 65536"),
            ]  # fmt: skip
            for body, want, code, words in cases:
                status, reply = await post(http, body)
                assert (status, reply["error"]["code"]) == (want, code), (body[:80], reply)
                assert words in reply["error"]["message"], reply
            # Still serving, nothing happened to the line.
            assert (await state(http))["supervisor"]["state"] == "Stopped"
            assert (await post(http, {"command": "take_control", "request_id": "c1"}))[0] == 200
            load = {"command": "load_recipe", "request_id": "l1", "path": str(RECIPE)}
            first = await post(http, load)
            again = await post(http, load)
            assert first == again and first[0] == 200
            status, reply = await post(http, {"command": "reset", "request_id": "l1"})
            assert status == 400 and "already used for load_recipe" in reply["error"]["message"]
        assert srv.stop() == 0
        events = srv.events()
    loads = [e for e in events if isinstance(e, RecipeLoaded)]
    assert len(loads) == 1  # the same request id twice acted once


async def test_a_live_socket_is_refused_and_a_stale_one_replaced(tmp_path: Path) -> None:
    with serving(tmp_path, name="a") as srv:
        second = subprocess.run(
            [sys.executable, "-m", "linecontrol", "serve", "--sim", "--data-dir",
             str(tmp_path / "other"), "--socket", str(srv.socket)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert second.returncode == 2, second.stderr
        assert "another server is listening" in second.stderr
        async with srv.client() as http:
            assert (await state(http))["supervisor"]["state"] == "Stopped"  # undisturbed
        assert srv.stop(signal.SIGTERM) == 0
    # A socket file nobody listens on (a server killed) is replaced; a regular file is not.
    stale = tmp_path / "b.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(stale))
    s.close()
    with serving(tmp_path, name="b") as srv:
        async with srv.client() as http:
            assert (await state(http))["api"] == 1
        assert srv.stop() == 0
    plain = tmp_path / "c.sock"
    plain.write_text("not a socket", encoding="utf-8")
    refused = subprocess.run(
        [sys.executable, "-m", "linecontrol", "serve", "--sim", "--data-dir",
         str(tmp_path / "c"), "--socket", str(plain)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert refused.returncode == 2 and "is not a socket" in refused.stderr
    assert plain.read_text(encoding="utf-8") == "not a socket"
