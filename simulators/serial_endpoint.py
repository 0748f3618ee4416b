"""One end of a simulated serial line: a pseudo-terminal, or a loopback socket.

A driver opens the pty path with pyserial, or the ``socket://127.0.0.1:PORT`` URL
(pyserial's socket handler): the same bytes either way. Received bytes go to
``on_bytes``; ``write`` sends to whoever holds the other end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tty
from collections.abc import Callable
from typing import Literal

Kind = Literal["pty", "socket"]


class SerialEndpoint:
    def __init__(
        self,
        on_bytes: Callable[[bytes], None],
        kind: Kind = "pty",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.on_bytes = on_bytes
        self.kind = kind
        self.host = host
        self.port = port
        self.url = ""
        self._master = -1
        self._slave = -1
        self._server: asyncio.Server | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        if self.kind == "pty":
            self._master, self._slave = os.openpty()
            tty.setraw(self._slave)
            os.set_blocking(self._master, False)
            self.url = os.ttyname(self._slave)
            asyncio.get_running_loop().add_reader(self._master, self._on_pty)
        else:
            self._server = await asyncio.start_server(self._on_client, self.host, self.port)
            self.port = self._server.sockets[0].getsockname()[1]
            self.url = f"socket://{self.host}:{self.port}"

    def _on_pty(self) -> None:
        try:
            data = os.read(self._master, 4096)
        except OSError:
            return  # nobody holds the other end yet, or EAGAIN
        if data:
            self.on_bytes(data)

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # One cable, one peer: a new connection takes the line over.
        if self._writer is not None:
            self._writer.close()
        self._writer = writer
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            while data := await reader.read(4096):
                self.on_bytes(data)
        except ConnectionError:
            pass
        finally:
            if task is not None:
                self._tasks.discard(task)
            if self._writer is writer:
                self._writer = None
            writer.close()

    def write(self, data: bytes) -> None:
        if self.kind == "pty":
            with contextlib.suppress(OSError):
                os.write(self._master, data)
        elif self._writer is not None:
            self._writer.write(data)

    async def stop(self) -> None:
        if self._master >= 0:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self._master)
            os.close(self._master)
            os.close(self._slave)
            self._master = self._slave = -1
        if self._server is not None:
            self._server.close()
            if self._writer is not None:
                self._writer.close()
            if self._tasks:
                await asyncio.wait(self._tasks, timeout=2.0)
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None


class SerialServer:
    """An instrument (or a bus of them) on a serial line: bytes in, requests framed
    and queued with their arrival time, answered one at a time in order, as a
    half-duplex line does. Subclasses say how to frame and how to answer."""

    def __init__(self, kind: Kind, name: str) -> None:
        self.name = name
        self.endpoint = SerialEndpoint(self._on_rx, kind)
        self._queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None

    @property
    def path(self) -> str:
        """What a driver opens with pyserial: a pty path or a socket:// URL."""
        return self.endpoint.url

    async def start(self) -> None:
        await self.endpoint.start()
        self._worker = asyncio.create_task(self._serve(), name=f"{self.name} {self.path}")

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        await self.endpoint.stop()

    def _on_rx(self, data: bytes) -> None:
        now = asyncio.get_running_loop().time()
        for request in self.frames(data):
            self._queue.put_nowait((now, request))

    async def _serve(self) -> None:
        while True:
            arrived, request = await self._queue.get()
            await self.answer(arrived, request)

    async def reply_at(self, when: float, data: bytes) -> None:
        """Send ``data`` at loop time ``when`` (emulated wire time, late replies)."""
        wait = when - asyncio.get_running_loop().time()
        if wait > 0:
            await asyncio.sleep(wait)
        self.write(data)

    def write(self, data: bytes) -> None:
        self.endpoint.write(data)

    def frames(self, data: bytes) -> list[bytes]:
        raise NotImplementedError

    async def answer(self, arrived: float, request: bytes) -> None:
        raise NotImplementedError
