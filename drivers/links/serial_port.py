"""Serial ports over pyserial, made async: the one module that imports serial.

Opens a device path (``/dev/ttyUSB0``, a pseudo-terminal) or a pyserial URL
(``socket://127.0.0.1:PORT``) non-blocking and feeds what arrives, stamped with
the loop's clock, into a buffer the links read with deadlines. Nothing here
blocks the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import serial

from drivers.errors import DeviceUnreachable


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


class AsyncSerialPort:
    def __init__(self, settings: SerialSettings, name: str = "") -> None:
        self.settings = settings
        self.name = name or settings.url
        self._ser: serial.SerialBase | None = None
        self._buf = bytearray()
        self._arrived = asyncio.Event()
        self.last_rx_s = 0.0  # loop time of the last byte received
        self.last_tx_s = 0.0

    @property
    def is_open(self) -> bool:
        return self._ser is not None

    def open(self) -> None:
        s = self.settings
        try:
            ser = serial.serial_for_url(
                s.url,
                baudrate=s.baudrate,
                parity=s.parity,
                stopbits=s.stopbits,
                bytesize=s.bytesize,
                timeout=0,
                write_timeout=1.0,
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            raise DeviceUnreachable(f"cannot open {s.url}: {exc}", device=self.name) from exc
        self._ser = ser
        asyncio.get_running_loop().add_reader(ser.fileno(), self._on_readable)

    def _on_readable(self) -> None:
        ser = self._ser
        if ser is None:
            return
        try:
            data = ser.read(4096)
        except (serial.SerialException, OSError):
            self.close()
            return
        if data:
            self._buf += data
            self.last_rx_s = asyncio.get_running_loop().time()
            self._arrived.set()

    def close(self) -> asyncio.Future[None] | None:
        """Stop reading at once; the port itself is closed in a worker thread
        (pyserial's socket:// close sleeps 0.3 s, a tty close may wait to drain).
        Returns the future of that close, or None if the port was not open."""
        ser, self._ser = self._ser, None
        if ser is None:
            return None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            ser.close()
            return None
        with contextlib.suppress(ValueError, OSError):
            loop.remove_reader(ser.fileno())
        return loop.run_in_executor(None, ser.close)

    async def aclose(self) -> None:
        fut = self.close()
        if fut is not None:
            with contextlib.suppress(serial.SerialException, OSError):
                await fut

    def write(self, data: bytes) -> None:
        if self._ser is None:
            raise DeviceUnreachable("port is not open", device=self.name)
        try:
            self._ser.write(data)
        except (serial.SerialException, OSError) as exc:
            self.close()
            raise DeviceUnreachable(f"write failed: {exc}", device=self.name) from exc
        self.last_tx_s = asyncio.get_running_loop().time()

    def take(self) -> bytes:
        """Everything received so far (and forget it)."""
        data = bytes(self._buf)
        self._buf.clear()
        self._arrived.clear()
        return data

    def peek(self) -> bytes:
        return bytes(self._buf)

    def consume(self, n: int) -> None:
        del self._buf[:n]
        if not self._buf:
            self._arrived.clear()

    async def wait_more(self) -> None:
        """Until more bytes arrive than are buffered now (the caller bounds it)."""
        self._arrived.clear()
        await self._arrived.wait()
