"""``linecontrol serve`` against hostile clients (a real child on the simulated line,
real Unix sockets): request ids two clients chose alike, requests that never finish,
what a client sends on its stream."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gzip
import itertools
import json
import resource
import signal
import socket
import time
from pathlib import Path

import aiohttp
import pytest

from linecontrol.model import CommandGiven, CommandRejected, ControlChanged
from linecontrol.server.http import IDLE_S, max_connections
from tests.integration.test_api_serve import RECIPE, post, serving, state

pytestmark = [pytest.mark.integration, pytest.mark.deadline(120)]


async def test_the_same_request_id_from_two_clients_is_two_requests(tmp_path: Path) -> None:
    """A request id is the caller's own: another client's command with the same id is
    checked and acted on as its own (it was answered with the first client's verdict,
    unchecked, and the supervisor dropped it as a duplicate with no verdict)."""
    with serving(tmp_path) as srv:
        async with srv.client("alice") as a, srv.client("bob") as b:
            assert (await post(a, {"command": "take_control", "request_id": "1"}))[0] == 200
            load = {"command": "load_recipe", "request_id": "2", "path": str(RECIPE)}
            assert (await post(a, load))[0] == 200
            reset = {"command": "reset", "request_id": "3"}
            assert (await post(a, reset))[0] == 200
            # bob does not hold control: his load "2" is refused as his, not alice's 200.
            status, body = await post(b, load)
            assert (status, body["error"]["code"]) == (423, "no_control"), body
            # alice's id "1" again from bob: a take_control of his own, refused (alice
            # holds control), never alice's verdict.
            status, body = await post(b, {"command": "take_control", "request_id": "1"})
            assert status == 423, body
            force = {"command": "take_control", "request_id": "1", "force": True}
            # The same id with other fields is refused, not answered with the last verdict.
            status, body = await post(b, force)
            assert status == 400 and "with other fields" in body["error"]["message"], body
            force["request_id"] = "4"
            assert (await post(b, force))[0] == 200
            assert (await state(b))["control"]["holder"].endswith("@bob")
            # bob's reset "3": the supervisor's verdict on it (Reset is not allowed while
            # resetting or idle), not silence taken for a duplicate of alice's (a 504).
            status, body = await post(b, reset)
            assert (status, body["error"]["code"]) == (409, "rejected"), body
        assert srv.stop() == 0
        events = srv.events()
    resets = [
        (type(e).__name__, e.command.by.split("@")[1])
        for e in events
        if isinstance(e, CommandGiven | CommandRejected) and e.command.name == "reset"
    ]
    assert resets == [("CommandGiven", "alice"), ("CommandRejected", "bob")]
    loads = [
        e for e in events if isinstance(e, CommandRejected) and e.command.name == "load_recipe"
    ]
    assert [e.command.by.split("@")[1] for e in loads] == ["bob"]


def _raw(path: Path, data: bytes) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20.0)
    s.connect(str(path))
    s.sendall(data)
    return s


def _reply(s: socket.socket) -> tuple[int, dict[str, object]]:
    out = b""
    while b"\r\n\r\n" not in out or len(out.partition(b"\r\n\r\n")[2]) < _length(out):
        chunk = s.recv(65536)
        if not chunk:
            break
        out += chunk
    head, _, body = out.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def _length(raw: bytes) -> int:
    for line in raw.partition(b"\r\n\r\n")[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


async def test_a_body_shorter_than_its_length_is_answered_not_held(tmp_path: Path) -> None:
    """A body that never comes in full gets a 408 within the body deadline (the handler
    waited for it for ever, one connection and one handler held per such request)."""
    with serving(tmp_path) as srv:
        head = (
            b"POST /v1/commands HTTP/1.1\r\nHost: x\r\nX-Client-Id: slow\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
        )
        s = _raw(srv.socket, head + b'{"command": "reset",')
        try:
            status, body = await asyncio.to_thread(_reply, s)
        finally:
            s.close()
        assert status == 408, body
        assert body["error"] == {
            "code": "timeout",
            "message": "the body did not come within 5 s (20 bytes came)",
        }
        async with srv.client() as http:  # still serving
            assert (await state(http))["supervisor"]["state"] == "Stopped"
        assert srv.stop() == 0


async def test_a_stream_client_sending_a_big_message_is_closed(tmp_path: Path) -> None:
    """The client says nothing on the stream: a message over 4 KiB from it closes its
    stream with 1009 (message too big) instead of being buffered (up to 4 MiB each, for
    every connection) and ignored; the other streams and the API go on."""
    with serving(tmp_path) as srv:
        async with srv.client("big") as http, srv.client("calm") as calm:
            other = await calm.ws_connect("/v1/stream")
            ws = await http.ws_connect("/v1/stream", max_msg_size=0)
            assert (await ws.receive_json(timeout=10))["type"] == "full"
            with contextlib.suppress(ConnectionError):  # closed while it sends
                await ws.send_str("x" * (1 << 20))
            async with asyncio.timeout(20):
                while not ws.closed:
                    msg = await ws.receive()
                    if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                        break
            assert (msg.type, msg.data) == (aiohttp.WSMsgType.CLOSE, 1009), msg
            seqs: list[int] = []
            async with asyncio.timeout(20):
                while len(seqs) < 6:
                    seqs.append((await other.receive_json())["seq"])
            assert seqs == list(range(seqs[0], seqs[0] + 6))
            assert (await state(calm))["supervisor"]["state"] == "Stopped"
            await other.close()
        assert srv.stop() == 0


async def test_a_request_whose_headers_never_end_is_closed(tmp_path: Path) -> None:
    """Headers begun and never finished (slowloris): the connection is closed after the
    idle time (it was held for ever: enough of them take every file descriptor serve
    has, the run log's too); a client that sends its request meanwhile is served."""
    with serving(tmp_path) as srv:
        s = _raw(srv.socket, b"GET /v1/state HTTP/1.1\r\nHost: x\r\nX-Client-Id: slow")
        s.settimeout(IDLE_S + 15.0)
        try:
            async with srv.client() as http:
                assert (await state(http))["supervisor"]["state"] == "Stopped"
            assert await asyncio.to_thread(s.recv, 4096) == b""  # closed by serve
        finally:
            s.close()
        assert srv.stop() == 0


async def test_sigterm_while_clients_stream_and_commands_wait_stops_cleanly(
    tmp_path: Path,
) -> None:
    """SIGTERM while one client streams, one reads nothing and another fires commands:
    every reply that comes is JSON (a verdict, or 503 shutting_down), serve exits 0
    with no traceback, the socket is removed and the run log holds every command."""
    with serving(tmp_path, "--recipe", str(RECIPE)) as srv:
        replies: list[int] = []
        async with srv.client("fire") as http, srv.client("watch") as watch:
            ws = await watch.ws_connect("/v1/stream")
            frozen = await watch.ws_connect("/v1/stream")  # never read
            assert (await post(http, {"command": "take_control", "request_id": "c"}))[0] == 200

            async def fire() -> None:
                for i in range(10_000):
                    command = ("reset", "stop", "abort", "clear")[i % 4]
                    try:
                        status, body = await post(http, {"command": command, "request_id": f"f{i}"})
                    except (aiohttp.ClientError, json.JSONDecodeError):
                        return  # serve has closed its socket
                    assert body["ok"] is (status == 200), body
                    replies.append(status)
                    if status == 503:
                        return

            firing = asyncio.create_task(fire())
            async with asyncio.timeout(30):
                while len(replies) < 20:
                    await ws.receive_json()
            srv.proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(60):
                await firing
                while not ws.closed:
                    if (await ws.receive()).type in (
                        aiohttp.WSMsgType.CLOSE,
                        aiohttp.WSMsgType.CLOSED,
                    ):
                        break
            await frozen.close()
        code = await asyncio.to_thread(srv.proc.wait, 60)
        err = srv.stderr.read_text(encoding="utf-8")
        assert code == 0, err
        assert "Traceback" not in err, err
        assert not srv.socket.exists()
        events = srv.events()
    assert set(replies) <= {200, 409, 503}, replies
    logged = {
        e.command.request_id
        for e in events
        if isinstance(e, CommandGiven | CommandRejected) and e.command.by.endswith("@fire")
    }
    answered = {f"f{i}" for i, s in enumerate(replies) if s in (200, 409)}
    assert answered <= logged


async def test_two_clients_racing_for_control(tmp_path: Path) -> None:
    """Both force take_control at once: both granted in turn, one holds control, and
    the ControlChanged events are one chain; a command in flight while control is
    handed over is the old holder's verdict, the next one from it is refused."""
    with serving(tmp_path, "--recipe", str(RECIPE)) as srv:
        async with srv.client("ann") as a, srv.client("ben") as b:
            force = {"command": "take_control", "request_id": "f1", "force": True}
            (sa, _), (sb, _) = await asyncio.gather(post(a, force), post(b, force))
            assert (sa, sb) == (200, 200)
            holder = (await state(a))["control"]["holder"]
            first, second = (a, b) if holder.endswith("@ann") else (b, a)
            # The holder's reset in flight while the other takes control over.
            reset = {"command": "reset", "request_id": "r1"}
            again = {"command": "take_control", "request_id": "f2", "force": True}
            (s_reset, body), (s_take, _) = await asyncio.gather(
                post(first, reset), post(second, again)
            )
            assert s_take == 200 and s_reset in (200, 423), body
            status, body = await post(first, {"command": "stop", "request_id": "s1"})
            assert (status, body["error"]["code"]) == (423, "no_control"), body
            holder_after = (await state(a))["control"]["holder"]
            assert holder_after != holder
        assert srv.stop() == 0
        events = srv.events()
    changes = [(e.old, e.new) for e in events if isinstance(e, ControlChanged)]
    assert len(changes) == 3 and changes[0][0] == ""
    assert all(new == old for (_, new), (old, _) in itertools.pairwise(changes))
    assert changes[-1][1] == holder_after


async def test_bodies_aiohttp_cannot_decode_are_a_clear_400(tmp_path: Path) -> None:
    """A gzip body that is no gzip: a JSON 400 (it was a 500); a gzip bomb: 413; a
    chunked body with a bad chunk size, a header over 8190 bytes: aiohttp's 400. None
    leaves a traceback in serve's log (each did), one warning line each."""
    bomb = gzip.compress(b'{"a": "' + b"a" * 5_000_000 + b'"}')
    cases = [
        (b"Content-Encoding: gzip\r\nContent-Length: 4\r\n", b"\xff\xfe\x00\x01", 400),
        (b"Content-Encoding: gzip\r\nContent-Length: %d\r\n" % len(bomb), bomb, 413),
        (b"Transfer-Encoding: chunked\r\n", b"zz\r\nabc\r\n0\r\n\r\n", 400),
        (b"X-Huge: " + b"h" * 20_000 + b"\r\nContent-Length: 2\r\n", b"{}", 400),
    ]
    with serving(tmp_path) as srv:
        for headers, body, want in cases:
            head = b"POST /v1/commands HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + headers
            s = _raw(srv.socket, head + b"\r\n" + body)
            try:
                out = b""
                while chunk := await asyncio.to_thread(s.recv, 65536):
                    out += chunk
            finally:
                s.close()
            status = int(out.split()[1])
            assert status == want, out[:300]
            if want != 400 or b"gzip" in headers:  # the others are aiohttp's own reply
                assert json.loads(out.partition(b"\r\n\r\n")[2])["ok"] is False, out[:300]
        async with srv.client() as http:
            assert (await state(http))["supervisor"]["state"] == "Stopped"
            # The stream without a WebSocket handshake: a 400 that says why.
            async with http.get("/v1/stream") as reply:
                body = await reply.json()
            assert reply.status == 400 and "WebSocket" in body["error"]["message"], body
            async with http.get("/v1/nothing") as reply:
                assert (await reply.json())["error"]["message"] == "Not Found"
        assert srv.stop() == 0
        err = srv.stderr.read_text(encoding="utf-8")
        assert "Traceback" not in err and "ERROR" not in err, err
        assert err.count("bad request from a client") >= 2, err


async def test_a_client_opening_many_connections_cannot_take_serves_descriptors(
    tmp_path: Path,
) -> None:
    """Connections beyond the limit (a quarter of the descriptors) are answered 503 and
    closed: serve's own files never run out (they did: the run log lost sample batches
    and serve exited 3, its log flooded with accept() tracebacks), and once they are
    closed a client is served again."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, soft), hard))  # serve inherits it
    try:
        limit = max_connections()
        started = serving(tmp_path, "--recipe", str(RECIPE))
        srv = started.__enter__()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    with contextlib.ExitStack() as stack:
        stack.push(started)
        assert limit < 300 < soft
        held: list[socket.socket] = []
        try:
            deadline = time.monotonic() + 30.0
            while len(held) < 300:  # more than serve's 256 descriptors
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.settimeout(20.0)
                try:
                    s.connect(str(srv.socket))
                except BlockingIOError:  # the listen backlog is full: serve accepts on
                    s.close()
                    assert time.monotonic() < deadline, f"{len(held)} connected"
                    await asyncio.sleep(0.01)
                    continue
                held.append(s)
            status, body = await asyncio.to_thread(_reply, held[-1])
            assert status == 503, body
            assert body["error"]["code"] == "too_many_connections"  # type: ignore[index]
            # Still full: refused too, not queued. The 503 is written and the connection
            # closed at once, so the client may see the 503 or its request cut (EPIPE).
            try:
                async with srv.client() as http, http.get("/v1/state") as reply:
                    assert reply.status == 503
            except aiohttp.ClientOSError as exc:
                assert exc.errno in (errno.EPIPE, errno.ECONNRESET), exc
            except aiohttp.ServerDisconnectedError:
                pass
            await asyncio.sleep(1.0)  # held a while: serve writes its samples meanwhile
        finally:
            for s in held:
                s.close()
        async with asyncio.timeout(20):
            while True:
                async with srv.client() as http, http.get("/v1/state") as reply:
                    if reply.status == 200:
                        break
                await asyncio.sleep(0.1)
        assert srv.stop() == 0  # 3 if the run log had lost anything
        err = srv.stderr.read_text(encoding="utf-8")
    assert "Too many open files" not in err and "Traceback" not in err, err[-2000:]
    assert err.count("connections open") == 1, err[-2000:]
