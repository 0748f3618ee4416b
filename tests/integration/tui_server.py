"""A small API server for the client's and the TUI's own tests: real aiohttp on a real Unix
socket, speaking docs/api.md's protocol (full state first, seq per connection, heartbeats,
commands with verdicts), with the test deciding what it says. It is no line: the real one
is ``linecontrol serve``, tested against in test_tui_serve.py."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

STATIONS = [
    {"name": "unwind", "kind": "unwind", "distance_m": 0.0, "devices": ["unwind"]},
    {"name": "zone_C01", "kind": "oven_zone", "distance_m": 12.0, "devices": ["zone_C01"]},
    {"name": "press", "kind": "press", "distance_m": 30.0, "devices": ["press"]},
]


def line_state() -> dict[str, Any]:
    return {
        "api": 1,
        "server_time": 1000.0,
        "mode": "live",
        "you": {"user": "ana", "role": "operator", "client": "tui-test"},
        "control": {"holder": "ana@tui-test"},
        "line": {
            "name": "test line",
            "stations": copy.deepcopy(STATIONS),
            "channels": {
                "unwind.tension_n": {"unit": "N", "writable": False, "station": "unwind"},
                "zone_C01.temp_c": {"unit": "°C", "writable": False, "station": "zone_C01"},
                "zone_C01.setpoint_c": {"unit": "°C", "writable": True, "station": "zone_C01"},
                "press.roll_load_kg": {"unit": "kg", "writable": True, "station": "press"},
            },
        },
        "supervisor": {
            "state": "Stopped",
            "state_number": 2,
            "mode": "production",
            "allowed": ["reset", "abort"],
            "first_out": "",
            "recipe": "demo.toml",
            "step": "",
            "waiting_for": [],
            "interlocks": [],
            "web_position_m": 0.0,
            "metres_done": 0.0,
            "metres_to_go": 100.0,
            "line_speed": 0.0,
        },
        "bands": {
            "zone_C01.setpoint_c": {
                "setpoint": 180.0,
                "low": 170.0,
                "high": 190.0,
                "field": "oven.zones.zone_C01.setpoint_c",
            }
        },
        "values": {
            "unwind.tension_n": [120.5, "GOOD", 999.0],
            "zone_C01.temp_c": [None, "STALE", 998.0],
            "zone_C01.setpoint_c": [180.0, "GOOD", 999.0],
            "press.roll_load_kg": [812.0, "INVALID", 999.0],
        },
        "alarms": [
            {
                "name": "zone_C01_high",
                "channel": "zone_C01.temp_c",
                "state": "UNACK",
                "priority": "high",
                "class": "process",
                "value": 231.0,
                "since": 990.0,
                "guidance": "check the zone's heater",
                "shelved_until": None,
                "latched": False,
            },
            {
                "name": "o2_high",
                "state": "NORM",
                "priority": "medium",
                "class": "process",
                "value": None,
                "since": None,
                "guidance": "",
                "shelved_until": None,
                "latched": False,
            },
        ],
        "run": {
            "id": "20261202-000000-abcd",
            "started": 900.0,
            "dir": "/tmp/x",
            "bytes": 1234,
            "events": 5,
            "operator_actions": 1,
        },
        "seq": 1,
    }


@dataclass
class Verdict:
    status: int = 200
    code: str = ""
    message: str = ""


@dataclass
class ProtoServer:
    """The server; ``state`` is sent as each stream's ``full``."""

    path: Path
    state: dict[str, Any] = field(default_factory=line_state)
    heartbeat_s: float | None = 0.2
    commands: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    streams: int = 0
    streams_ended: int = 0
    refuse_streams: bool = False
    deaf: bool = False
    """A stream that sends (a heartbeat every ``heartbeat_s`` and whatever the test
    sends) and never reads: the client's close frame is never answered."""
    control_rules: bool = False
    """``take_control`` and ``release_control`` change ``state['control']`` (the holder
    ``USER@CLIENT``, the client from ``X-Client-Id``), announced to every stream; each
    stream's ``you`` names its client."""
    recipes: list[dict[str, Any]] = field(default_factory=list)
    _queues: list[asyncio.Queue[tuple[bool, Any]]] = field(default_factory=list)
    _received: asyncio.Condition = field(default_factory=asyncio.Condition)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/state", self._get_state)
        app.router.add_get("/v1/recipes", self._get_recipes)
        app.router.add_post("/v1/commands", self._post_command)
        app.router.add_get("/v1/stream", self._stream)
        return app

    # --------------------------------------------------------------- for the test
    def send(self, message: dict[str, Any]) -> None:
        """To every open stream, with that stream's next seq."""
        for q in self._queues:
            q.put_nowait((True, message))

    def send_raw(self, message: Any) -> None:
        """To every open stream, as given (a dict is JSON-encoded with its own seq)."""
        for q in self._queues:
            q.put_nowait((False, message))

    def close_streams(self) -> None:
        for q in self._queues:
            q.put_nowait((False, None))

    async def until_commands(self, n: int, timeout_s: float = 5.0) -> list[dict[str, Any]]:
        async with asyncio.timeout(timeout_s), self._received:
            await self._received.wait_for(lambda: len(self.commands) >= n)
        return self.commands

    async def until_streams(self, n: int, timeout_s: float = 5.0) -> None:
        async with asyncio.timeout(timeout_s), self._received:
            await self._received.wait_for(lambda: self.streams >= n)

    async def until_streams_ended(self, n: int, timeout_s: float = 5.0) -> None:
        async with asyncio.timeout(timeout_s), self._received:
            await self._received.wait_for(lambda: self.streams_ended >= n)

    # --------------------------------------------------------------- handlers
    async def _get_state(self, request: web.Request) -> web.Response:
        return web.json_response(self.state)

    async def _get_recipes(self, request: web.Request) -> web.Response:
        return web.json_response(self.recipes)

    async def _post_command(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.headers.append(dict(request.headers))
        async with self._received:
            self.commands.append(body)
            self._received.notify_all()
        verdict = self.verdicts.get(body.get("command"), Verdict())
        rid = body.get("request_id")
        if self.control_rules and verdict.status == 200:
            verdict = self._control(body, request.headers.get("X-Client-Id", ""))
        if verdict.status == 200:
            return web.json_response({"ok": True, "request_id": rid, "result": "accepted"})
        error = {"code": verdict.code, "message": verdict.message}
        return web.json_response(
            {"ok": False, "request_id": rid, "error": error}, status=verdict.status
        )

    def _control(self, body: dict[str, Any], client: str) -> Verdict:
        me = f"{self.state['you']['user']}@{client}"
        holder = self.state["control"].get("holder")
        if body.get("command") == "take_control":
            if holder not in (None, me) and body.get("force") is not True:
                return Verdict(423, "no_control", f"{holder} holds control")
            holder = me
        elif body.get("command") == "release_control":
            if holder != me:
                return Verdict(423, "no_control", f"{holder} holds control")
            holder = None
        else:
            return Verdict()
        self.state["control"] = {"holder": holder}
        supervisor = self.state["supervisor"]
        self.send({"type": "status", "supervisor": supervisor, "control": {"holder": holder}})
        return Verdict()

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        if self.refuse_streams:
            return web.json_response({"ok": False}, status=503)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        state = self.state
        if self.control_rules:
            you = {**self.state["you"], "client": request.headers.get("X-Client-Id", "")}
            state = {**self.state, "you": you}
        try:
            if self.deaf:
                await self._deaf_stream(ws, state)
            else:
                await self._answering_stream(ws, state)
        finally:
            async with self._received:
                self.streams_ended += 1
                self._received.notify_all()
        return ws

    async def _deaf_stream(self, ws: web.WebSocketResponse, state: dict[str, Any]) -> None:
        """Sends for ever, never reads (so never answers a close); ends when the client
        cuts the connection (a send fails) or the server stops."""
        queue: asyncio.Queue[tuple[bool, Any]] = asyncio.Queue()
        self._queues.append(queue)
        async with self._received:
            self.streams += 1
            self._received.notify_all()
        seq = 1
        try:
            await ws.send_str(json.dumps({"type": "full", "seq": seq, "state": state}))
            while True:
                await asyncio.sleep(self.heartbeat_s or 0.05)
                messages = [(True, {"type": "heartbeat", "t": 1000.0})]
                while not queue.empty():
                    messages.append(queue.get_nowait())
                for numbered, message in messages:
                    if message is None:
                        continue  # close_streams: this stream does not close
                    if numbered:
                        seq += 1
                        await ws.send_str(json.dumps({**message, "seq": seq}))
                    else:
                        text = message if isinstance(message, str) else json.dumps(message)
                        await ws.send_str(text)
        except (ConnectionError, RuntimeError):
            pass  # the client cut the connection
        finally:
            self._queues.remove(queue)

    async def _answering_stream(self, ws: web.WebSocketResponse, state: dict[str, Any]) -> None:
        queue: asyncio.Queue[tuple[bool, Any]] = asyncio.Queue()
        self._queues.append(queue)
        async with self._received:
            self.streams += 1
            self._received.notify_all()
        seq = 1
        await ws.send_str(json.dumps({"type": "full", "seq": seq, "state": state}))

        async def beat() -> None:
            while self.heartbeat_s is not None:
                await asyncio.sleep(self.heartbeat_s)
                queue.put_nowait((True, {"type": "heartbeat", "t": 1000.0}))

        beater = asyncio.create_task(beat())
        reader = asyncio.create_task(ws.receive())
        try:
            while True:
                getter = asyncio.create_task(queue.get())
                done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
                if reader in done:
                    getter.cancel()
                    if reader.result().type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.ERROR):
                        break
                    reader = asyncio.create_task(ws.receive())
                    continue
                numbered, message = getter.result()
                if message is None:
                    break
                if numbered:
                    seq += 1
                    await ws.send_str(json.dumps({**message, "seq": seq}))
                elif isinstance(message, str):
                    await ws.send_str(message)
                else:
                    await ws.send_str(json.dumps(message))
        except ConnectionError:
            pass  # the client cut the connection (a message it would not take)
        finally:
            beater.cancel()
            reader.cancel()
            self._queues.remove(queue)
            with suppress(Exception):
                await ws.close()


@asynccontextmanager
async def serving(path: Path, **kwargs: Any) -> AsyncIterator[ProtoServer]:
    server = ProtoServer(path, **kwargs)
    runner = web.AppRunner(server.app(), shutdown_timeout=1.0)
    await runner.setup()
    site = web.UnixSite(runner, str(path))
    await site.start()
    try:
        yield server
    finally:
        server.close_streams()
        await runner.cleanup()
