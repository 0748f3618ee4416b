"""Faults a simulated instrument can be told to show, from a test or the sim config.

Link faults act on the protocol (the instrument stops answering, answers late,
drops the connection, answers garbage or with a bad CRC, refuses an address);
process faults act on the physics (stuck sensor, heater failure, O2 leak, web
break, press overload). All are plain attributes: set them, clear them.
"""

from __future__ import annotations

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
    o2_leak_m3_min: float = 0.0
    web_break: bool = False
    press_overload: bool = False

    def clear(self) -> None:
        for f in fields(self):
            setattr(self, f.name, {} if f.name == "exception_addresses" else f.default)

    def update(self, values: dict[str, Any], *, where: str = "faults") -> None:
        names = {f.name for f in fields(self)}
        for key, value in values.items():
            if key not in names:
                raise SimLineError(f"{where}: unknown fault {key!r} (known: {sorted(names)})")
            if key == "exception_addresses":
                value = {int(a): int(c) for a, c in dict(value).items()}
            setattr(self, key, value)
