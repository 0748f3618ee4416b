"""Register maps as data, and the read planner (pure).

A :class:`Register` describes one channel of an instrument: where it lives
(table and address), how it is encoded (type, scale, word order), its unit, and
whether and within which range it may be written. Access is ``r`` (read only),
``rw`` (a setpoint: written, then verified by reading it back) or ``pulse`` (a
command the instrument clears itself once done, such as a counter reset: written,
never verified by read-back, since the value written is gone by then). A :class:`RegisterMap` is an
instrument's whole map; :meth:`RegisterMap.plan` groups the channels to read
into contiguous blocks, so a poll costs one Modbus transaction per block rather
than one per channel.
"""

from __future__ import annotations

import itertools
import math
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from drivers.codec import WIDTH, RegType, WordOrder, decode, decode_bits, encode
from drivers.errors import CodecError, DeclarationError, SetpointError
from drivers.setpoints import check_setpoint

Table = Literal["holding", "input"]
Access = Literal["r", "rw", "pulse"]
MAX_REGS_PER_READ = 125  # Modbus limit for function codes 3 and 4


@dataclass(frozen=True)
class Register:
    name: str
    address: int
    type: RegType
    unit: str = ""
    scale: float = 1.0
    table: Table = "holding"
    access: Access = "r"
    order: WordOrder = "big"
    min: float | None = None
    max: float | None = None
    bits: dict[int, str] = field(default_factory=dict)
    description: str = ""

    @property
    def width(self) -> int:
        return WIDTH[self.type]

    @property
    def end(self) -> int:
        return self.address + self.width

    @property
    def integer(self) -> bool:
        """Takes whole numbers only: an integer type at scale 1, or a status word."""
        return self.type == "bits" or (self.type != "f32" and self.scale == 1.0)

    def check_write(self, value: float) -> None:
        """Refuse a setpoint before sending: not writable, not a number, not finite,
        not whole for an integer register, out of range."""
        if self.access == "pulse":
            raise SetpointError(
                f"{self.name} is a self-clearing command, not a setpoint: send it as a command"
            )
        if self.access != "rw":
            raise SetpointError(f"{self.name} is read-only")
        check_setpoint(self.name, value, self.min, self.max, self.unit, integer=self.integer)

    def check_command(self, value: float) -> None:
        """Refuse a command before sending: not a command register, or a bad value."""
        if self.access != "pulse":
            raise SetpointError(f"{self.name} is not a command register (access {self.access})")
        check_setpoint(self.name, value, self.min, self.max, self.unit, integer=self.integer)

    def encode(self, value: float) -> list[int]:
        try:
            return encode(self.type, value, scale=self.scale, order=self.order)
        except CodecError as exc:
            raise SetpointError(f"{self.name}: {exc}") from exc

    def decode(self, words: Sequence[int]) -> float | int:
        return decode(self.type, words, scale=self.scale, order=self.order)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "table": self.table,
            "address": self.address,
            "count": self.width,
            "type": self.type,
            "word_order": self.order if self.width == 2 else None,
            "scale": self.scale,
            "unit": self.unit,
            "access": self.access,
            "min": self.min,
            "max": self.max,
            "bits": {str(b): n for b, n in self.bits.items()} or None,
            "description": self.description,
        }


