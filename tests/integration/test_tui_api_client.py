"""The API client (linecontrol.api.client) against a real aiohttp server on a Unix socket
(tests/integration/tui_server.py): commands and verdicts, the stream into a LineView,
gaps and malformed messages reconnecting, the server's resync, heartbeat loss."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from linecontrol.api.client import (
    Address,
    ApiClient,
    ApiUnreachable,
    CommandResult,
    parse_address,
)
from linecontrol.api.view import LineView
from linecontrol.errors import InvalidArgument
from tests.integration.tui_server import Verdict, line_state, serving

pytestmark = pytest.mark.integration


@asynccontextmanager
async def following(
    server_path: Path, **kwargs: Any
) -> AsyncIterator[tuple[ApiClient, LineView, asyncio.Task[None]]]:
    client = ApiClient(Address(path=server_path), "tui-test", **kwargs)
    view = LineView()
    task = asyncio.create_task(client.follow(view))
    try:
        yield client, view, task
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await client.close()


# ------------------------------------------------------------------ addresses
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/run/lc.sock", Address(path=Path("/run/lc.sock"))),
        ("lc.sock", Address(path=Path("lc.sock"))),
        ("http://127.0.0.1:8080", Address(host="127.0.0.1", port=8080)),
        ("http://127.3.0.1:8080/", Address(host="127.3.0.1", port=8080)),
        ("http://localhost:1", Address(host="localhost", port=1)),
        ("http://[::1]:9000", Address(host="::1", port=9000)),
    ],
)
def test_addresses(text: str, expected: Address) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "http://10.0.0.5:8080",
        "http://example.com:8080",
        "https://127.0.0.1:8080",
        "http://127.0.0.1",
        "http://127.0.0.1:0",
        "http://127.0.0.1:99999",
        "http://127.0.0.1:80/v1",
        "ftp://127.0.0.1:21",
    ],
)
def test_bad_addresses_are_refused(text: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_address(text)


def test_base_url() -> None:
    assert Address(path=Path("/x")).base_url == "http://localhost"
    assert Address(host="::1", port=5).base_url == "http://[::1]:5"


# ------------------------------------------------------------------ requests
async def test_state_and_recipes(tmp_path: Path) -> None:
    async with serving(tmp_path / "api.sock") as server:
        server.recipes = [{"path": "a.toml", "name": "a", "ok": True, "violations": []}]
        async with ApiClient(Address(path=tmp_path / "api.sock"), "tui-test") as client:
            state = await client.state()
            assert state["supervisor"]["state"] == "Stopped"
            assert await client.recipes() == server.recipes


async def test_a_command_carries_its_name_fields_request_id_and_client_id(tmp_path: Path) -> None:
    async with (
        serving(tmp_path / "api.sock") as server,
        ApiClient(Address(path=tmp_path / "api.sock"), "tui-7") as client,
    ):
        result = await client.command("shelve_alarm", reason="sensor", alarm="a", duration_s=60.0)
        again = await client.command("start")
    first, second = server.commands
    assert first == {
        "command": "shelve_alarm",
        "request_id": result.request_id,
        "reason": "sensor",
        "alarm": "a",
        "duration_s": 60.0,
    }
    assert result.ok and result.status == 200 and str(result) == "accepted"
    assert second["command"] == "start"
    assert second["request_id"] != first["request_id"]
    assert 1 <= len(second["request_id"]) <= 64
    assert again.ok
    assert server.headers[0]["X-Client-Id"] == "tui-7"
    assert "Authorization" not in server.headers[0]


async def test_a_retry_reuses_the_request_id_given(tmp_path: Path) -> None:
    async with (
        serving(tmp_path / "api.sock") as server,
        ApiClient(Address(path=tmp_path / "api.sock"), "t") as client,
    ):
        await client.command("hold", request_id="r-1")
        await client.command("hold", request_id="r-1")
    assert [c["request_id"] for c in server.commands] == ["r-1", "r-1"]


async def test_a_token_is_sent_as_a_bearer(tmp_path: Path) -> None:
    async with (
        serving(tmp_path / "api.sock") as server,
        ApiClient(Address(path=tmp_path / "api.sock"), "t", token="s3cret") as client,
    ):
        await client.command("stop")
    assert server.headers[0]["Authorization"] == "Bearer s3cret"


@pytest.mark.parametrize(
    ("verdict", "code"),
    [
        (Verdict(409, "rejected", "start is not allowed in Stopped"), "rejected"),
        (Verdict(403, "forbidden", "viewer may not start"), "forbidden"),
        (Verdict(423, "no_control", "bob@tui-2 holds control"), "no_control"),
        (Verdict(504, "timeout", "no verdict within 5 s"), "timeout"),
    ],
)
async def test_a_refusal_is_a_result_with_its_code_and_message(
    tmp_path: Path, verdict: Verdict, code: str
) -> None:
    async with serving(tmp_path / "api.sock") as server:
        server.verdicts["start"] = verdict
        async with ApiClient(Address(path=tmp_path / "api.sock"), "t") as client:
            result = await client.command("start")
    assert result == CommandResult(False, result.request_id, verdict.status, code, verdict.message)
    assert str(result) == f"{code}: {verdict.message}"


async def test_no_server_is_unreachable(tmp_path: Path) -> None:
    async with ApiClient(Address(path=tmp_path / "nobody.sock"), "t") as client:
        with pytest.raises(ApiUnreachable, match="start"):
            await client.command("start")
        with pytest.raises(ApiUnreachable, match="/v1/state"):
            await client.state()


# ------------------------------------------------------------------ the stream
async def test_the_stream_mirrors_full_values_status_and_events(tmp_path: Path) -> None:
    async with (
        serving(tmp_path / "api.sock") as server,
        following(tmp_path / "api.sock") as (client, view, _),
    ):
        await client.until(lambda: view.connection(client.now()) == "live", 5.0)
        assert view.sample("zone_C01.temp_c").quality == "STALE"
        server.send(
            {"type": "values", "t": 1.0, "values": {"unwind.tension_n": [99.0, "GOOD", 1.0]}}
        )
        server.send(
            {
                "type": "status",
                "supervisor": {"state": "Idle", "allowed": ["start"]},
                "control": {"holder": None},
            }
        )
        server.send({"type": "event", "event": {"type": "StateChanged", "data": {"new": "Idle"}}})
        await client.until(lambda: len(view.events) == 1, 5.0)
        assert view.sample("unwind.tension_n").value == 99.0
        assert view.allowed == frozenset({"start"})
        assert view.control == {"holder": None}
        assert client.streams_opened == 1


async def test_a_seq_gap_opens_a_fresh_stream(tmp_path: Path) -> None:
    async with (
        serving(tmp_path / "api.sock") as server,
        following(tmp_path / "api.sock", retry_s=0.05) as (client, view, _),
    ):
        await client.until(lambda: view.connection(client.now()) == "live", 5.0)
        server.state["supervisor"]["state"] = "Idle"
        server.send_raw({"type": "heartbeat", "seq": 7, "t": 1.0})
        await server.until_streams(2)
        await client.until(lambda: view.supervisor.get("state") == "Idle", 5.0)
        assert view.connection(client.now()) == "live"
        assert view.resyncs == 1


async def test_a_malformed_message_opens_a_fresh_stream(tmp_path: Path) -> None:
    async with (
        serving(tmp_path / "api.sock") as server,
        following(tmp_path / "api.sock", retry_s=0.05) as (client, view, _),
    ):
        await client.until(lambda: view.connection(client.now()) == "live", 5.0)
        server.send_raw("{not json")
        await server.until_streams(2)
        await client.until(lambda: view.connection(client.now()) == "live", 5.0)


async def test_the_servers_resync_keeps_the_stream_for_its_full(tmp_path: Path) -> None:
    async with (
        serving(tmp_path / "api.sock") as server,
        following(tmp_path / "api.sock", retry_s=0.05) as (client, view, _),
    ):
        await client.until(lambda: view.connection(client.now()) == "live", 5.0)
        server.send({"type": "resync", "reason": "queue full"})
        await client.until(lambda: view.needs_resync, 5.0)
        assert view.connection(client.now()) == "resyncing"
        state = {**server.state, "supervisor": {"state": "Held", "allowed": []}}
        server.send({"type": "full", "state": state})
        await client.until(lambda: view.supervisor.get("state") == "Held", 5.0)
        assert not view.needs_resync
        assert client.streams_opened == 1
        assert server.streams == 1


async def test_heartbeat_loss_shows_lost_and_reconnects(tmp_path: Path) -> None:
    path = tmp_path / "api.sock"
    async with (
        serving(path, heartbeat_s=None) as server,
        following(path, lost_after_s=0.3, retry_s=0.05) as (client, view, _),
    ):
        await client.until(lambda: view.connection(client.now()) == "live", 5.0)
        await client.until(lambda: view.connection(client.now()) == "lost", 5.0)
        assert "nothing from the server for 0.3 s" in view.closed_reason
        await server.until_streams(2)


async def test_a_closed_stream_is_lost_at_once_then_back(tmp_path: Path) -> None:
    async with (
        serving(tmp_path / "api.sock") as server,
        following(tmp_path / "api.sock", retry_s=0.05) as (client, view, _),
    ):
        await client.until(lambda: view.connection(client.now()) == "live", 5.0)
        server.close_streams()
        await client.until(lambda: view.connection(client.now()) == "lost", 5.0)
        await server.until_streams(2)
        await client.until(lambda: view.connection(client.now()) == "live", 5.0)


async def test_no_server_yet_is_lost_until_it_comes(tmp_path: Path) -> None:
    path = tmp_path / "api.sock"
    async with following(path, retry_s=0.05) as (client, view, _):
        await client.until(lambda: view.connection(client.now()) == "lost", 5.0)
        assert "cannot reach" in view.closed_reason
        async with serving(path):
            await client.until(lambda: view.connection(client.now()) == "live", 5.0)


async def test_a_closed_client_is_unreachable_not_a_runtime_error(tmp_path: Path) -> None:
    async with serving(tmp_path / "api.sock"):
        client = ApiClient(Address(path=tmp_path / "api.sock"), "t")
        assert (await client.command("stop")).ok
        await client.close()
        with pytest.raises(ApiUnreachable, match="closed"):
            await client.command("stop")
        with pytest.raises(ApiUnreachable, match="closed"):
            await client.state()


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
async def test_a_non_finite_number_is_refused_not_sent(tmp_path: Path, value: float) -> None:
    async with (
        serving(tmp_path / "api.sock") as server,
        ApiClient(Address(path=tmp_path / "api.sock"), "t") as client,
    ):
        with pytest.raises(InvalidArgument, match="not finite"):
            await client.command("change_setpoint", field="press.roll_load_kg", value=value)
        assert (await client.command("stop")).ok
    assert [c["command"] for c in server.commands] == ["stop"]


async def test_an_integer_past_a_floats_range_is_no_number_never_a_crash(tmp_path: Path) -> None:
    """A server's 401-digit integer (valid JSON) read as a value: it shows as no value
    (INVALID), not an OverflowError that ended the TUI (math.isfinite of a huge int)."""
    from linecontrol.api import LineView

    async with serving(tmp_path / "api.sock") as server:
        server.state["values"] = {"zone_C01.temp_c": [int("1" * 401), "GOOD", 1.0]}
        async with ApiClient(Address(path=tmp_path / "api.sock"), "tui-test") as client:
            state = await client.state()
            view = LineView()
            view.apply({"type": "full", "seq": 1, "state": state}, now=0.0)
            assert view.sample("zone_C01.temp_c").value is None


async def test_a_server_that_never_answers_the_close_is_cut_and_the_client_reconnects(
    tmp_path: Path,
) -> None:
    """The server streams for ever and never reads, so it never answers the close frame
    (aiohttp's close waits up to 10 s per read, and each heartbeat renewed that): the
    client gives up the stream it decided was dead (a seq gap) within CLOSE_S (1 s),
    cuts the socket, and opens a fresh stream."""
    from linecontrol.api.client import CLOSE_S

    async with (
        serving(tmp_path / "api.sock", deaf=True, heartbeat_s=0.02) as server,
        following(tmp_path / "api.sock", retry_s=0.05) as (client, view, _),
    ):
        await client.until(lambda: view.connection(client.now()) == "live", 5.0)
        server.send_raw({"type": "heartbeat", "seq": 999, "t": 1.0})  # a gap: resync
        await server.until_streams(2, timeout_s=CLOSE_S + 3.0)
        await server.until_streams_ended(1, timeout_s=3.0)  # the first one was cut
        await client.until(lambda: view.connection(client.now()) == "live", 5.0)


async def test_a_server_silent_after_its_full_state_stays_lost_and_is_reconnected(
    tmp_path: Path,
) -> None:
    """A server that sends its full state and then nothing (no heartbeat): the client
    drops each such stream after lost_after_s and tries again, and the view goes lost
    and stays lost across those reconnects (it flapped: lost, then live again on every
    fresh full), until a heartbeat shows the server alive."""
    path = tmp_path / "api.sock"
    async with (
        serving(path, heartbeat_s=None) as server,
        following(path, lost_after_s=0.3, retry_s=0.05) as (client, view, _),
    ):
        await client.until(lambda: view.connection(client.now()) == "lost", 5.0)
        seen: list[str] = []

        def watched() -> bool:
            seen.append(view.connection(client.now()))
            return server.streams >= 4

        await client.until(watched, 10.0)
        await server.until_streams_ended(3)
        assert set(seen) == {"lost"}, seen
        assert "no heartbeat" in view.closed_reason
        server.heartbeat_s = 0.1  # the next stream beats
        await client.until(lambda: view.connection(client.now()) == "live", 5.0)
        assert view.supervisor.get("state") == "Stopped"


async def test_a_message_too_large_is_named_with_the_limit(tmp_path: Path) -> None:
    from linecontrol.api.client import MAX_MESSAGE_BYTES

    async with (
        serving(tmp_path / "api.sock") as server,
        following(tmp_path / "api.sock", retry_s=60.0) as (client, view, _),
    ):
        await client.until(lambda: view.connection(client.now()) == "live", 5.0)
        server.send_raw('"' + "x" * MAX_MESSAGE_BYTES + '"')
        await client.until(lambda: view.connection(client.now()) == "lost", 10.0)
        assert "message too large" in view.closed_reason
        assert f"limit {MAX_MESSAGE_BYTES} bytes" in view.closed_reason


async def test_a_server_that_never_answers_the_handshake_is_given_up_and_retried(
    tmp_path: Path,
) -> None:
    """A socket that accepts and reads but never answers the WebSocket upgrade: the
    client gives it up after handshake_s (it waited for aiohttp's 5-minute session
    timeout) and tries again."""
    accepted: list[asyncio.StreamWriter] = []
    handlers: list[asyncio.Task[Any]] = []
    changed = asyncio.Event()

    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)
        task = asyncio.current_task()
        assert task is not None
        handlers.append(task)
        changed.set()
        await reader.read()  # until the connection ends; nothing is ever written

    path = tmp_path / "api.sock"
    server = await asyncio.start_unix_server(mute, path=str(path))
    try:
        async with following(path, handshake_s=0.2, retry_s=0.05) as (client, view, _):
            await client.until(lambda: "handshake in 0.2 s" in view.closed_reason, 5.0)
            assert view.connection(client.now()) == "lost"
            async with asyncio.timeout(5.0):
                while len(accepted) < 2:
                    changed.clear()
                    await changed.wait()
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        async with asyncio.timeout(5.0):
            await asyncio.gather(*handlers, return_exceptions=True)
            await server.wait_closed()


@asynccontextmanager
async def lying_stream(path: Path, script: Any) -> AsyncIterator[list[int]]:
    """A real aiohttp server on ``path`` whose every stream runs ``script(ws)`` (a
    coroutine function); the list counts the streams opened."""
    from aiohttp import web

    opened: list[int] = []

    async def stream(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        opened.append(1)
        with contextlib.suppress(ConnectionError, RuntimeError):
            await script(ws)
        return ws

    app = web.Application()
    app.router.add_get("/v1/stream", stream)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    await web.UnixSite(runner, str(path)).start()
    try:
        yield opened
    finally:
        await runner.cleanup()


async def _heartbeats(ws: Any, seq: int) -> None:
    while True:
        await asyncio.sleep(0.05)
        seq += 1
        await ws.send_str(json.dumps({"type": "heartbeat", "seq": seq, "t": 1.0}))


async def test_a_server_that_never_sends_its_full_state_is_given_up_and_retried(
    tmp_path: Path,
) -> None:
    """Heartbeats and never a full: the view was 'connecting' for ever on one stream;
    the client gives the stream up after handshake_s and tries a fresh one."""

    async def no_full(ws: Any) -> None:
        await _heartbeats(ws, 0)

    path = tmp_path / "api.sock"
    async with (
        lying_stream(path, no_full) as opened,
        following(path, handshake_s=0.3, retry_s=0.05) as (client, view, _),
    ):
        why = "no full state from the server in 0.3 s"
        await client.until(lambda: why in view.closed_reason, 5.0)
        assert view.connection(client.now()) == "lost"
        await client.until(lambda: len(opened) >= 3, 5.0)


async def test_a_resync_never_followed_by_its_full_is_given_up(tmp_path: Path) -> None:
    """The server says resync, then sends heartbeats only: the view stayed 'resyncing'
    on that stream for ever; the client opens a fresh stream (its full) after
    handshake_s."""
    async with (
        serving(tmp_path / "api.sock", heartbeat_s=0.05) as server,
        following(tmp_path / "api.sock", handshake_s=0.3, retry_s=0.05) as (client, view, _),
    ):
        await client.until(lambda: view.connection(client.now()) == "live", 5.0)
        server.send({"type": "resync", "reason": "a lie"})
        await client.until(lambda: view.needs_resync, 5.0)
        await server.until_streams(2, timeout_s=5.0)
        await client.until(lambda: view.connection(client.now()) == "live", 5.0)
        assert client.streams_opened == 2


async def test_a_server_that_closes_after_its_full_state_stays_lost(tmp_path: Path) -> None:
    """Each stream: the full state, then the stream closed. The view flapped: live on
    every fresh full, lost at each close; now a stream that ended with nothing after
    its full puts the next on probation, so the view stays lost."""

    async def full_then_close(ws: Any) -> None:
        await ws.send_str(json.dumps({"type": "full", "seq": 1, "state": line_state()}))
        await asyncio.sleep(0.05)
        await ws.close()

    path = tmp_path / "api.sock"
    async with (
        lying_stream(path, full_then_close) as opened,
        following(path, retry_s=0.05) as (client, view, _),
    ):
        await client.until(lambda: len(opened) >= 2, 5.0)  # the first one was live
        first = len(opened)
        seen: list[str] = []

        def watched() -> bool:
            seen.append(view.connection(client.now()))
            return len(opened) >= first + 4

        await client.until(watched, 10.0)
        assert set(seen) == {"lost"}, seen
