"""The local API's client (aiohttp): commands with request ids, and the stream kept in a
``LineView``.

It speaks to ``linecontrol serve`` over its Unix socket (the default) or a loopback TCP
port (``http://127.0.0.1:PORT``, with a bearer token); docs/api.md is the contract.

- ``ApiClient.command`` posts one command with a fresh request id (or the one given: the
  server answers the same id with its first verdict, so a retry never acts twice) and
  returns the verdict as a ``CommandResult``: accepted, or refused with the server's code
  and message (``rejected`` with the supervisor's reason, ``forbidden``, ``no_control``,
  ``bad_request``, ``timeout``...). A server that cannot be reached raises
  ``ApiUnreachable``; a reply that is not the protocol's is a result with code
  ``bad_reply``, never an exception the caller did not expect.
- ``ApiClient.follow`` keeps a ``LineView`` current until cancelled: it opens the
  stream, applies each message, and opens a fresh stream (which starts with a ``full``)
  when the view sees a gap or a malformed message, when the stream closes, or when
  nothing has come for ``lost_after_s`` (3 s; heartbeats come every second). The server's
  own ``resync`` keeps the stream: its fresh ``full`` follows on it. While the stream is
  down the view says so (``LineView.disconnected``) and a new one is tried every
  ``retry_s``.
- A stream's handshake not answered in ``handshake_s`` (10 s) is given up, and tried
  again ``retry_s`` later.
- A stream is given up within ``CLOSE_S`` (1 s) of deciding it is dead: the close frame
  is sent, and a server that does not answer it (aiohttp waits up to its timeout per
  message read while closing, and a server still sending renews that) has its socket
  cut. The next stream is tried ``retry_s`` later.
- A stream's ``full`` (its first message, or the one after the server's ``resync``) not
  come within ``handshake_s`` is given up too: a server that sends heartbeats and never
  its state leaves the view connecting (or resyncing) no longer than that, then a fresh
  stream is tried.
- After a stream that went silent, or that ended with nothing after its ``full``, the
  next one is on probation: its ``full`` is held back, and the view stays lost, until a
  second message (a heartbeat) shows the server alive. A server that sends its full
  state and then nothing, or closes, is shown lost, and stays lost, instead of flapping
  between lost and connected on each reconnect.
- A message over ``MAX_MESSAGE_BYTES`` (4 MiB) ends the stream with that reason
  (``message too large (limit N bytes)``), never a bare "closed".
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import json
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from linecontrol.api.view import HEARTBEAT_LOST_S, LineView
from linecontrol.errors import InvalidArgument, LinecontrolError

log = logging.getLogger(__name__)

COMMAND_TIMEOUT_S = 10.0
"""A command's reply: the server answers within 5 s (its verdict deadline); twice that
covers a loaded machine before the client calls the server unreachable."""

CLOSE_S = 1.0
"""Closing a stream the client gave up on: the server's answer to the close frame is
awaited this long in all, then the socket is cut."""

MAX_MESSAGE_BYTES = 4 * 1024 * 1024
"""The largest stream message read (aiohttp's default, stated): a full state of the
default line is about 30 kB."""


class ApiUnreachable(LinecontrolError, ConnectionError):
    """The API's server could not be reached (no socket, refused, closed, timed out)."""


def _int_or_float(text: str) -> int | float:
    """A JSON integer: an int while a float holds it, else a float (an infinity for one
    past float's range, which the view shows as no value; ``int`` of 400 digits is valid
    JSON, and ``math.isfinite`` of it raises ``OverflowError``)."""
    return int(text) if len(text) <= 18 else float(text)


def _loads(text: str | bytes) -> Any:
    """The server's JSON, every number one the view's checks can take."""
    return json.loads(text, parse_int=_int_or_float)


@dataclass(frozen=True)
class Address:
    """Where the server listens: a Unix socket ``path``, or loopback ``host``:``port``."""

    path: Path | None = None
    host: str = ""
    port: int = 0

    @property
    def base_url(self) -> str:
        if self.path is not None:
            return "http://localhost"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def __str__(self) -> str:
        return str(self.path) if self.path is not None else self.base_url


def parse_address(text: str) -> Address:
    """A socket path, or ``http://HOST:PORT`` with a loopback host (``localhost``,
    ``127.0.0.0/8``, ``::1``). Anything else is ``InvalidArgument``."""
    if not text:
        raise InvalidArgument("the API address is empty")
    if "://" not in text:
        return Address(path=Path(text))
    parts = urlsplit(text)
    if parts.scheme != "http":
        raise InvalidArgument(f"API address {text!r}: only http:// (loopback) or a socket path")
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError as exc:
        raise InvalidArgument(f"API address {text!r}: bad port") from exc
    if port is None or port == 0:
        raise InvalidArgument(f"API address {text!r}: a port is required")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise InvalidArgument(f"API address {text!r}: no path, query or fragment allowed")
    if host != "localhost":
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise InvalidArgument(f"API address {text!r}: the host must be a loopback address")
    return Address(host=host, port=port)


@dataclass(frozen=True)
class CommandResult:
    """The server's verdict on one command. ``code`` and ``message`` when refused."""

    ok: bool
    request_id: str
    status: int
    code: str = ""
    message: str = ""

    def __str__(self) -> str:
        return "accepted" if self.ok else f"{self.code}: {self.message}"


def _result(status: int, request_id: str, body: Any) -> CommandResult:
    if not isinstance(body, dict):
        return CommandResult(False, request_id, status, "bad_reply", "the reply is no object")
    if body.get("ok") is True:
        return CommandResult(True, str(body.get("request_id", request_id)), status)
    error = body.get("error")
    if isinstance(error, dict):
        code, message = error.get("code"), error.get("message")
        return CommandResult(
            False,
            str(body.get("request_id", request_id)),
            status,
            str(code) if code is not None else f"http_{status}",
            str(message) if message is not None else "",
        )
    return CommandResult(False, request_id, status, "bad_reply", f"HTTP {status}: no verdict")


class ApiClient:
    """One client of the local API. Use as ``async with ApiClient(address) as client``."""

    def __init__(
        self,
        address: Address,
        client_id: str = "",
        token: str = "",
        *,
        lost_after_s: float = HEARTBEAT_LOST_S,
        retry_s: float = 0.5,
        handshake_s: float = COMMAND_TIMEOUT_S,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.address = address
        self.client_id = client_id
        self.token = token
        self.lost_after_s = lost_after_s
        self.retry_s = retry_s
        self.handshake_s = handshake_s
        self.now = now
        self.streams_opened = 0
        self._probation = False  # the last stream went silent: the next must prove alive
        self._prefix = secrets.token_hex(4)
        self._count = itertools.count(1)
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self._changed = asyncio.Condition()

    # ---------------------------------------------------------------- session
    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session; every later request is ``ApiUnreachable``."""
        self._closed = True
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _headers(self) -> dict[str, str]:
        headers = {}
        if self.client_id:
            headers["X-Client-Id"] = self.client_id
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise ApiUnreachable(f"the client of {self.address} is closed")
        if self._session is None:
            connector: aiohttp.BaseConnector
            if self.address.path is not None:
                connector = aiohttp.UnixConnector(path=str(self.address.path))
            else:
                connector = aiohttp.TCPConnector()
            self._session = aiohttp.ClientSession(
                base_url=self.address.base_url, connector=connector, headers=self._headers()
            )
        return self._session

    def new_request_id(self) -> str:
        return f"{self._prefix}-{next(self._count)}"

    # ---------------------------------------------------------------- requests
    async def _get(self, path: str) -> Any:
        try:
            async with asyncio.timeout(COMMAND_TIMEOUT_S):
                async with self.session().get(path) as reply:
                    status, text = reply.status, await reply.text()
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            why = exc or type(exc).__name__
            raise ApiUnreachable(f"GET {path} from {self.address}: {why}") from exc
        if status != 200:
            raise ApiUnreachable(f"GET {path}: HTTP {status}: {text[:200]}")
        try:
            return _loads(text)
        except ValueError as exc:
            raise ApiUnreachable(f"GET {path}: the reply is not JSON") from exc

    async def state(self) -> dict[str, Any]:
        """The full state (``GET /v1/state``)."""
        body = await self._get("/v1/state")
        if not isinstance(body, dict):
            raise ApiUnreachable("GET /v1/state: the reply is no object")
        return body

    async def recipes(self) -> list[dict[str, Any]]:
        """The recipes on the server's disk with their rule check (``GET /v1/recipes``)."""
        body = await self._get("/v1/recipes")
        if not isinstance(body, list):
            raise ApiUnreachable("GET /v1/recipes: the reply is no list")
        return [r for r in body if isinstance(r, dict)]

    async def command(
        self, command: str, *, reason: str = "", request_id: str = "", **fields: Any
    ) -> CommandResult:
        """Post ``command`` (its wire name) with ``fields``; the server's verdict. A field
        that is not finite (NaN, an infinity) or not JSON is ``InvalidArgument``, not sent."""
        rid = request_id or self.new_request_id()
        body: Mapping[str, Any] = {
            "command": command,
            "request_id": rid,
            "reason": reason,
            **fields,
        }
        try:
            payload = json.dumps(body, allow_nan=False)
        except ValueError as exc:  # NaN or an infinity: refused here, never sent
            raise InvalidArgument(f"{command}: a number is not finite: {fields}") from exc
        except TypeError as exc:
            raise InvalidArgument(f"{command}: a field is not JSON: {exc}") from exc
        try:
            async with asyncio.timeout(COMMAND_TIMEOUT_S):
                post = self.session().post(
                    "/v1/commands", data=payload, headers={"Content-Type": "application/json"}
                )
                async with post as reply:
                    status = reply.status
                    text = await reply.text()
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise ApiUnreachable(
                f"{command} to {self.address}: {exc or type(exc).__name__}"
            ) from exc
        try:
            decoded = _loads(text)
        except ValueError:
            return CommandResult(False, rid, status, "bad_reply", f"HTTP {status}: {text[:200]}")
        return _result(status, rid, decoded)

    # ---------------------------------------------------------------- the stream
    async def follow(self, view: LineView) -> None:
        """Keep ``view`` current until cancelled (reconnecting as the docstring says)."""
        while True:
            try:
                reason = await self._stream_once(view)
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                reason = f"cannot reach the server: {exc or type(exc).__name__}"
            view.disconnected(reason)
            await self._notify()
            log.info("stream: %s; again in %.1f s", reason, self.retry_s)
            await asyncio.sleep(self.retry_s)

    async def _stream_once(self, view: LineView) -> str:
        """One stream, until it has to be replaced: why. The stream is closed within
        ``CLOSE_S`` however the server behaves (cancelled too)."""
        try:
            async with asyncio.timeout(self.handshake_s):
                ws = await self.session().ws_connect("/v1/stream", max_msg_size=MAX_MESSAGE_BYTES)
        except TimeoutError:
            return f"the server did not answer the stream's handshake in {self.handshake_s:g} s"
        try:
            return await self._read(ws, view)
        finally:
            try:
                async with asyncio.timeout(CLOSE_S):
                    await ws.close()
            except TimeoutError:
                # aiohttp's close, cancelled by the timeout, has cut the connection;
                # the session's pool never holds a WebSocket's connection
                log.info("stream: the server did not answer the close in %.1f s", CLOSE_S)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse, view: LineView) -> str:
        self.streams_opened += 1
        applied = [0]  # messages applied to the view from this stream
        reason = await self._read_messages(ws, view, applied)
        if applied[0] <= 1:  # nothing, or its full only: the next stream must prove alive
            self._probation = True
        return reason

    async def _read_messages(
        self, ws: aiohttp.ClientWebSocketResponse, view: LineView, applied: list[int]
    ) -> str:
        # the stream's full is awaited until full_by (None once it came): at the start,
        # and after the server's resync
        full_by: float | None = self.now() + self.handshake_s
        awaiting_full = False  # the server said resync: its fresh full follows
        held: Any = None  # on probation: the stream's full, applied once it proves alive
        while True:
            wait = self.lost_after_s
            if full_by is not None:
                left = full_by - self.now()
                if left <= 0:
                    return f"no full state from the server in {self.handshake_s:g} s"
                wait = min(wait, left)
            try:
                async with asyncio.timeout(wait):
                    message = await ws.receive()
            except TimeoutError:
                if wait < self.lost_after_s:  # the full's deadline came first
                    return f"no full state from the server in {self.handshake_s:g} s"
                self._probation = True
                after = " after its full state (no heartbeat)" if held is not None else ""
                return f"nothing from the server for {self.lost_after_s:g} s{after}"
            if message.type == aiohttp.WSMsgType.BINARY:
                return "the stream sent a binary frame"
            if message.type == aiohttp.WSMsgType.ERROR:
                return self._error_reason(message.data)
            if message.type != aiohttp.WSMsgType.TEXT:
                return f"stream closed ({message.type.name.lower()})"
            try:
                decoded: Any = _loads(message.data)
            except ValueError:
                decoded = message.data  # the view calls it malformed
            kind = decoded.get("type") if isinstance(decoded, dict) else None
            if self._probation:
                if held is None and kind == "full":
                    held = decoded  # the view stays lost until the server shows alive
                    continue
                self._probation = False
                if held is not None:
                    view.apply(held, self.now())
                    applied[0] += 1
                    full_by = None
            view.apply(decoded, self.now())
            applied[0] += 1
            await self._notify()
            if kind == "resync":
                awaiting_full = True
                full_by = self.now() + self.handshake_s
            elif kind == "full":
                awaiting_full = False
                full_by = None
            if view.needs_resync and not awaiting_full:
                return view.resync_reason

    @staticmethod
    def _error_reason(error: Any) -> str:
        """Why an ERROR message ended the stream (aiohttp's ``WebSocketError``)."""
        code = getattr(error, "code", None)
        if code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG:
            log.info("stream: %s", error)  # aiohttp's text has the message's size
            return f"message too large (limit {MAX_MESSAGE_BYTES} bytes)"
        return f"stream error: {error or type(error).__name__}"

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def until(self, predicate: Callable[[], bool], timeout_s: float) -> None:
        """Wait until ``predicate()`` holds after a message (``TimeoutError`` after
        ``timeout_s``): for scripts and tests that follow a view."""
        async with asyncio.timeout(timeout_s), self._changed:
            await self._changed.wait_for(predicate)
