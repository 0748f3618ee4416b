"""A simulated RS-485 Modbus RTU bus on a pseudo-terminal (or a socket:// URL).

Several instruments answer on one bus by unit id, as on a real half-duplex bus.
Requests with a bad CRC or for an absent unit get no reply, as a real slave
behaves; a request for a function the instruments do not implement gets
exception 1 (illegal function), as from the TCP simulators. Requests are cut
from the byte stream by their length (known functions) or by their CRC (any
other function): bytes after a request are never lost. After a bad CRC the
rest of that burst is dropped until the line falls silent (3.5 characters), as
a real slave resynchronises.

Each unit answers its own requests one at a time, in the order received; a late
reply (the ``delay_s`` fault) delays that unit's later replies, never another
unit's. With ``emulate_wire_time`` a reply takes as long as the wire would at
its baud rate: request and reply characters plus the 3.5-character gap, so bus
scheduling can be measured against the physical limit.
"""

from __future__ import annotations

import asyncio
import os

from drivers.modbus_rtu import char_time_s, crc_ok, frame, frame_gap_s, request_length
from simulators.devices import SimDevice
from simulators.serial_endpoint import Kind, SerialServer


class RtuBusSim(SerialServer):
    def __init__(
        self,
        devices: dict[int, SimDevice],
        *,
        baudrate: int = 19200,
        bits_per_char: int = 11,
        emulate_wire_time: bool = False,
        kind: Kind = "pty",
    ) -> None:
        super().__init__(kind, "rtu-bus")
        self.devices = devices
        self.baudrate = baudrate
        self.char_s = char_time_s(baudrate, bits_per_char)
        self.gap_s = frame_gap_s(baudrate, bits_per_char)
        self.emulate_wire_time = emulate_wire_time
        self.requests = 0
        self.bad_crc = 0
        self._buf = bytearray()
        self._last_rx = float("-inf")
        self._resync = False  # dropping bytes until the line falls silent
        self._replies: set[asyncio.Task[None]] = set()
        self._unit_busy_until: dict[int, float] = {}
        self._unit_last: dict[int, asyncio.Task[None]] = {}

    def _on_rx(self, data: bytes) -> None:
        now = asyncio.get_running_loop().time()
        if now - self._last_rx > self.gap_s:
            # Silence ends a frame: a partial frame before it is dropped, framing restarts.
            self._buf.clear()
            self._resync = False
        self._last_rx = now
        if self._resync:
            return
        for request in self.frames(data):
            self._queue.put_nowait((now, request))

    def frames(self, data: bytes) -> list[bytes]:
        self._buf += data
        out: list[bytes] = []
        while True:
            n = request_length(self._buf)
            if n is None or len(self._buf) < max(n, 0):
                return out
            if n < 0:
                del self._buf[:1]  # no frame starts here: try the next byte
                continue
            adu = bytes(self._buf[:n])
            del self._buf[:n]
            if not crc_ok(adu):
                self.bad_crc += 1
                self._buf.clear()
                self._resync = True  # the framing is lost until the line falls silent
                return out
            out.append(adu)

    async def answer(self, arrived: float, adu: bytes) -> None:
        dev = self.devices.get(adu[0])
        if dev is None:
            return  # no such unit on the bus (or broadcast): silence, as on a real bus
        self.requests += 1
        f = dev.faults
        dev.sync_faults()
        if f.no_reply:
            return
        if f.garbage:
            reply = os.urandom(7)
        else:
            reply = frame(adu[0], dev.bank.handle(adu[1:-2]))
            if f.corrupt_crc:
                reply = reply[:-1] + bytes([reply[-1] ^ 0x5A])
        wait = f.delay_s
        if self.emulate_wire_time:
            # Wire time counts from the request's last byte: its characters, the
            # 3.5-character silence that ends it, then the reply's characters.
            wait += (len(adu) + len(reply)) * self.char_s + self.gap_s
        unit = adu[0]
        last = self._unit_last.get(unit)
        if f.delay_s <= 0 and (last is None or last.done()):
            await self.reply_at(arrived + wait, reply)
            return
        # A late unit answers in its own time; the bus goes on serving the others,
        # and the unit's own replies keep their order.
        when = max(arrived + wait, self._unit_busy_until.get(unit, float("-inf")))
        self._unit_busy_until[unit] = when
        task = asyncio.create_task(self._late(last, when, reply))
        self._unit_last[unit] = task
        self._replies.add(task)
        task.add_done_callback(self._replies.discard)

    async def _late(self, before: asyncio.Task[None] | None, when: float, reply: bytes) -> None:
        if before is not None and not before.done():
            await asyncio.wait([before])
        await self.reply_at(when, reply)

    async def stop(self) -> None:
        for task in list(self._replies):
            task.cancel()
        await asyncio.gather(*self._replies, return_exceptions=True)
        await super().stop()
