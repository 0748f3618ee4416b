"""Modbus RTU framing, sans I/O: CRC, frames, and the reply a request expects.

Shared by the driver's RTU link and the simulated RTU bus. Pure: no clock, no
port. Wire timing (character time, the 3.5-character inter-frame gap) is
computed here from the line settings, and applied by the I/O shells.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass


def crc16(data: bytes) -> int:
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def frame(unit: int, pdu: bytes) -> bytes:
    body = bytes([unit]) + pdu
    return body + struct.pack("<H", crc16(body))


def crc_ok(adu: bytes) -> bool:
    return len(adu) >= 4 and struct.unpack("<H", adu[-2:])[0] == crc16(adu[:-2])


def char_time_s(baudrate: int, bits_per_char: int = 11) -> float:
    """One character on the wire: start + 8 data + parity + stop = 11 bits (8E1)."""
    return bits_per_char / baudrate


def frame_gap_s(baudrate: int, bits_per_char: int = 11) -> float:
    """The silent interval that ends a frame: 3.5 characters, fixed at 1.75 ms above
    19200 baud (Modbus over serial line, 2.5.1.1)."""
    return 0.00175 if baudrate > 19200 else 3.5 * char_time_s(baudrate, bits_per_char)


def request_length(buf: bytes | bytearray) -> int | None:
    """Length of the request frame at the start of ``buf`` (server side), or None
    while too few bytes have arrived to tell; -1 for a function we cannot size."""
    if len(buf) < 2:
        return None
    fc = buf[1]
    if fc in (3, 4, 6):
        return 8
    if fc == 16:
        return None if len(buf) < 7 else 9 + buf[6]
    return -1


@dataclass(frozen=True)
class Expect:
    """What a reply to one request must look like."""

    unit: int
    function: int
    length: int  # full ADU length of a normal reply

    @classmethod
    def for_request(cls, unit: int, pdu: bytes) -> Expect:
        fc = pdu[0]
        if fc in (3, 4):
            count = struct.unpack(">H", pdu[3:5])[0]
            return cls(unit, fc, 5 + 2 * count)
        return cls(unit, fc, 8)

    def complete(self, buf: bytes | bytearray) -> int | None:
        """Bytes needed for the frame that starts ``buf``: None while unknown."""
        if len(buf) < 2:
            return None
        if buf[1] == (self.function | 0x80):
            return 5
        return self.length

    def matches(self, adu: bytes) -> bool:
        if not crc_ok(adu) or adu[0] != self.unit:
            return False
        if adu[1] == (self.function | 0x80):
            return len(adu) == 5
        if adu[1] != self.function or len(adu) != self.length:
            return False
        return self.function not in (3, 4) or adu[2] == self.length - 5
