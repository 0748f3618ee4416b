"""Wiring: from the line config to links and drivers (the only module of the room
that builds ``drivers`` links), and the address map a simulator reports."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drivers.devices import MODELS
from drivers.factories import make_device
from drivers.links import QueryLink, RegisterLink
from drivers.links.ascii_link import AsciiLink
from drivers.links.modbus_rtu import ModbusRtuLink, UnitLink
from drivers.links.modbus_tcp import ModbusTcpLink
from drivers.links.serial_port import AsyncSerialPort, SerialSettings
from linecontrol.acquisition.scheduler import Driver
from linecontrol.config import AnyDevice, AsciiDevice, LineConfig, RtuDevice, TcpDevice
from linecontrol.errors import AddressMapError
from linecontrol.model import Channel


def device_channels(name: str, d: AnyDevice) -> list[Channel]:
    """The device's channels, as its model declares them (``drivers.devices``)."""
    return [Channel(f"{name}.{c.name}", c.unit, name) for c in MODELS[d.model].channels]


def apply_address_map(line: LineConfig, amap: dict[str, Any]) -> LineConfig:
    """The line config with the addresses a simulator reported (``linecontrol sim``'s
    first line of output): TCP host and port, serial ports and bus settings."""
    devices: dict[str, AnyDevice] = {}
    for name, d in line.devices.items():
        got = amap.get("devices", {}).get(name)
        if got is None or "port" not in got:
            raise AddressMapError(f"the simulator does not serve device {name!r}")
        if d.link == "tcp":
            devices[name] = d.model_copy(update={"host": got["host"], "port": got["port"]})
        elif d.link == "ascii":
            devices[name] = d.model_copy(update={"serial_port": got["port"]})
        else:
            devices[name] = d
    buses = {}
    for name, b in line.buses.items():
        got = amap.get("buses", {}).get(name)
        if got is None:
            raise AddressMapError(f"the simulator does not serve bus {name!r}")
        buses[name] = b.model_copy(update={"port": got["port"], "parity": got["parity"]})
    return line.model_copy(update={"devices": devices, "buses": buses})


# The RTU buses opened so far, by bus name: the units of one bus share its link.
Buses = dict[str, ModbusRtuLink]


def open_driver(
    name: str,
    d: AnyDevice,
    line: LineConfig,
    buses: Buses,
    closers: list[Callable[[], Any]],
) -> tuple[Driver, str]:
    """The device's link (one per physical link: an RTU bus is shared), and its
    driver from the model's factory. Only the link depends on the config's link
    kind; nothing here depends on the model. Each link's ``close`` is appended to
    ``closers``."""
    link: RegisterLink | QueryLink
    if isinstance(d, TcpDevice):
        tcp = ModbusTcpLink(d.host, d.port, timeout_s=d.timeout_s, name=name)
        closers.append(tcp.close)
        link, key = tcp, f"tcp:{name}"
    elif isinstance(d, RtuDevice):
        if d.bus not in buses:
            b = line.buses[d.bus]
            port = AsyncSerialPort(
                SerialSettings(b.port, b.baudrate, b.parity, b.stopbits), d.bus
            )
            buses[d.bus] = ModbusRtuLink(port, timeout_s=b.timeout_s, name=d.bus)
            closers.append(buses[d.bus].close)
        link, key = UnitLink(buses[d.bus], d.unit), f"rtu:{d.bus}"
    else:
        assert isinstance(d, AsciiDevice)
        alink = AsciiLink(
            AsyncSerialPort(SerialSettings(d.serial_port, d.baudrate, "N"), name),
            timeout_s=d.timeout_s,
            name=name,
        )
        closers.append(alink.close)
        link, key = alink, f"ascii:{name}"
    return make_device(MODELS[d.model], name, link, d.link_address), key
