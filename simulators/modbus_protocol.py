"""Modbus server side, sans I/O: a register bank and the PDU handler (pure).

The simulators answer read holding (3), read input (4), write single (6) and
write multiple (16) registers, with the exception replies real instruments give:
1 for an unsupported function, 2 for an address outside the map, 3 for a value
the instrument refuses (out of its range, or not a number it can hold). MBAP
(TCP) framing lives here too; RTU framing is in ``drivers.modbus_rtu``.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from drivers.errors import CodecError
from drivers.regmap import Register, RegisterMap
from simulators.errors import SimProtocolError

ILLEGAL_FUNCTION = 1
ILLEGAL_ADDRESS = 2
ILLEGAL_VALUE = 3
DEVICE_FAILURE = 4


@dataclass
class RegisterBank:
    """The registers of one simulated instrument, as the wire sees them."""

    regmap: RegisterMap
    holding: dict[int, int] = field(default_factory=dict)
    input: dict[int, int] = field(default_factory=dict)
    # Addresses that answer exception 2 even though mapped (fault injection).
    exception_addresses: dict[int, int] = field(default_factory=dict)
    on_write: Callable[[str, float | int], None] | None = None

    def __post_init__(self) -> None:
        for reg in self.regmap:
            table = self.holding if reg.table == "holding" else self.input
            for a in range(reg.address, reg.end):
                table.setdefault(a, 0)
        self._by_addr: dict[int, Register] = {
            a: r for r in self.regmap if r.table == "holding" for a in range(r.address, r.end)
        }

    def set(self, name: str, value: float | int) -> None:
        reg = self.regmap[name]
        words = reg.encode(value) if math.isfinite(value) else _nan_words(reg)
        table = self.holding if reg.table == "holding" else self.input
        for i, w in enumerate(words):
            table[reg.address + i] = w

    def set_raw(self, name: str, words: list[int]) -> None:
        reg = self.regmap[name]
        table = self.holding if reg.table == "holding" else self.input
        for i, w in enumerate(words):
            table[reg.address + i] = w & 0xFFFF

    def get(self, name: str) -> float | int:
        reg = self.regmap[name]
        table = self.holding if reg.table == "holding" else self.input
        return reg.decode([table[a] for a in range(reg.address, reg.end)])

    # -------------------------------------------------------------- PDUs
    def handle(self, pdu: bytes) -> bytes:
        if not pdu:
            return _exc(0, ILLEGAL_FUNCTION)
        fc = pdu[0]
        try:
            if fc in (3, 4):
                if len(pdu) != 5:
                    return _exc(fc, ILLEGAL_VALUE)
                addr, count = struct.unpack(">HH", pdu[1:5])
                if not 1 <= count <= 125:
                    return _exc(fc, ILLEGAL_VALUE)
                table = self.holding if fc == 3 else self.input
                span = range(addr, addr + count)
                if any(a not in table for a in span):
                    return _exc(fc, ILLEGAL_ADDRESS)
                if any(a in self.exception_addresses for a in span):
                    return _exc(
                        fc,
                        self.exception_addresses[
                            next(a for a in span if a in self.exception_addresses)
                        ],
                    )
                words = [table[a] for a in span]
                return struct.pack(f">BB{count}H", fc, 2 * count, *words)
            if fc == 6:
                if len(pdu) != 5:
                    return _exc(fc, ILLEGAL_VALUE)
                addr, word = struct.unpack(">HH", pdu[1:5])
                err = self._write(addr, [word])
                return _exc(fc, err) if err else pdu
            if fc == 16:
                if len(pdu) < 6:
                    return _exc(fc, ILLEGAL_VALUE)
                addr, count, nbytes = struct.unpack(">HHB", pdu[1:6])
                if nbytes != 2 * count or len(pdu) != 6 + nbytes or not 1 <= count <= 123:
                    return _exc(fc, ILLEGAL_VALUE)
                words = list(struct.unpack(f">{count}H", pdu[6:]))
                err = self._write(addr, words)
                return _exc(fc, err) if err else struct.pack(">BHH", fc, addr, count)
        except struct.error:
            return _exc(fc, ILLEGAL_VALUE)
        return _exc(fc, ILLEGAL_FUNCTION)

    def _write(self, addr: int, words: list[int]) -> int:
        span = range(addr, addr + len(words))
        if any(a not in self._by_addr for a in span):
            return ILLEGAL_ADDRESS
        if any(a in self.exception_addresses for a in span):
            return self.exception_addresses[next(a for a in span if a in self.exception_addresses)]
        staged = dict(self.holding)
        for a, w in zip(span, words, strict=True):
            staged[a] = w
        touched = {self._by_addr[a].name: self._by_addr[a] for a in span}
        decoded: dict[str, float | int] = {}
        for name, reg in touched.items():
            if reg.access not in ("rw", "pulse"):
                return ILLEGAL_ADDRESS
            try:
                value = reg.decode([staged[a] for a in range(reg.address, reg.end)])
            except CodecError:
                return ILLEGAL_VALUE
            lo = -math.inf if reg.min is None else reg.min
            hi = math.inf if reg.max is None else reg.max
            if not lo <= value <= hi:
                return ILLEGAL_VALUE
            decoded[name] = value
        self.holding = staged
        if self.on_write:
            for name, value in decoded.items():
                self.on_write(name, value)
        return 0


def _exc(fc: int, code: int) -> bytes:
    return bytes([(fc | 0x80) & 0xFF, code])


def _nan_words(reg: Register) -> list[int]:
    if reg.type != "f32":
        raise CodecError(f"{reg.name}: only f32 registers can carry NaN")
    raw = struct.pack(">f", math.nan)
    hi, lo = struct.unpack(">HH", raw)
    return [hi, lo] if reg.order == "big" else [lo, hi]


# ------------------------------------------------------------------ MBAP (TCP)
class MbapDecoder:
    """Feed bytes, get complete (transaction id, unit, pdu) requests."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, int, bytes]]:
        self._buf += data
        out = []
        while len(self._buf) >= 7:
            tid, proto, length, unit = struct.unpack(">HHHB", self._buf[:7])
            if proto != 0 or not 2 <= length <= 254:
                raise SimProtocolError("not a Modbus TCP stream")
            total = 6 + length
            if len(self._buf) < total:
                break
            out.append((tid, unit, bytes(self._buf[7:total])))
            del self._buf[:total]
        return out


def mbap(tid: int, unit: int, pdu: bytes) -> bytes:
    return struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu
