"""Modbus RTU framing, sans I/O: CRC, frames, and the reply a request expects.

Shared by the driver's RTU link and the simulated RTU bus. Pure: no clock, no
port. Wire timing (character time, the 3.5-character inter-frame gap) is
computed here from the line settings, and applied by the I/O shells.

``ReplyScanner`` cuts what a master receives into CRC-valid reply frames in one
pass: every byte offset is looked at once, its candidate length comes from the
frame's own header, and the CRC of a candidate is computed once, when its bytes
are in, so the work is linear in the bytes received (at most one CRC, of at
most 256 bytes, per byte received), however long a device babbles.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass


def _crc_table() -> list[int]:
    table = []
    for b in range(256):
        crc = b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC_TABLE = _crc_table()


def crc16(data: bytes | bytearray | memoryview) -> int:
    crc = 0xFFFF
    for b in data:
        crc = (crc >> 8) ^ _CRC_TABLE[(crc ^ b) & 0xFF]
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


MAX_ADU = 256  # Modbus over serial line, 2.5.1: the largest RTU frame
FIXED_8 = (1, 2, 3, 4, 5, 6)  # requests of 8 bytes: unit, function, 4 bytes, CRC
COUNTED = (15, 16)  # requests with a byte count at offset 6


def request_length(buf: bytes | bytearray) -> int | None:
    """Length of the request frame at the start of ``buf`` (server side), or None
    while too few bytes have arrived to tell; -1 if ``buf`` cannot start a frame.

    A function whose request layout the server does not know (it will answer
    exception 1) is sized by its CRC: the shortest prefix of at least 4 bytes
    that ends in its own CRC. Nothing of the bytes after it is lost."""
    if len(buf) < 2:
        return None
    fc = buf[1]
    if fc in FIXED_8:
        return 8
    if fc in COUNTED:
        return None if len(buf) < 7 else 9 + buf[6]
    crc = 0xFFFF
    for k in range(min(len(buf), MAX_ADU) - 1):
        if k >= 2 and buf[k] | buf[k + 1] << 8 == crc:
            return k + 2
        crc = (crc >> 8) ^ _CRC_TABLE[(crc ^ buf[k]) & 0xFF]
    return -1 if len(buf) >= MAX_ADU else None


# ------------------------------------------------------------------ master side
READ_BITS = (1, 2)
READ_WORDS = (3, 4)
ECHOED = (5, 6, 15, 16)  # a normal reply echoes the request's 4 bytes after the function
KNOWN = READ_BITS + READ_WORDS + ECHOED


def reply_length(buf: bytes | bytearray | memoryview, i: int) -> int | None:
    """Length of the reply frame that would start at ``buf[i]``, from its header;
    0 if no reply can start there; None while the header is incomplete."""
    if len(buf) - i < 2:
        return None
    unit, fc = buf[i], buf[i + 1]
    if not 1 <= unit <= 247:
        return 0  # 0 is broadcast (never answered), 248..255 reserved
    if fc & 0x80:
        return 5 if fc & 0x7F in KNOWN else 0
    if fc in ECHOED:
        return 8
    if fc in READ_BITS or fc in READ_WORDS:
        if len(buf) - i < 3:
            return None
        n = buf[i + 2]
        if n == 0 or (fc in READ_WORDS and n % 2) or n > MAX_ADU - 5:
            return 0
        return 5 + n
    return 0


class ReplyScanner:
    """Cuts a master's received byte stream into CRC-valid reply frames, in order.

    Every offset is examined once. A candidate frame still incomplete does not
    hold up the offsets after it (a noise byte that claims a 200-byte frame does
    not hide the 7-byte reply behind it); a valid frame ends every candidate
    that began before it (those bytes were noise) and the bytes inside it are
    not searched again. Bytes that are in no frame are counted in ``junk``.
    ``crc_checks`` and ``crc_bytes`` count the work done."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._off = 0  # absolute offset of _buf[0]
        self._cursor = 0  # next offset to examine (absolute)
        self._done = 0  # bytes before this offset are in a frame or counted as junk
        self._pending: list[tuple[int, int]] = []  # (start, end) of incomplete candidates
        self.junk = 0
        self.crc_checks = 0
        self.crc_bytes = 0

    def _check(self, start: int, end: int) -> bool:
        self.crc_checks += 1
        self.crc_bytes += end - start
        view = memoryview(self._buf)[start - self._off : end - self._off]
        try:
            return view[-2] | view[-1] << 8 == crc16(view[:-2])
        finally:
            view.release()

    def _emit(self, start: int, end: int, out: list[bytes]) -> None:
        self.junk += start - self._done
        out.append(bytes(self._buf[start - self._off : end - self._off]))
        self._done = end
        self._cursor = max(self._cursor, end)
        self._pending = [p for p in self._pending if p[0] >= end]

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        top = self._off + len(self._buf)
        out: list[bytes] = []
        # Candidates that were waiting for these bytes, in the order they began.
        while True:
            ready = next((p for p in self._pending if p[1] <= top), None)
            if ready is None:
                break
            self._pending.remove(ready)
            if self._check(*ready):
                self._emit(*ready, out)
        # New offsets.
        while self._cursor < top:
            i = self._cursor
            n = reply_length(self._buf, i - self._off)
            if n is None:
                break
            if n == 0:
                self._cursor += 1
            elif i + n > top:
                self._pending.append((i, i + n))
                self._cursor += 1
            elif self._check(i, i + n):
                self._emit(i, i + n, out)
            else:
                self._cursor += 1
        keep = min([self._cursor, self._done, *(p[0] for p in self._pending)])
        if keep - self._off > 4096:
            del self._buf[: keep - self._off]
            self._off = keep
        return out

    def flush(self) -> int:
        """Forget everything not yet in a frame; returns how many bytes that was."""
        top = self._off + len(self._buf)
        dropped = top - max(self._done, self._off)
        self.junk += dropped
        self._buf.clear()
        self._off = self._cursor = self._done = top
        self._pending.clear()
        return dropped

    @property
    def undecided(self) -> int:
        """Bytes received and not yet in a frame (junk so far, or a frame still coming)."""
        return self._off + len(self._buf) - self._done


