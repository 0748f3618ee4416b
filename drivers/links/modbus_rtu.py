"""Modbus RTU link on one serial bus (RS-485): our own framing over ``serial_port``.

pymodbus's serial client inserts no 3.5-character gap and, with no transaction
id in RTU, would take a late reply of the same unit and function for the answer
to the next request. This link therefore:

- serialises requests on the bus (half-duplex: one at a time) and keeps the
  3.5-character silence before every frame;
- accepts a reply only if unit, function, length and CRC match the request;
  anything else (another unit's late reply, a corrupted CRC, garbage) is
  discarded, and reading goes on until the request's deadline;
- after a timeout, holds back only that unit's next request until its
  late-reply window has passed, without holding the bus, so a dead or slow unit
  costs its own deadline and never stalls the other units.
"""

from __future__ import annotations

import asyncio
import struct

from drivers.errors import BadReply, DeviceRejected, DeviceTimeout
from drivers.links import Table
from drivers.links.modbus_tcp import EXCEPTION_NAMES
from drivers.links.serial_port import AsyncSerialPort
from drivers.modbus_rtu import Expect, frame, frame_gap_s


class ModbusRtuLink:
    def __init__(
        self,
        port: AsyncSerialPort,
        *,
        timeout_s: float = 0.3,
        late_window_s: float | None = None,
        name: str = "",
    ) -> None:
        self.port = port
        self.timeout_s = timeout_s
        self.late_window_s = 2 * timeout_s if late_window_s is None else late_window_s
        self.name = name or port.name
        self.gap_s = frame_gap_s(port.settings.baudrate, port.settings.bits_per_char)
        self.transactions = 0
        self.discarded_frames = 0
        self._lock = asyncio.Lock()
        self._quarantine: dict[int, float] = {}

    async def _transact(self, unit: int, pdu: bytes, what: str) -> bytes:
        loop = asyncio.get_running_loop()
        until = self._quarantine.pop(unit, None)
        if until is not None and until > loop.time():
            # Let a late reply of this unit arrive and be discarded before asking again.
            await asyncio.sleep(until - loop.time())
        expect = Expect.for_request(unit, pdu)
        async with self._lock:
            if not self.port.is_open:
                self.port.open()
            idle = max(self.port.last_rx_s, self.port.last_tx_s) + self.gap_s - loop.time()
            if idle > 0:
                await asyncio.sleep(idle)
            if self.port.take():
                self.discarded_frames += 1  # stale bytes on the line: never part of this reply
            self.port.write(frame(unit, pdu))
            self.transactions += 1
            garbled = 0
            try:
                async with asyncio.timeout(self.timeout_s):
                    while True:
                        found = self._find_reply(expect)
                        if found is not None:
                            skipped, adu = found
                            garbled += skipped
                            if skipped:
                                self.discarded_frames += 1
                            break
                        await self.port.wait_more()
            except TimeoutError as exc:
                garbled += len(self.port.take())
                self._quarantine[unit] = loop.time() + self.late_window_s
                if garbled:
                    raise BadReply(
                        f"{what}: {garbled} bytes received, no valid reply within "
                        f"{self.timeout_s:g} s (bad CRC, wrong unit or garbage)",
                        device=self.name,
                    ) from exc
                raise DeviceTimeout(
                    f"{what}: no reply within {self.timeout_s:g} s", device=self.name
                ) from exc
        reply = adu[1:-2]
        if reply[0] & 0x80:
            code = reply[1]
            raise DeviceRejected(
                f"{what}: exception {code} ({EXCEPTION_NAMES.get(code, 'unknown')})",
                code=code,
                device=self.name,
            )
        return reply

    def _find_reply(self, expect: Expect) -> tuple[int, bytes] | None:
        """The first frame in the receive buffer that is this request's reply, with
        the number of bytes before it (another unit's late reply, noise). A CRC
        match at a wrong offset is the only way to be fooled: 1 in 65536 per try."""
        buf = self.port.peek()
        for i in range(len(buf)):
            need = expect.complete(buf[i:])
            if need is not None and len(buf) - i >= need and expect.matches(buf[i : i + need]):
                self.port.consume(i + need)
                return i, bytes(buf[i : i + need])
        return None

    async def read(self, table: Table, address: int, count: int, unit: int) -> list[int]:
        fc = 3 if table == "holding" else 4
        what = f"read {table} {address}+{count} unit {unit}"
        reply = await self._transact(unit, struct.pack(">BHH", fc, address, count), what)
        return list(struct.unpack(f">{count}H", reply[2 : 2 + 2 * count]))

    async def write(self, address: int, words: list[int], unit: int) -> None:
        what = f"write {address}+{len(words)} unit {unit}"
        pdu = struct.pack(f">BHHB{len(words)}H", 16, address, len(words), 2 * len(words), *words)
        reply = await self._transact(unit, pdu, what)
        if reply[1:5] != pdu[1:5]:
            raise BadReply(f"{what}: reply echoes {reply[1:5].hex()}", device=self.name)

    async def close(self) -> None:
        await self.port.aclose()


class UnitLink:
    """One unit's view of a shared bus: the RegisterLink a device driver takes."""

    def __init__(self, bus: ModbusRtuLink, unit: int) -> None:
        self.bus = bus
        self.unit = unit
        self.name = f"{bus.name}#{unit}"
        self.transactions = 0

    async def read(self, table: Table, address: int, count: int, unit: int) -> list[int]:
        self.transactions += 1
        return await self.bus.read(table, address, count, unit)

    async def write(self, address: int, words: list[int], unit: int) -> None:
        self.transactions += 1
        await self.bus.write(address, words, unit)

    async def close(self) -> None:
        """The bus is shared: closing one unit's view leaves it open."""
