"""A simulated RS-485 Modbus RTU bus on a pseudo-terminal (or a socket:// URL).

Several instruments answer on one bus by unit id, one request at a time, as on a
real half-duplex bus. Requests with a bad CRC or for an absent unit get no reply,
as a real slave behaves. With ``emulate_wire_time`` the bus takes as long as the
wire would at its baud rate: request and reply characters plus the 3.5-character
gap, so bus scheduling can be measured against the physical limit.
"""

from __future__ import annotations

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

    def frames(self, data: bytes) -> list[bytes]:
        self._buf += data
        out: list[bytes] = []
        while True:
            n = request_length(self._buf)
            if n is None or len(self._buf) < max(n, 0):
                return out
            if n < 0:
                self._buf.clear()  # cannot frame it: wait for the line to resync
                return out
            out.append(bytes(self._buf[:n]))
            del self._buf[:n]

    async def answer(self, arrived: float, adu: bytes) -> None:
        if not crc_ok(adu):
            self.bad_crc += 1
            self._buf.clear()
            return
        dev = self.devices.get(adu[0])
        if dev is None:
            return  # no such unit on the bus: silence, as on a real bus
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
        await self.reply_at(arrived + wait, reply)