@dataclass(frozen=True)
class Shape:
    """What a reply to one request must look like: the unit, the function, the
    length of a normal reply and, for a write, the address and count (or value)
    it echoes. An exception reply (function + 0x80) fits any request of that
    function of that unit: it carries nothing else."""

    unit: int
    function: int
    length: int
    echo: bytes = b""

    @classmethod
    def for_request(cls, unit: int, pdu: bytes) -> Shape:
        fc = pdu[0]
        if fc in READ_WORDS:
            return cls(unit, fc, 5 + 2 * struct.unpack(">H", pdu[3:5])[0])
        if fc in READ_BITS:
            return cls(unit, fc, 5 + (struct.unpack(">H", pdu[3:5])[0] + 7) // 8)
        if fc in ECHOED:
            return cls(unit, fc, 8, bytes(pdu[1:5]))
        return cls(unit, fc, 0)

    def answers(self, adu: bytes) -> bool:
        """``adu`` (CRC-valid) has the form of this request's normal reply."""
        if adu[0] != self.unit or adu[1] != self.function or len(adu) != self.length:
            return False
        if self.function in READ_WORDS or self.function in READ_BITS:
            return adu[2] == self.length - 5
        return adu[2:6] == self.echo

    def refuses(self, adu: bytes) -> bool:
        """``adu`` (CRC-valid) is an exception reply to a request of this form."""
        return adu[0] == self.unit and adu[1] == self.function | 0x80 and len(adu) == 5

    def fits(self, adu: bytes) -> bool:
        return self.answers(adu) or self.refuses(adu)