@dataclass(frozen=True)
class Block:
    """One read transaction: ``count`` registers of ``table`` from ``start``.

    Decoding is compiled once per block: the words are packed into bytes with one
    ``struct`` call, and each channel is read at its offset with a precomputed
    format, so a poll costs little beyond the protocol library itself.
    """

    table: Table
    start: int
    count: int
    registers: tuple[Register, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_pack", struct.Struct(f">{self.count}H"))
        object.__setattr__(
            self, "_plan", tuple(_compile(r, r.address - self.start) for r in self.registers)
        )

    def decode(self, words: Sequence[int]) -> tuple[dict[str, float | int], dict[str, CodecError]]:
        values: dict[str, float | int] = {}
        errors: dict[str, CodecError] = {}
        try:
            raw = self._pack.pack(*words)  # type: ignore[attr-defined]
        except struct.error:
            # Wrong count or a word outside 16 bits: decode channel by channel.
            for reg in self.registers:
                off = reg.address - self.start
                try:
                    values[reg.name] = reg.decode(words[off : off + reg.width])
                except CodecError as exc:
                    errors[reg.name] = exc
            return values, errors
        for name, fmt, off, scale, swap, as_int in self._plan:  # type: ignore[attr-defined]
            if swap:
                lo, hi = _HH.unpack_from(raw, off)
                (x,) = fmt.unpack(_HH.pack(hi, lo))
            else:
                (x,) = fmt.unpack_from(raw, off)
            if fmt is _F and not math.isfinite(x):
                errors[name] = CodecError(f"device sent a non-finite float ({x!r})")
                continue
            values[name] = int(x) if as_int else x * scale
        return values, errors


_HH = struct.Struct(">HH")
_F = struct.Struct(">f")
_FORMATS = {
    "u16": struct.Struct(">H"),
    "bits": struct.Struct(">H"),
    "i16": struct.Struct(">h"),
    "u32": struct.Struct(">I"),
    "i32": struct.Struct(">i"),
    "f32": _F,
}


def _compile(reg: Register, offset: int) -> tuple[str, struct.Struct, int, float, bool, bool]:
    """(name, format, byte offset, scale, swap words, integer result) of one channel;
    the same results as ``codec.decode``, checked against it in the unit tests."""
    swap = reg.width == 2 and reg.order == "little"
    as_int = reg.type == "bits" or (reg.scale == 1.0 and reg.type != "f32")
    return reg.name, _FORMATS[reg.type], 2 * offset, reg.scale, swap, as_int


class RegisterMap:
    """The register map of one instrument model."""

    def __init__(
        self, model: str, registers: Iterable[Register], *, description: str = "", link: str = ""
    ) -> None:
        self.model = model
        self.description = description
        self.link = link
        self.registers: dict[str, Register] = {}
        for reg in registers:
            if reg.name in self.registers:
                raise DeclarationError(f"{model}: register name {reg.name!r} repeats")
            if reg.access != "r" and reg.table != "holding":
                raise DeclarationError(
                    f"{model}: {reg.name} is writable but in the {reg.table} table"
                )
            if reg.access == "pulse" and not reg.integer:
                raise DeclarationError(f"{model}: command {reg.name} must be an integer register")
            self.registers[reg.name] = reg
        self._check_overlaps()

    def _check_overlaps(self) -> None:
        for table in ("holding", "input"):
            regs = sorted(
                (r for r in self.registers.values() if r.table == table), key=lambda r: r.address
            )
            for a, b in itertools.pairwise(regs):
                if b.address < a.end:
                    raise DeclarationError(
                        f"{self.model}: {a.name} and {b.name} overlap in {table}"
                    )

    def __getitem__(self, name: str) -> Register:
        return self.registers[name]

    def __iter__(self) -> Any:
        return iter(self.registers.values())

    def plan(
        self,
        names: Iterable[str] | None = None,
        *,
        max_gap: int = 0,
        max_count: int = MAX_REGS_PER_READ,
    ) -> list[Block]:
        """Group the registers to read into blocks of contiguous addresses.

        ``max_gap`` registers of unmapped space may be read across to merge two
        blocks (0 by default: many instruments answer exception 2 for holes).
        """
        regs = self.registers.values() if names is None else [self.registers[n] for n in names]
        blocks: list[Block] = []
        for table in ("holding", "input"):
            cur: list[Register] = []
            for reg in sorted((r for r in regs if r.table == table), key=lambda r: r.address):
                if cur and (
                    reg.address - cur[-1].end > max_gap or reg.end - cur[0].address > max_count
                ):
                    blocks.append(self._block(table, cur))
                    cur = []
                cur.append(reg)
            if cur:
                blocks.append(self._block(table, cur))
        return blocks

    @staticmethod
    def _block(table: Table, regs: list[Register]) -> Block:
        start = regs[0].address
        return Block(table, start, max(r.end for r in regs) - start, tuple(regs))

    def decode_flags(self, name: str, word: int) -> dict[str, bool]:
        return decode_bits(word, self.registers[name].bits)

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "description": self.description,
            "link": self.link,
            "registers": [
                r.describe()
                for r in sorted(self.registers.values(), key=lambda r: (r.table, r.address))
            ],
        }
