"""Faults a simulated instrument can be told to show, from a test or the sim config.

Link faults act on the protocol (the instrument stops answering, answers late,
drops the connection, answers garbage or with a bad CRC, refuses an address);
process faults act on the physics (stuck sensor, heater failure, heater stuck
on, O2 leak, web break, press overload). All are plain attributes: set them, clear them.
``update`` (the sim config's ``faults`` table, a fault line on the simulators'
standard input) checks every value first and sets none if one is wrong.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

from simulators.errors import SimLineError


@dataclass
class Faults:
    # link
    no_reply: bool = False
    delay_s: float = 0.0
    drop_connection: bool = False
    garbage: bool = False
    corrupt_crc: bool = False
    exception_addresses: dict[int, int] = field(default_factory=dict)
    # process
    stuck_sensor: bool = False
    heater_failure: bool = False
    heater_stuck_on: bool = False  # welded SSR: full heater power whatever the controller asks
    o2_leak_m3_min: float = 0.0
    web_break: bool = False
    press_overload: bool = False

    def clear(self) -> None:
        for f in fields(self):
            setattr(self, f.name, {} if f.name == "exception_addresses" else f.default)

    def update(self, values: dict[str, Any], *, where: str = "faults") -> None:
        """Set the faults named in ``values``; ``SimLineError`` naming ``where``, the
        fault and the value if one is unknown or of the wrong kind (switches are
        true/false, ``delay_s`` and ``o2_leak_m3_min`` finite numbers >= 0,
        ``exception_addresses`` a table of register address (0-65535) to Modbus
        exception code (1-255)). Nothing is set unless every value is right."""
        if not isinstance(values, dict):
            raise SimLineError(f"{where}: a table of faults, not {values!r}")
        kinds = {f.name: f.type for f in fields(self)}
        checked: dict[str, Any] = {}
        for key, value in values.items():
            if key not in kinds:
                raise SimLineError(f"{where}: unknown fault {key!r} (known: {sorted(kinds)})")
            checked[key] = _checked(key, kinds[key], value, where)
        for key, value in checked.items():
            setattr(self, key, value)


def _checked(key: str, kind: Any, value: Any, where: str) -> Any:
    bad = f"{where}.{key} = {value!r}: "
    if kind in (bool, "bool"):
        if not isinstance(value, bool):
            raise SimLineError(bad + "true or false")
        return value
    if kind in (float, "float"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SimLineError(bad + "a number of seconds or m³/min >= 0")
        if not (math.isfinite(value) and value >= 0):
            raise SimLineError(bad + "a finite number >= 0")
        return float(value)
    # exception_addresses: register address -> exception code
    if not isinstance(value, dict):
        raise SimLineError(bad + "a table of register address to exception code")
    out: dict[int, int] = {}
    for a, c in value.items():
        try:
            addr = int(a)
        except (TypeError, ValueError):
            addr = -1
        if isinstance(a, bool) or not 0 <= addr <= 0xFFFF:
            raise SimLineError(bad + f"address {a!r} is not 0-65535")
        if isinstance(c, bool) or not isinstance(c, int) or not 1 <= c <= 255:
            raise SimLineError(bad + f"exception code {c!r} at {a!r} is not 1-255")
        out[addr] = c
    return out
