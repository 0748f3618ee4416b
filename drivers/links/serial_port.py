"""Serial ports, made async: the one module that imports serial.

A device path (``/dev/ttyUSB0``, a pseudo-terminal) is opened by pyserial, in a
worker thread (opening and configuring a tty is a system call that may wait),
then read and written as a non-blocking file descriptor on the event loop. A
``socket://HOST:PORT`` URL (a serial-to-Ethernet converter) is a plain TCP
stream: it is connected with the loop's own non-blocking connect, never with
pyserial's blocking one (which waits up to 5 s on the loop). Either way
``open`` and ``write`` are coroutines the caller bounds with its request's
deadline, and nothing here blocks the event loop: a connect that hangs, or an
output queue that stays full, costs that request its deadline and nothing else.

What arrives is stamped with the loop's clock and kept in a buffer the links
read with deadlines.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import serial

from drivers.errors import BadAddress, DeviceUnreachable


@dataclass(frozen=True)
class SerialSettings:
    url: str
    baudrate: int = 19200
    parity: str = "E"
    stopbits: int = 1
    bytesize: int = 8

    @property
    def bits_per_char(self) -> int:
        return 1 + self.bytesize + (0 if self.parity == "N" else 1) + self.stopbits


def socket_address(url: str) -> tuple[str, int] | None:
    """``socket://HOST:PORT`` → (host, port); None for a device path. ValueError on a
    socket URL we cannot use (``BadAddress``: no port, options we do not implement)."""
    if not url.startswith("socket://"):
        return None
    parts = urlsplit(url)
    if parts.query or parts.path not in ("", "/") or parts.hostname is None:
        raise BadAddress(f"expected socket://HOST:PORT, got {url!r}")
    if parts.port is None:
        raise BadAddress(f"no port in {url!r}")
    return parts.hostname, parts.port


class AsyncSerialPort:
    def __init__(self, settings: SerialSettings, name: str = "") -> None:
        self.settings = settings
        self.name = name or settings.url
        self._ser: serial.SerialBase | None = None  # a device path, opened by pyserial
        self._sock: socket.socket | None = None  # a socket:// URL
        self._fd = -1
        self._buf = bytearray()
        self._arrived = asyncio.Event()
        self.last_rx_s = 0.0  # loop time of the last byte received
        self.last_tx_s = 0.0

    @property
    def is_open(self) -> bool:
        return self._fd >= 0

    # -------------------------------------------------------------- open
    async def open(self) -> None:
        """Open the port (no-op if open). The caller bounds it with its deadline:
        cancelled, it leaves nothing open behind."""
        if self.is_open:
            return
        try:
            address = socket_address(self.settings.url)
        except ValueError as exc:
            raise DeviceUnreachable(f"cannot open: {exc}", device=self.name) from exc
        if address is None:
            await self._open_device()
        else:
            await self._open_socket(*address)
        asyncio.get_running_loop().add_reader(self._fd, self._on_readable)

    async def _open_socket(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        url = self.settings.url
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise DeviceUnreachable(f"cannot open {url}: {exc}", device=self.name) from exc
        err: OSError | None = None
        for family, type_, proto, _name, addr in infos:
            sock = socket.socket(family, type_, proto)
            try:
                sock.setblocking(False)
                await loop.sock_connect(sock, addr)
            except OSError as exc:
                sock.close()
                err = exc
                continue
            except BaseException:  # cancelled (the request's deadline): leave nothing open
                sock.close()
                raise
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sock, self._fd = sock, sock.fileno()
            return
        raise DeviceUnreachable(f"cannot open {url}: {err}", device=self.name) from err

    async def _open_device(self) -> None:
        s = self.settings

        def open_blocking() -> serial.SerialBase:
            return serial.serial_for_url(
                s.url,
                baudrate=s.baudrate,
                parity=s.parity,
                stopbits=s.stopbits,
                bytesize=s.bytesize,
                timeout=0,
                write_timeout=0,
            )

        fut = asyncio.get_running_loop().run_in_executor(None, open_blocking)
        try:
            ser = await asyncio.shield(fut)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise DeviceUnreachable(f"cannot open {s.url}: {exc}", device=self.name) from exc
        except asyncio.CancelledError:
            # The deadline passed while the thread was opening: close what it opens.
            fut.add_done_callback(_close_when_opened)
            raise
        try:
            fd = ser.fileno()
            os.set_blocking(fd, False)
        except (AttributeError, OSError, serial.SerialException) as exc:
            ser.close()
            raise DeviceUnreachable(
                f"cannot open {s.url}: not a file descriptor pyserial exposes ({exc})",
                device=self.name,
            ) from exc
        self._ser, self._fd = ser, fd

    # -------------------------------------------------------------- I/O
    def _on_readable(self) -> None:
        if not self.is_open:
            return
        try:
            if self._sock is not None:
                data = self._sock.recv(4096)
                if not data:
                    raise ConnectionResetError("closed by the other end")
            else:
                data = os.read(self._fd, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.close()
            return
        if data:
            self._buf += data
            self.last_rx_s = asyncio.get_running_loop().time()
            self._arrived.set()

    def _send(self, data: memoryview) -> int:
        try:
            if self._sock is not None:
                return self._sock.send(data)
            return os.write(self._fd, data)
        except (BlockingIOError, InterruptedError):
            return 0

    async def write(self, data: bytes) -> None:
        """Send ``data``, without ever blocking the loop: what the port does not take
        at once is sent as it becomes writable. The caller bounds it with its
        deadline; cancelled, the rest of ``data`` is not sent."""
        if not self.is_open:
            raise DeviceUnreachable("port is not open", device=self.name)
        loop = asyncio.get_running_loop()
        view = memoryview(data)
        try:
            sent = self._send(view)
            while sent < len(view):
                fd = self._fd
                writable: asyncio.Future[None] = loop.create_future()
                loop.add_writer(fd, _wake, writable)
                try:
                    await writable
                finally:
                    with contextlib.suppress(ValueError, OSError):
                        loop.remove_writer(fd)
                if not self.is_open:
                    raise DeviceUnreachable("port closed while writing", device=self.name)
                sent += self._send(view[sent:])
        except OSError as exc:
            self.close()
            raise DeviceUnreachable(f"write failed: {exc}", device=self.name) from exc
        self.last_tx_s = loop.time()

    # -------------------------------------------------------------- close
    def close(self) -> asyncio.Future[None] | None:
        """Stop reading at once. A socket is closed at once; a device port is closed
        in a worker thread (a tty close may wait to drain). Returns the future of
        that close, or None."""
        fd, self._fd = self._fd, -1
        ser, self._ser = self._ser, None
        sock, self._sock = self._sock, None
        if fd < 0:
            return None
        self._arrived.set()  # wake a reader: wait_more says the port closed
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None:
            with contextlib.suppress(ValueError, OSError):
                loop.remove_reader(fd)
            with contextlib.suppress(ValueError, OSError):
                loop.remove_writer(fd)
        if sock is not None:
            sock.close()
            return None
        assert ser is not None
        if loop is None:
            ser.close()
            return None
        return loop.run_in_executor(None, ser.close)

    async def aclose(self) -> None:
        fut = self.close()
        if fut is not None:
            with contextlib.suppress(serial.SerialException, OSError):
                await fut

    # -------------------------------------------------------------- buffer
    def take(self) -> bytes:
        """Everything received so far (and forget it)."""
        data = bytes(self._buf)
        self._buf.clear()
        self._arrived.clear()
        return data

    async def wait_more(self) -> None:
        """Until more bytes arrive than are buffered now (the caller bounds it).
        ``DeviceUnreachable`` if the port is or gets closed (the other end hung up)."""
        if not self.is_open:
            raise DeviceUnreachable("port closed", device=self.name)
        self._arrived.clear()
        await self._arrived.wait()
        if not self.is_open:
            raise DeviceUnreachable("port closed", device=self.name)


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _close_when_opened(fut: asyncio.Future[serial.SerialBase]) -> None:
    if not fut.cancelled() and fut.exception() is None:
        fut.result().close()
