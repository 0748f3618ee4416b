"""The line config's ``[devices]`` and ``[buses]`` tables: one set of models, for the
application and the simulators alike (strict pydantic; validated once).

``[devices.NAME]`` is a union discriminated on ``link``: ``tcp`` (host, port,
unit), ``rtu`` (bus, unit), ``ascii`` (serial_port, baudrate, address). Every
variant has the model (one of the registry ``drivers.devices.MODELS``, speaking
that link), station (and zone), ``poll_hz`` and the request deadline
``timeout_s``. ``[buses.NAME]`` is one RS-485 bus: port, baud rate, parity, stop
bits and deadline.

Simulator-only fields, validated here like the others and ignored by the
application: ``faults`` and ``purge_from`` (devices), ``emulate_wire_time`` and
``wire_bits_per_char`` (buses).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, field_validator, model_validator

from drivers.devices import MODELS

LINK_TAGS = ("tcp", "rtu", "ascii")
UNION_TABLES = ("devices",)  # tables whose entries are a union tagged by ``link``


class StrictModel(BaseModel):
    """Unknown keys, coercion and non-finite numbers refused; frozen."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


class BusConfig(StrictModel):
    port: str = Field(min_length=1, description="device path, 'pty' or 'socket' when simulated")
    baudrate: Literal[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] = 19200
    parity: Literal["N", "E", "O"] = "E"
    stopbits: Literal[1, 2] = 1
    timeout_s: PositiveFloat = 0.3
    emulate_wire_time: bool = Field(
        default=False, description="simulator only: pace replies at the wire's rate"
    )
    wire_bits_per_char: Literal[10, 11, 12] | None = Field(
        default=None, description="simulator only: character length on the emulated wire"
    )


class _Device(StrictModel):
    link: str  # each kind narrows it to its Literal, the union's discriminator
    model: str
    station: str | None = None
    zone: str | None = None
    poll_hz: float = Field(default=1.0, gt=0.0, le=100.0)
    timeout_s: PositiveFloat = 0.5
    purge_from: str | None = Field(
        default=None, description="simulator only: the n2_mfc that purges an o2_analyzer's oven"
    )
    faults: dict[str, Any] = Field(
        default_factory=dict, description="simulator only: faults injected (simulators.faults)"
    )

    @field_validator("model")
    @classmethod
    def _known(cls, model: str) -> str:
        if model not in MODELS:
            raise ValueError(f"unknown model {model!r}: one of {', '.join(sorted(MODELS))}")
        return model

    @model_validator(mode="after")
    def _speaks(self) -> _Device:
        spec = MODELS[self.model]
        link = self.link_kind
        if link not in spec.links:
            raise ValueError(
                f"model {self.model!r} does not speak link {link!r} "
                f"(it is on {' or '.join(repr(k) for k in spec.links)})"
            )
        return self

    @property
    def link_kind(self) -> str:
        return self.link

    @property
    def link_address(self) -> int:
        """The device's address on its link: Modbus unit id or ASCII bus address."""
        raise NotImplementedError

    @property
    def period_s(self) -> float:
        return 1.0 / self.poll_hz


class _ModbusDevice(_Device):
    unit: int = Field(default=1, ge=1, le=247)

    @property
    def link_address(self) -> int:
        return self.unit


class TcpDevice(_ModbusDevice):
    link: Literal["tcp"]
    host: str = "127.0.0.1"
    port: int = Field(default=502, ge=0, le=65535)


class RtuDevice(_ModbusDevice):
    link: Literal["rtu"]
    bus: str = Field(min_length=1, description="one of the [buses]")


class AsciiDevice(_Device):
    link: Literal["ascii"]
    serial_port: str = Field(min_length=1, description="device path; 'pty' or 'socket' simulated")
    baudrate: int = Field(default=9600, gt=0)
    address: int = Field(default=1, ge=0, le=99)

    @property
    def link_address(self) -> int:
        return self.address


DeviceConfig = Annotated[TcpDevice | RtuDevice | AsciiDevice, Field(discriminator="link")]
AnyDevice = TcpDevice | RtuDevice | AsciiDevice


def drop_union_tags(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """An error path without pydantic's union tag: ``devices.press.port``, as the user
    wrote it, for pydantic's ``devices.press.tcp.port``."""
    out: list[int | str] = []
    for i, part in enumerate(loc):
        if i >= 2 and loc[i - 2] in UNION_TABLES and part in LINK_TAGS:
            continue
        out.append(part)
    return tuple(out)
