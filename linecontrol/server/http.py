"""The local API over HTTP and WebSocket (aiohttp): the routes of docs/api.md on a Unix
socket and, optionally, on a loopback TCP port. The only server module that imports
aiohttp; what it serves is the hub's.

Every reply is JSON; an error is ``{"ok": false, "request_id", "error": {"code",
"message"}}`` with its HTTP status. The caller is known before a route runs: the
socket peer's uid (Unix) or a bearer token (TCP), and ``X-Client-Id``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import os
import resource
import socket
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web
from aiohttp.http_exceptions import BadHttpMessage

from linecontrol import api as p
from linecontrol.errors import LinecontrolError
from linecontrol.server import auth
from linecontrol.server.hub import Caller, Hub

logger = logging.getLogger("linecontrol.server")
HUB = web.AppKey("hub", Hub)
SCHEMA = web.AppKey("schema", dict)
WS_WRITER_LIMIT = 32 * 1024  # bytes buffered for a stream before its writer waits
# The largest message a stream client may send: it says nothing the server acts on, so
# a bigger one (aiohttp would buffer 4 MiB per connection) closes its stream (1009).
WS_CLIENT_MAX_BYTES = 4096
SHUTDOWN_S = 2.0  # real seconds the handlers have to end at shutdown
# Real seconds a connection may sit with no request in progress: idle between requests,
# or with its request's headers never finished (a client that trickles or stops), before
# it is closed. Above aiohttp's client keep-alive (15 s), so a client reusing its
# connection never meets one closing under it.
IDLE_S = 20.0


# Connections the kernel queues for serve to accept, and so at most what asyncio accepts
# at once before the limit below can close them (aiohttp's 128 took a burst of
# descriptors beyond it).
BACKLOG = 16


def max_connections() -> int:
    """Connections served at once: a quarter of the process's file descriptors (at most
    1000, at least 16), so clients that open many can never take the run log's, the
    drivers' or a recipe's; one more is answered 503 and closed at once."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 1000
    return max(16, min(1000, soft // 4))


def _too_many(limit: int) -> bytes:
    body = p.dumps({
        "ok": False, "request_id": "",
        "error": {"code": "too_many_connections",
                  "message": f"serve has {limit} connections open: try again later"},
    }).encode()  # fmt: skip
    head = (
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


class _ClientFaults(logging.Filter):
    """aiohttp's own log of a request it could not read (a header over its limit, a
    body that does not decode, read again after the reply): one warning line, not an
    error with a traceback. The client's fault, already answered with a 400."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, web.RequestPayloadError | BadHttpMessage):
            record.msg, record.args, record.exc_info = "bad request from a client: %s", (exc,), None
            record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


_CLIENT_FAULTS = _ClientFaults()


class ServeError(LinecontrolError, OSError):
    """The API cannot be served: a live server on the socket, a path that is no
    socket, an address that is not loopback."""


def json_reply(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        text=p.dumps(body), status=status, content_type="application/json", charset="utf-8"
    )


def error_reply(exc: p.ApiError, request_id: str = "") -> web.Response:
    return json_reply(exc.body(request_id), exc.status)


def _caller(request: web.Request, hub: Hub) -> Caller:
    client = request.headers.get("X-Client-Id")
    if client is not None and not p.valid_id(client):
        raise p.BadRequest(
            f"X-Client-Id = {client!r}: 1 to 64 characters of A-Z a-z 0-9 . _ : - are needed"
        )
    sock = request.transport.get_extra_info("socket") if request.transport else None
    if sock is not None and sock.family == socket.AF_UNIX:
        pid, uid = auth.peer_credentials(sock)
        role = auth.role_of_uid(hub.settings, uid)
        return Caller(auth.user_name(uid), role, client or f"anon-{pid}")
    name, role = auth.role_of_token(hub.settings, request.headers.get("Authorization"))
    peer = request.transport.get_extra_info("peername") if request.transport else None
    port = peer[1] if isinstance(peer, tuple) and len(peer) > 1 else 0
    return Caller(name, role, client or f"anon-{port}")


@web.middleware
async def _errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except p.ApiError as exc:
        return error_reply(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status, "bad_request")
        text = " ".join((exc.text or "").split())  # aiohttp's detail, when it has one
        message = exc.reason if not text or text.startswith(f"{exc.status}:") else text
        return json_reply(
            {"ok": False, "request_id": "", "error": {"code": code, "message": message}},
            exc.status,
        )


async def _state(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    return json_reply(hub.full_state(_caller(request, hub)))


async def _read_body(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > p.MAX_BODY_BYTES:
        raise p.TooLarge(f"the body has {request.content_length} bytes: at most {p.MAX_BODY_BYTES}")
    chunks, size = [], 0
    try:  # a body shorter than its Content-Length, or trickled, never holds a handler
        async with asyncio.timeout(p.BODY_DEADLINE_S):
            while True:
                chunk = await request.content.readany()
                if not chunk:
                    break
                size += len(chunk)
                if size > p.MAX_BODY_BYTES:
                    raise p.TooLarge(f"the body has more than {p.MAX_BODY_BYTES} bytes")
                chunks.append(chunk)
    except web.RequestPayloadError as exc:  # a body aiohttp cannot decode (gzip, chunks)
        raise p.BadRequest(f"the body cannot be read: {exc}") from None
    except TimeoutError:
        raise p.BodyTimeout(
            f"the body did not come within {p.BODY_DEADLINE_S:g} s ({size} bytes came)"
        ) from None
    return b"".join(chunks)


async def _commands(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    caller = _caller(request, hub)
    data = p.decode_body(await _read_body(request))
    rid = data.get("request_id")
    try:
        verdict = await hub.command(caller, data)
    except p.ApiError as exc:
        logger.warning("%s: %s refused: %s", caller.who, data.get("command"), exc.message)
        return error_reply(exc, rid if isinstance(rid, str) else "")
    return json_reply(verdict.body, verdict.status)


async def _recipes(request: web.Request) -> web.Response:
    from linecontrol.server.recipes import recipe_reports

    hub = request.app[HUB]
    _caller(request, hub)
    reports = await asyncio.to_thread(recipe_reports, hub.recipes_dir, hub.session.line)
    return json_reply(reports)


async def _schema(request: web.Request) -> web.Response:
    _caller(request, request.app[HUB])
    return json_reply(request.app[SCHEMA])


async def _stream(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB]
    caller = _caller(request, hub)
    ws = web.WebSocketResponse(
        compress=False, writer_limit=WS_WRITER_LIMIT, max_msg_size=WS_CLIENT_MAX_BYTES
    )
    await ws.prepare(request)
    request.app[_SOCKETS].add(ws)
    stream = hub.open_stream(caller)
    logger.info("stream opened: %s", caller.who)

    async def write() -> None:
        while True:
            message = await stream.next()
            await ws.send_str(p.dumps(message))

    writer = asyncio.create_task(write(), name=f"stream {caller.who}")
    try:
        async for msg in ws:  # the client says nothing the server acts on
            if msg.type == WSMsgType.ERROR:
                break
            if writer.done():
                break
    finally:
        hub.close_stream(stream)
        request.app[_SOCKETS].discard(ws)
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
        with contextlib.suppress(Exception):  # a frozen client never answers the close
            async with asyncio.timeout(SHUTDOWN_S):
                await ws.close()
        logger.info("stream closed: %s (resyncs: %d)", caller.who, stream.resyncs)
    return ws


class _Sockets(set[web.WebSocketResponse]):
    """The open streams' sockets."""


_SOCKETS = web.AppKey("sockets", _Sockets)


async def _close_streams(app: web.Application) -> None:
    """At shutdown: every stream closed (going away), not left to the timeout."""
    sockets: _Sockets = app[_SOCKETS]

    async def close(ws: web.WebSocketResponse) -> None:
        with contextlib.suppress(Exception):
            await ws.close(code=1001, message=b"server shutting down")

    # All at once, within the shutdown time: a frozen client (reading nothing, its
    # close frame never answered) does not hold up the others or the exit.
    closing = [asyncio.create_task(close(ws)) for ws in list(sockets)]
    if closing:
        _, late = await asyncio.wait(closing, timeout=SHUTDOWN_S)
        for t in late:
            t.cancel()
        await asyncio.gather(*late, return_exceptions=True)


def make_app(hub: Hub, schema: dict[str, Any]) -> web.Application:
    app = web.Application(middlewares=[_errors], client_max_size=p.MAX_BODY_BYTES + 1)
    app[HUB] = hub
    app[SCHEMA] = schema
    app[_SOCKETS] = _Sockets()
    app.on_shutdown.append(_close_streams)
    app.router.add_get(f"{p.PREFIX}/state", _state)
    app.router.add_post(f"{p.PREFIX}/commands", _commands)
    app.router.add_get(f"{p.PREFIX}/recipes", _recipes)
    app.router.add_get(f"{p.PREFIX}/schema", _schema)
    app.router.add_get(f"{p.PREFIX}/stream", _stream)
    return app


def clear_socket_path(path: Path) -> None:
    """Remove a stale socket at ``path`` (one nobody listens on); ``ServeError`` for a
    live one (another server) or a path that is not a socket (never removed)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise ServeError(f"{path} exists and is not a socket: not removed; choose another --socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(1.0)
        probe.connect(str(path))
    except OSError as exc:
        if exc.errno not in (errno.ECONNREFUSED, errno.ENOENT):
            raise ServeError(f"{path}: {exc.strerror or exc}") from exc
    else:
        raise ServeError(f"{path}: another server is listening on it")
    finally:
        probe.close()
    path.unlink()
    logger.info("removed the stale socket %s", path)


def loopback(host: str) -> str:
    """``host`` if it is a loopback address (``localhost`` is 127.0.0.1), else
    ``ServeError``."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        addr = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        raise ServeError(f"--tcp {host}: an IP address is needed (loopback only)") from None
    if not addr.is_loopback:
        raise ServeError(f"--tcp {host}: not a loopback address; the API serves loopback only")
    return str(addr)


class ApiServer:
    """The app on its sites; ``start`` serves, ``stop`` closes every connection and
    removes the socket file."""

    def __init__(
        self, hub: Hub, schema: dict[str, Any], socket_path: Path, tcp: tuple[str, int] | None
    ) -> None:
        self.hub = hub
        self.app = make_app(hub, schema)
        self.socket_path = socket_path
        self.tcp = tcp
        self.runner = web.AppRunner(
            self.app,
            shutdown_timeout=SHUTDOWN_S,
            handle_signals=False,
            access_log=None,
            keepalive_timeout=IDLE_S,
        )
        self.tcp_port: int | None = None
        self._made = False
        logging.getLogger("aiohttp.server").addFilter(_CLIENT_FAULTS)  # once: a set

    async def start(self) -> None:
        """Serve; ``ServeError`` if a socket cannot be had (the path, the port in use)."""
        clear_socket_path(self.socket_path)
        await self.runner.setup()
        self._limit_connections(max_connections())
        site = web.UnixSite(self.runner, str(self.socket_path), backlog=BACKLOG)
        old = os.umask(0o117)  # created 0660: the owner and its group
        try:
            await site.start()
        except OSError as exc:
            raise ServeError(f"{self.socket_path}: {exc.strerror or exc}") from exc
        finally:
            os.umask(old)
        self._made = True
        os.chmod(self.socket_path, 0o660)
        if self.tcp is not None:
            host, port = self.tcp
            tcp_site = web.TCPSite(self.runner, loopback(host), port, backlog=BACKLOG)
            try:
                await tcp_site.start()
            except OSError as exc:
                raise ServeError(f"--tcp {host}:{port}: {exc.strerror or exc}") from exc
            server = getattr(tcp_site, "_server", None)
            socks = getattr(server, "sockets", None) or []
            self.tcp_port = socks[0].getsockname()[1] if socks else port

    def _limit_connections(self, limit: int) -> None:
        """At most ``limit`` connections open (streams too); one more gets a 503 and is
        closed before a request is read from it."""
        server = self.runner.server
        assert server is not None
        made = server.connection_made
        refused = 0

        def connection_made(handler: Any, transport: asyncio.Transport) -> None:
            nonlocal refused
            made(handler, transport)
            if len(server.connections) > limit:
                transport.write(_too_many(limit))
                # Closed once aiohttp's handler has started (closed now, it starts on a
                # connection already lost and fails an assertion).
                asyncio.get_running_loop().call_soon(transport.close)
                refused += 1
                if refused == 1 or refused % 1000 == 0:  # a flood logs a line, not a flood
                    logger.warning("%d connections open: %d refused so far", limit, refused)

        server.connection_made = connection_made  # type: ignore[method-assign]

    async def stop(self) -> None:
        for s in list(self.hub.streams):
            s.ready.set()
        try:
            await self.runner.cleanup()
        finally:
            if self._made:
                with contextlib.suppress(FileNotFoundError):
                    self.socket_path.unlink()
