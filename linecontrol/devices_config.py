"""The line config's instruments: where each is, how often to poll it.

``[devices.NAME]``: model, link (``tcp``, ``rtu``, ``ascii``), its address (host and
port; bus and unit; serial port), station (and zone), ``poll_hz`` and the request
deadline ``timeout_s``. ``[buses.NAME]``: one RS-485 bus: port, baud rate, parity,
stop bits and deadline. Simulator-only keys (``faults``, ``emulate_wire_time``,
``wire_bits_per_char``, ``purge_from``) are accepted and ignored here.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, PositiveFloat, model_validator

from linecontrol.tomlfile import StrictModel

MODBUS_MODELS = ("line_drive", "coater", "press", "oven_zone", "n2_mfc", "o2_analyzer")
ASCII_MODELS = ("dc_psu", "vacuum_gauge")


class BusConfig(StrictModel):
    port: str = Field(min_length=1, description="device path, 'pty' or 'socket' when simulated")
    baudrate: Literal[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] = 19200
    parity: Literal["N", "E", "O"] = "E"
    stopbits: Literal[1, 2] = 1
    timeout_s: PositiveFloat = 0.3
    emulate_wire_time: bool = False
    wire_bits_per_char: Literal[10, 11, 12] | None = None


class DeviceConfig(StrictModel):
    model: Literal[
        "line_drive",
        "coater",
        "press",
        "oven_zone",
        "n2_mfc",
        "o2_analyzer",
        "dc_psu",
        "vacuum_gauge",
    ]
    link: Literal["tcp", "rtu", "ascii"]
    host: str = "127.0.0.1"
    port: int = Field(default=502, ge=0, le=65535)
    unit: int = Field(default=1, ge=1, le=247)
    bus: str | None = None
    serial_port: str | None = None
    baudrate: int = Field(default=9600, gt=0)
    address: int = Field(default=1, ge=0, le=99)
    station: str | None = None
    zone: str | None = None
    poll_hz: float = Field(default=1.0, gt=0.0, le=100.0)
    timeout_s: PositiveFloat = 0.5
    purge_from: str | None = None
    faults: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _link(self) -> DeviceConfig:
        if (self.model in ASCII_MODELS) != (self.link == "ascii"):
            raise ValueError(f"model {self.model!r} does not speak link {self.link!r}")
        if self.link == "rtu" and not self.bus:
            raise ValueError("an rtu device names its bus")
        if self.link == "ascii" and not self.serial_port:
            raise ValueError("an ascii device names its serial_port")
        return self

    @property
    def period_s(self) -> float:
        return 1.0 / self.poll_hz
