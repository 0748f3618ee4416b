"""The simulators' view of a line config: the ``[devices]`` and ``[buses]`` tables.

Simulators never import ``linecontrol``; they read the same TOML file themselves
and check what they need, with errors that name the file and the field.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulators.ascii_devices import ASCII_MODELS
from simulators.devices import MODELS


class SimConfigError(ValueError):
    pass


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
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SimConfigError(f"{path}: {exc}") from exc
    return SimConfig(parse(str(path), data), parse_buses(str(path), data))


def parse_buses(file: str, data: dict[str, Any]) -> dict[str, BusSpec]:
    out = {}
    for name, b in dict(data.get("buses", {})).items():
        where = f"{file}: buses.{name}"
        if not isinstance(b, dict):
            raise SimConfigError(f"{where}: must be a table")
        unknown = set(b) - {
            "port",
            "baudrate",
            "parity",
            "stopbits",
            "emulate_wire_time",
            "wire_bits_per_char",
            "timeout_s",
        }
        if unknown:
            raise SimConfigError(f"{where}: unknown keys {sorted(unknown)}")
        baud = b.get("baudrate", 19200)
        if baud not in (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200):
            raise SimConfigError(f"{where}.baudrate = {baud!r}: a standard rate 1200..115200")
        parity = b.get("parity", "E")
        if parity not in ("N", "E", "O"):
            raise SimConfigError(f"{where}.parity = {parity!r}: one of 'N', 'E', 'O'")
        stop = b.get("stopbits", 1)
        if stop not in (1, 2):
            raise SimConfigError(f"{where}.stopbits = {stop!r}: 1 or 2")
        emulate = b.get("emulate_wire_time", False)
        if not isinstance(emulate, bool):
            raise SimConfigError(f"{where}.emulate_wire_time = {emulate!r}: true or false")
        wire_bits = b.get("wire_bits_per_char")
        if wire_bits is not None and wire_bits not in (10, 11, 12):
            raise SimConfigError(f"{where}.wire_bits_per_char = {wire_bits!r}: 10, 11 or 12")
        out[name] = BusSpec(name, str(b.get("port", "pty")), baud, parity, stop, emulate, wire_bits)
    return out


def parse(file: str, data: dict[str, Any]) -> list[DeviceSpec]:
    devices = data.get("devices")
    if not isinstance(devices, dict) or not devices:
        raise SimConfigError(f"{file}: devices: a [devices.NAME] table per instrument is needed")
    specs = []
    allowed = {
        "model",
        "link",
        "host",
        "port",
        "unit",
        "bus",
        "station",
        "zone",
        "purge_from",
        "poll_hz",
        "timeout_s",
        "faults",
        "serial_port",
        "address",
        "baudrate",
    }
    for name, d in devices.items():
        where = f"{file}: devices.{name}"
        if not isinstance(d, dict):
            raise SimConfigError(f"{where}: must be a table")
        unknown = set(d) - allowed
        if unknown:
            raise SimConfigError(f"{where}: unknown keys {sorted(unknown)}")
        model = d.get("model")
        if model not in MODELS and model not in ASCII_MODELS:
            raise SimConfigError(
                f"{where}.model = {model!r}: one of {sorted(MODELS) + sorted(ASCII_MODELS)}"
            )
        link = d.get("link")
        if link not in ("tcp", "rtu", "ascii"):
            raise SimConfigError(f"{where}.link = {link!r}: one of 'tcp', 'rtu', 'ascii'")
        port = d.get("port", 0)
        if not isinstance(port, int) or not 0 <= port <= 65535:
            raise SimConfigError(f"{where}.port = {port!r}: an integer 0..65535 (0: any free)")
        unit = d.get("unit", 1)
        if not isinstance(unit, int) or not 1 <= unit <= 247:
            raise SimConfigError(f"{where}.unit = {unit!r}: an integer 1..247")
        host = d.get("host", "127.0.0.1")
        if link == "tcp" and not str(host).startswith("127."):
            raise SimConfigError(f"{where}.host = {host!r}: simulators listen on loopback only")
        serial_port = d.get("serial_port", "pty")
        if link == "ascii" and serial_port not in ("pty", "socket"):
            raise SimConfigError(
                f"{where}.serial_port = {serial_port!r}: the simulator serves 'pty' or 'socket'"
            )
        if (link == "ascii") != (model in ASCII_MODELS):
            raise SimConfigError(f"{where}: model {model!r} does not speak link {link!r}")
        specs.append(
            DeviceSpec(
                name=name,
                model=model,
                link=link,
                host=str(host),
                port=port,
                unit=unit,
                bus=d.get("bus"),
                station=d.get("station"),
                zone=d.get("zone"),
                purge_from=d.get("purge_from"),
                faults=dict(d.get("faults", {})),
                serial_port=serial_port,
                address=int(d.get("address", 1)),
            )
        )
    return specs
