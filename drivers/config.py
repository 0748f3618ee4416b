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

What spans several entries is checked once too, by :func:`tables_problems`, which
the line config and the simulators' loader both call: device names (a channel is
``DEVICE.FIELD``, so a name is letters, digits, ``_`` and ``-``), every RTU device
on a bus of ``[buses]``, no two devices at one address (a unit of one bus, a unit of
one TCP host:port, one serial port for an ASCII device, a serial port not also a
bus's), ``purge_from`` of an O2 analyzer naming an N2 flow controller
(``ModelSpec.purge``), and no empty ``[devices]`` table.
The simulated line's placeholders are no collision: TCP port 0 (any free port)
and the serial ports ``pty`` and ``socket`` (each device or bus gets its own).
"""

from __future__ import annotations

import re
import sys
import tomllib
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    StrictBool,
    field_validator,
    model_validator,
)

from drivers.devices import MODELS
from drivers.errors import DriverError

LINK_TAGS = ("tcp", "rtu", "ascii")
UNION_TABLES = ("devices",)  # tables whose entries are a union tagged by ``link``


class StrictModel(BaseModel):
    """Unknown keys, coercion and non-finite numbers refused; frozen."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


BaudRate = Literal[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200]
# Serial ports a simulated line serves one of per device or bus: never a collision.
SIMULATED_PORTS = ("pty", "socket")
DEVICE_NAME_RE = re.compile(r"^[A-Za-z0-9_\-]+$")  # the alarm channel pattern's device part


class FieldProblem(DriverError, ValueError):
    """Problems found by a model validator, each at a field below the model validated:
    ``problems`` is a list of (path from there, message). The loaders turn each into
    one line naming the file and that field (not the model's path)."""

    def __init__(self, problems: list[tuple[tuple[int | str, ...], str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{_dotted(loc)}: {msg}" for loc, msg in problems))


class TomlError(DriverError, ValueError):
    """A file that is not TOML the loaders can take: ``message`` says why, ``line``
    (or None) where."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.message = message
        self.line = line
        super().__init__(message if line is None else f"line {line}: {message}")


_AT_LINE = re.compile(r"at line (\d+)")


def parse_toml(text: str) -> dict[str, Any]:
    """The tables of a TOML document, for the application and the simulators alike; a
    leading UTF-8 byte-order mark is skipped (editors on Windows write one). Every
    failure is a :class:`TomlError`: syntax (with its line), nesting too deep for the
    parser, an integer longer than Python converts (4300 digits)."""
    try:
        return tomllib.loads(text.removeprefix("\ufeff"))
    except tomllib.TOMLDecodeError as exc:
        m = _AT_LINE.search(str(exc))
        # "Invalid value (at line 3, column 1)" -> "Invalid value (column 1)"
        msg = _AT_LINE.sub("", str(exc)).replace("(, ", "(").replace("()", "").strip(" (,")
        raise TomlError(f"TOML syntax error: {msg}", int(m.group(1)) if m else None) from exc
    except RecursionError as exc:
        raise TomlError("TOML nested too deeply (arrays or inline tables)") from exc
    except ValueError as exc:  # int(): "Exceeds the limit (4300 digits) ..."
        limit = sys.get_int_max_str_digits()
        raise TomlError(f"TOML value out of range: an integer of more than {limit} digits") from exc


def _dotted(loc: tuple[int | str, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")


class BusConfig(StrictModel):
    port: str = Field(min_length=1, description="device path, 'pty' or 'socket' when simulated")
    baudrate: BaudRate = 19200
    parity: Literal["N", "E", "O"] = "E"
    stopbits: Literal[1, 2] = 1
    timeout_s: PositiveFloat = 0.3
    emulate_wire_time: bool = Field(
        default=False, description="simulator only: pace replies at the wire's rate"
    )
    wire_bits_per_char: Literal[10, 11, 12] | None = Field(
        default=None, description="simulator only: character length on the emulated wire"
    )


class FaultsConfig(StrictModel):
    """A simulated device's injected faults (the fields of ``simulators.faults.Faults``;
    a unit test keeps the two in step). Only the faults given are set."""

    no_reply: StrictBool = False
    delay_s: NonNegativeFloat = 0.0
    drop_connection: StrictBool = False
    garbage: StrictBool = False
    corrupt_crc: StrictBool = False
    # register address (a TOML key, so a string: "100") -> Modbus exception code
    exception_addresses: dict[str, int] = Field(default_factory=dict)
    stuck_sensor: StrictBool = False
    heater_failure: StrictBool = False
    heater_stuck_on: StrictBool = False
    o2_leak_m3_min: NonNegativeFloat = 0.0
    web_break: StrictBool = False
    press_overload: StrictBool = False

    @field_validator("exception_addresses")
    @classmethod
    def _addresses(cls, table: dict[str, int]) -> dict[str, int]:
        for key, code in table.items():
            if not (key.isdigit() and int(key) <= 0xFFFF):
                raise ValueError(f"register address {key!r}: a number 0-65535")
            if not 1 <= code <= 255:
                raise ValueError(f"exception code {code} at {key}: 1-255")
        return table


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
    faults: FaultsConfig = Field(
        default_factory=FaultsConfig,
        description="simulator only: faults injected (simulators.faults)",
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
    baudrate: BaudRate = 9600
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


def tables_problems(
    devices: Mapping[str, AnyDevice], buses: Mapping[str, BusConfig], *, devices_given: bool
) -> list[tuple[tuple[int | str, ...], str]]:
    """What is wrong across the ``[devices]`` and ``[buses]`` tables (module docstring):
    (field path, message) pairs, empty if nothing. ``devices_given``: the file has a
    ``[devices]`` table (an empty one is refused; none at all is a line without
    instruments)."""
    out: list[tuple[tuple[int | str, ...], str]] = []
    if devices_given and not devices:
        out.append((("devices",), "empty table: a [devices.NAME] table per instrument"))
    for name in devices:
        if not DEVICE_NAME_RE.match(name):
            out.append(
                (
                    ("devices", name),
                    f"device name {name!r}: letters, digits, '_' and '-' only (a channel is "
                    "DEVICE.FIELD, so a '.' would lose the device's data)",
                )
            )
    taken: dict[tuple[str, ...], str] = {}  # an address on a link -> the device there
    bus_of_port: dict[str, str] = {}
    for bus_name, bus in buses.items():
        if bus.port in SIMULATED_PORTS:
            continue
        if bus.port in bus_of_port:
            out.append(
                (
                    ("buses", bus_name, "port"),
                    f"{bus.port!r} is already the port of buses.{bus_of_port[bus.port]}",
                )
            )
        else:
            bus_of_port[bus.port] = bus_name
    for name, d in devices.items():
        key: tuple[str, ...] | None = None
        field = "unit"
        if isinstance(d, RtuDevice):
            if d.bus not in buses:
                out.append(
                    (
                        ("devices", name, "bus"),
                        f"{d.bus!r} is not one of the [buses] {sorted(buses)}",
                    )
                )
                continue
            key, where = ("rtu", d.bus, str(d.unit)), f"unit {d.unit} of bus {d.bus}"
        elif isinstance(d, TcpDevice):
            if d.port != 0:  # port 0: any free port, one server per device
                key = ("tcp", d.host, str(d.port), str(d.unit))
                where = f"unit {d.unit} at {d.host}:{d.port}"
        elif d.serial_port not in SIMULATED_PORTS:
            field = "serial_port"
            if d.serial_port in bus_of_port:
                out.append(
                    (
                        ("devices", name, field),
                        f"{d.serial_port!r} is the port of buses.{bus_of_port[d.serial_port]}",
                    )
                )
                continue
            key, where = ("ascii", d.serial_port), f"serial port {d.serial_port!r}"
        if key is None:
            continue
        if key in taken:
            out.append((("devices", name, field), f"{where} is taken by devices.{taken[key]}"))
        else:
            taken[key] = name
    for name, d in devices.items():
        if d.purge_from is None:
            continue
        if MODELS[d.model].purge != "analyzer":
            out.append((("devices", name, "purge_from"), "only an O2 analyzer has a purge_from"))
            continue
        supply = devices.get(d.purge_from)
        if supply is None or MODELS[supply.model].purge != "supply":
            out.append(
                (
                    ("devices", name, "purge_from"),
                    f"{d.purge_from!r} must name an N2 flow controller of [devices]",
                )
            )
    return out
