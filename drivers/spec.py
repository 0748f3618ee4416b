"""How an instrument model is declared (pure): the one place that says what it is.

Each module ``drivers/devices/<model>.py`` declares ``MODEL``, a :class:`ModelSpec`:
the protocol it speaks (which fixes the config links it may sit on), its
channels (name, unit, status bits), its register map (Modbus) or command table
(ASCII), and its factory, named by its dotted path (``"package.module:function"``),
never imported here. ``drivers.devices`` collects them into the registry, from which
the config validation, the CLI, the recipe bindings, acquisition and the simulators'
checks all derive; only the code that builds drivers (``drivers.factories``, which
resolves the path) imports a driver, a device or a link.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from drivers.codec import decode_bits
from drivers.errors import DeclarationError, UnknownChannel
from drivers.regmap import RegisterMap

WireProtocol = Literal["modbus", "ascii"]  # what the instrument speaks
LinkKind = Literal["tcp", "rtu", "ascii"]
LINKS: Mapping[str, tuple[LinkKind, ...]] = MappingProxyType(
    {"modbus": ("tcp", "rtu"), "ascii": ("ascii",)}
)

# Where a factory is: "package.module:function", resolved by drivers.factories. The
# function takes (this ModelSpec, the device's name, its link, its address on the link:
# the Modbus unit id or the ASCII bus address) and returns the driver; the link is a
# RegisterLink for a Modbus model, a QueryLink for an ASCII one.
FACTORY_PATH = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*")
# The factory of every Modbus model: a drivers.device.ModbusDevice over its register map.
MODBUS_FACTORY = "drivers.factories:modbus_device"


@dataclass(frozen=True)
class ChannelSpec:
    """One value a poll returns: its name, unit, for a status word its bits, and
    whether ``write_setpoint`` takes it (a setpoint, verified by read-back)."""

    name: str
    unit: str = ""
    bits: Mapping[int, str] = field(default_factory=dict)
    writable: bool = False


@dataclass(frozen=True)
class Command:
    """One line of an ASCII instrument's command table."""

    request: str
    answer: str
    meaning: str
    access: str  # "r", "rw", or "" for an answer that is no request's (an error)


@dataclass(frozen=True)
class ModelSpec:
    model: str
    protocol: WireProtocol
    description: str
    channels: tuple[ChannelSpec, ...]
    factory: str  # the dotted path of its factory (FACTORY_PATH), resolved by drivers.factories
    regmap: RegisterMap | None = None
    commands: tuple[Command, ...] = ()
    # Its part in an oven purge (``[devices] purge_from``, drivers.config): an
    # "analyzer" names the "supply" (an N2 flow controller) that purges its oven.
    purge: Literal["supply", "analyzer"] | None = None

    def __post_init__(self) -> None:
        names = [c.name for c in self.channels]
        if len(set(names)) != len(names):
            raise DeclarationError(f"{self.model}: channel names repeat")
        if (self.protocol == "modbus") != (self.regmap is not None):
            raise DeclarationError(f"{self.model}: a Modbus model has a register map, only it")
        if (self.protocol == "ascii") != bool(self.commands):
            raise DeclarationError(f"{self.model}: an ASCII model has a command table, only it")
        if not FACTORY_PATH.fullmatch(self.factory):
            raise DeclarationError(
                f"{self.model}: factory {self.factory!r} is not a path 'package.module:function'"
            )

    @property
    def links(self) -> tuple[LinkKind, ...]:
        """The config links (``[devices.NAME] link``) this model may sit on."""
        return LINKS[self.protocol]

    def channel(self, name: str) -> ChannelSpec:
        for c in self.channels:
            if c.name == name:
                return c
        raise UnknownChannel(f"{self.model} has no channel {name!r}")

    @property
    def status_bits(self) -> Mapping[int, str]:
        """The bits of the ``status`` channel (empty if the model has none)."""
        return next((c.bits for c in self.channels if c.name == "status"), {})

    def decode_flags(self, name: str, word: int) -> dict[str, bool]:
        """The named bits of a status word: one decoding for every model."""
        return decode_bits(word, self.channel(name).bits)

    def describe(self) -> dict[str, Any]:
        """What ``linecontrol regmap --json`` prints: the register map or command table."""
        if self.regmap is not None:
            return self.regmap.describe()
        return {
            "model": self.model,
            "description": self.description,
            "link": "ascii",
            "commands": [
                {"request": c.request, "answer": c.answer, "meaning": c.meaning, "access": c.access}
                for c in self.commands
            ],
        }


def modbus_model(
    regmap: RegisterMap, *, purge: Literal["supply", "analyzer"] | None = None
) -> ModelSpec:
    """A Modbus model, all from its register map: every register is a channel, and its
    driver is a ``ModbusDevice`` over the map (``MODBUS_FACTORY``); ``purge``: its part
    in an oven purge (``ModelSpec.purge``)."""
    return ModelSpec(
        model=regmap.model,
        protocol="modbus",
        description=regmap.description,
        channels=tuple(
            ChannelSpec(r.name, r.unit, dict(r.bits), writable=r.access == "rw") for r in regmap
        ),
        factory=MODBUS_FACTORY,
        regmap=regmap,
        purge=purge,
    )


def first_paragraph(doc: str | None) -> str:
    """A module docstring's first paragraph on one line (an ASCII model's description)."""
    return " ".join((doc or "").strip().split("\n\n")[0].split())
