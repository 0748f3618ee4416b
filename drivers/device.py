"""A Modbus instrument: a register map, a link and a unit id (thin async shell).

``poll`` reads the planned blocks (one transaction each) and decodes them into
engineering values; a channel that cannot be decoded is reported with its error,
never as a value. ``write_setpoint`` checks the value first (a number, finite,
whole for an integer register, within the instrument's range; nothing is sent
when it is refused), writes it, and verifies it by reading it back. ``command``
sends a self-clearing command (access ``pulse``) with the same checks; it cannot
be verified by read-back (the instrument clears the register as it acts), so the
link's check of the write reply is its only confirmation, and its effect is seen
in the channel it acts on (``web_position_m`` for ``position_reset_cmd``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from drivers.errors import CodecError, DriverError, SetpointError
from drivers.links import RegisterLink
from drivers.regmap import Block, Register, RegisterMap
from drivers.setpoints import verify_readback


@dataclass
class PollResult:
    values: dict[str, float | int] = field(default_factory=dict)
    errors: dict[str, DriverError] = field(default_factory=dict)


class Device(Protocol):
    """What every instrument driver offers, Modbus or ASCII, whatever its link."""

    name: str

    async def poll(self) -> PollResult:
        """Read every channel; a link error propagates (the device has no fresh values)."""
        ...

    async def write_setpoint(self, name: str, value: float) -> float:
        """Refuse (``SetpointError``, nothing sent), or write and return the read-back."""
        ...

    async def command(self, name: str, value: int = 1) -> None:
        """Send a self-clearing command; ``SetpointError`` (nothing sent) if it is none."""
        ...


class ModbusDevice:
    def __init__(
        self,
        name: str,
        regmap: RegisterMap,
        link: RegisterLink,
        unit: int = 1,
        *,
        channels: list[str] | None = None,
    ) -> None:
        self.name = name
        self.regmap = regmap
        self.link = link
        self.unit = unit
        self.blocks: list[Block] = regmap.plan(channels)

    def _holding_words(
        self, reg: Register, value: float, check: Callable[[float], None]
    ) -> list[int]:
        """The words to write ``value`` into ``reg``, after ``check``; ``SetpointError``
        naming this device, and nothing sent, for a bad value or a non-holding register."""
        try:
            check(value)
            words = reg.encode(value)
        except SetpointError as exc:
            raise SetpointError(str(exc), device=self.name) from exc
        if reg.table != "holding":
            raise SetpointError(f"{reg.name} is in the {reg.table} table", device=self.name)
        return words

    async def poll(self) -> PollResult:
        """Read every planned block. A link error (timeout, unreachable, rejected)
        propagates: the whole device is then without fresh values."""
        result = PollResult()
        for block in self.blocks:
            words = await self.link.read(block.table, block.start, block.count, self.unit)
            values, errors = block.decode(words)
            result.values.update(values)
            for name, exc in errors.items():
                result.errors[name] = CodecError(f"{name}: {exc}", device=self.name)
        return result

    async def read(self, name: str) -> float | int:
        reg = self.regmap[name]
        words = await self.link.read(reg.table, reg.address, reg.width, self.unit)
        try:
            return reg.decode(words)
        except CodecError as exc:
            raise CodecError(f"{name}: {exc}", device=self.name) from exc

    async def write_setpoint(self, name: str, value: float) -> float:
        """Write ``name`` and return the value read back. Raises ``SetpointError``
        (nothing sent) or ``ReadbackMismatch`` (sent, but the device holds another value)."""
        reg = self.regmap[name]
        words = self._holding_words(reg, value, reg.check_write)
        await self.link.write(reg.address, words, self.unit)
        back = await self.read(name)
        # One count of the register's resolution is the tolerance of a scaled integer.
        tol = reg.scale / 2 + 1e-9 if reg.type != "f32" else abs(value) * 1e-6 + 1e-9
        return verify_readback(name, float(value), float(back), tol, device=self.name)

    async def command(self, name: str, value: int = 1) -> None:
        """Send the self-clearing command ``name`` (access ``pulse``).

        Raises ``SetpointError`` (nothing sent) for a register that is not a command
        or a value it does not take. Returns once the device has acknowledged the
        write (the link checks that the reply echoes address and count). Never read
        back: the instrument clears the register when it acts, so the value written
        is gone by design; read the channel the command acts on to see its effect."""
        reg = self.regmap[name]
        words = self._holding_words(reg, value, reg.check_command)
        await self.link.write(reg.address, words, self.unit)
