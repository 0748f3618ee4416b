"""Helpers: a simulated line served on loopback, for tests that drive it over the wire."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from drivers.device import ModbusDevice
from drivers.devices import MODBUS_MAPS
from drivers.links.ascii_link import AsciiLink
from drivers.links.modbus_rtu import ModbusRtuLink, UnitLink
from drivers.links.modbus_tcp import ModbusTcpLink
from drivers.links.serial_port import AsyncSerialPort, SerialSettings
from linecontrol.config import DEFAULT_LINE
from simulators.config import load_config
from simulators.line import SimLine


@asynccontextmanager
async def served_line() -> AsyncIterator[SimLine]:
    """The embedded line's simulators on loopback; physics advance only when the
    test calls ``line.step(dt)``."""
    cfg = load_config(DEFAULT_LINE)
    line = SimLine(cfg.devices, buses=cfg.buses)
    await line.start()
    try:
        yield line
    finally:
        await line.stop()


def tcp_device(line: SimLine, name: str, *, timeout_s: float = 0.3) -> ModbusDevice:
    spec = line.specs[name]
    server = line.tcp_server(name)
    link = ModbusTcpLink(server.host, server.port, timeout_s=timeout_s, name=name)
    return ModbusDevice(name, MODBUS_MAPS[spec.model], link, spec.unit)


def rtu_bus(line: SimLine, *, timeout_s: float = 0.3) -> ModbusRtuLink:
    """The driver's link to the simulated oven bus, opened with pyserial on the pty."""
    bus = line.buses["oven_bus"]
    settings = SerialSettings(
        bus.path, baudrate=bus.baudrate, parity=line.bus_specs["oven_bus"].parity
    )
    return ModbusRtuLink(AsyncSerialPort(settings, "oven_bus"), timeout_s=timeout_s)


def rtu_device(line: SimLine, bus: ModbusRtuLink, name: str) -> ModbusDevice:
    spec = line.specs[name]
    return ModbusDevice(name, MODBUS_MAPS[spec.model], UnitLink(bus, spec.unit), spec.unit)


def ascii_link(line: SimLine, name: str, *, timeout_s: float = 0.3) -> AsciiLink:
    """The driver's link to a simulated ASCII instrument (pty path or socket:// URL)."""
    url = line.ascii_servers[name].path
    return AsciiLink(
        AsyncSerialPort(SerialSettings(url, baudrate=9600, parity="N"), name), timeout_s=timeout_s
    )
