"""The simulators' view of a line config: the ``[devices]`` and ``[buses]`` tables.

Simulators never import ``linecontrol``; they read the same TOML file themselves
and check what they need, with errors that name the file and the field.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    faults: dict[str, Any] = field(default_factory=dict)


def load(path: Path) -> list[DeviceSpec]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SimConfigError(f"{path}: {exc}") from exc
    return parse(str(path), data)


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
    }
    for name, d in devices.items():
        where = f"{file}: devices.{name}"
        if not isinstance(d, dict):
            raise SimConfigError(f"{where}: must be a table")
        unknown = set(d) - allowed
        if unknown:
            raise SimConfigError(f"{where}: unknown keys {sorted(unknown)}")
        model = d.get("model")
        if model not in MODELS:
            raise SimConfigError(f"{where}.model = {model!r}: one of {sorted(MODELS)}")
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
            )
        )
    return specs
