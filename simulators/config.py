"""The simulators' view of a line config: the ``[devices]`` and ``[buses]`` tables.

Simulators never import ``linecontrol``. They read the same TOML file and validate
its two tables with the same models and the same checks across them as the
application (``drivers.config``), once; errors name the file and the field. What is
checked here is only what is simulator-specific: TCP devices listen on loopback, an
ASCII device is served on ``pty`` or ``socket``, and each model has a simulator. A
TCP device without a ``port`` gets any free port (the address map says which).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from drivers.config import (
    AnyDevice,
    AsciiDevice,
    BusConfig,
    DeviceConfig,
    FieldProblem,
    RtuDevice,
    TcpDevice,
    TomlError,
    drop_union_tags,
    parse_toml,
    tables_problems,
)
from simulators.ascii_devices import ASCII_MODELS
from simulators.devices import MODELS
from simulators.errors import SimConfigError

__all__ = ["BusSpec", "DeviceSpec", "SimConfig", "SimConfigError", "load_config", "parse"]


class _LineTables(BaseModel):
    """The two tables a simulator reads; the rest of the line config is not its business."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    devices: dict[str, DeviceConfig]
    buses: dict[str, BusConfig] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _across(self) -> _LineTables:
        found = tables_problems(self.devices, self.buses, devices_given=True)
        if found:
            raise FieldProblem(found)
        return self


@dataclass(frozen=True)
class DeviceSpec:
    name: str
    model: str
    link: str  # "tcp", "rtu", "ascii"
    host: str = "127.0.0.1"
    port: int = 0
    unit: int = 1
    bus: str | None = None
    station: str | None = None
    zone: str | None = None
    purge_from: str | None = None  # O2 analyzer: the MFC that purges its oven
    serial_port: str = "pty"  # ascii link: "pty" or "socket" when simulated
    address: int = 1  # ascii instruments with a bus address (the gauge controller)
    faults: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BusSpec:
    name: str
    port: str = "pty"  # the simulator serves a pseudo-terminal and prints its path
    baudrate: int = 19200
    parity: str = "E"
    stopbits: int = 1
    emulate_wire_time: bool = False
    # Character length on the emulated wire: 11 for 8E1. Pseudo-terminals carry no
    # parity (the kernel clears PARENB), so a simulated bus is opened as 8N1 while
    # its timing can still be that of the real 8E1 line.
    wire_bits_per_char: int | None = None

    @property
    def bits_per_char(self) -> int:
        if self.wire_bits_per_char is not None:
            return self.wire_bits_per_char
        return 1 + 8 + (0 if self.parity == "N" else 1) + self.stopbits


@dataclass(frozen=True)
class SimConfig:
    devices: list[DeviceSpec]
    buses: dict[str, BusSpec]


def load_config(path: Path) -> SimConfig:
    try:
        data = parse_toml(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SimConfigError([f"{path}: cannot read file: {exc.strerror}"]) from exc
    except UnicodeDecodeError as exc:
        raise SimConfigError([f"{path}: not UTF-8 text"]) from exc
    except TomlError as exc:
        where = f"{path}:{exc.line}" if exc.line is not None else str(path)
        raise SimConfigError([f"{where}: {exc.message}"]) from exc
    tables = _validate(str(path), data)
    return SimConfig(_devices(str(path), tables), _buses(tables))


def parse(file: str, data: dict[str, Any]) -> list[DeviceSpec]:
    """The device specs of a parsed line config (``file`` names it in errors)."""
    return _devices(file, _validate(file, data))


def _validate(file: str, data: dict[str, Any]) -> _LineTables:
    try:
        return _LineTables.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            cause = err.get("ctx", {}).get("error")
            if isinstance(cause, FieldProblem):  # problems across the tables, each at its field
                for below, text in cause.problems:
                    at = drop_union_tags(tuple(err["loc"]) + below)
                    problems.append(f"{file}: {_dotted(at)}: {text}")
                continue
            loc = drop_union_tags(tuple(err["loc"]))
            where = _dotted(loc)
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key (not part of the schema; check its spelling)"
            elif err["type"] == "missing":
                msg = "required field is missing"
                if loc == ("devices",):
                    msg = "a [devices.NAME] table per instrument is needed"
            elif "input" in err and not isinstance(err["input"], dict | list):
                msg = f"{msg} (got {err['input']!r})"
            problems.append(f"{file}: {where}: {msg}" if where else f"{file}: {msg}")
        raise SimConfigError(problems) from exc


def _dotted(loc: tuple[int | str, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")


def _devices(file: str, tables: _LineTables) -> list[DeviceSpec]:
    specs = []
    problems = []
    for name, d in tables.devices.items():
        where = f"{file}: devices.{name}"
        if d.model not in MODELS and d.model not in ASCII_MODELS:
            problems.append(f"{where}.model = {d.model!r}: no simulator for this model")
            continue
        spec = _spec(name, d)
        if isinstance(d, TcpDevice) and not d.host.startswith("127."):
            problems.append(f"{where}.host = {d.host!r}: simulators listen on loopback only")
        if isinstance(d, AsciiDevice) and d.serial_port not in ("pty", "socket"):
            problems.append(
                f"{where}.serial_port = {d.serial_port!r}: the simulator serves 'pty' or 'socket'"
            )
        specs.append(spec)
    if problems:
        raise SimConfigError(problems)
    return specs


def _spec(name: str, d: AnyDevice) -> DeviceSpec:
    common: dict[str, Any] = dict(
        name=name,
        model=d.model,
        link=d.link_kind,
        station=d.station,
        zone=d.zone,
        purge_from=d.purge_from,
        faults=d.faults.model_dump(exclude_unset=True),
    )
    if isinstance(d, TcpDevice):
        port = d.port if "port" in d.model_fields_set else 0  # no port: any free one
        return DeviceSpec(**common, host=d.host, port=port, unit=d.unit)
    if isinstance(d, RtuDevice):
        return DeviceSpec(**common, bus=d.bus, unit=d.unit)
    return DeviceSpec(**common, serial_port=d.serial_port, address=d.address)


def _buses(tables: _LineTables) -> dict[str, BusSpec]:
    return {
        name: BusSpec(
            name,
            b.port,
            b.baudrate,
            b.parity,
            b.stopbits,
            b.emulate_wire_time,
            b.wire_bits_per_char,
        )
        for name, b in tables.buses.items()
    }
