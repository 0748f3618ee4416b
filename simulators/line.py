"""The simulated line: every instrument of a line config, coupled through the web.

``step(dt)`` advances all physics by ``dt`` seconds (pure time injection: tests
step it directly). ``run`` drives it from the event loop's clock at
``time_scale`` times real time. TCP instruments are served on loopback; the
address map says where each one is.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from simulators.ascii_devices import (
    ASCII_MODELS,
    AsciiSerialSim,
    AsciiSimDevice,
    DcPsuSim,
    VacuumGaugeSim,
)
from simulators.config import BusSpec, DeviceSpec
from simulators.devices import (
    MODELS,
    LineContext,
    LineDriveSim,
    N2MfcSim,
    O2AnalyzerSim,
    SimDevice,
)
from simulators.errors import SimLineError
from simulators.modbus_server import ModbusTcpSim
from simulators.rtu_server import RtuBusSim


class SimLine:
    def __init__(
        self,
        specs: list[DeviceSpec],
        *,
        buses: dict[str, BusSpec] | None = None,
        time_scale: float = 1.0,
        tick_s: float = 0.05,
    ) -> None:
        self.specs = {s.name: s for s in specs}
        self.bus_specs = dict(buses or {})
        self.time_scale = time_scale
        self.tick_s = tick_s
        self.ctx = LineContext()
        self.sim_time_s = 0.0
        self.devices: dict[str, SimDevice] = {}
        self.ascii_devices: dict[str, AsciiSimDevice] = {}
        for spec in specs:
            where = f"devices.{spec.name}.faults"
            if spec.model in ASCII_MODELS:
                adev = ASCII_MODELS[spec.model].create(spec.name, spec.address)
                adev.faults.update(spec.faults, where=where)
                self.ascii_devices[spec.name] = adev
                continue
            dev = MODELS[spec.model](spec.name)
            dev.faults.update(spec.faults, where=where)
            self.devices[spec.name] = dev
        # A magnetron burns only at its chamber's pressure: couple each supply to the
        # gauge controller of its station.
        for adev in self.ascii_devices.values():
            if isinstance(adev, DcPsuSim):
                st = self.specs[adev.name].station
                adev.gauge = next(
                    (
                        g
                        for g in self.ascii_devices.values()
                        if isinstance(g, VacuumGaugeSim) and self.specs[g.name].station == st
                    ),
                    None,
                )
        for spec in specs:
            o2 = self.devices.get(spec.name)
            if isinstance(o2, O2AnalyzerSim) and spec.purge_from:
                mfc = self.devices.get(spec.purge_from)
                if not isinstance(mfc, N2MfcSim):
                    raise SimLineError(
                        f"devices.{spec.name}.purge_from = {spec.purge_from!r}: "
                        "must name an n2_mfc device"
                    )
                o2.mfc = mfc
        # Step order follows cause and effect: the drive sets the web speed, MFCs
        # the purge; everything else reads them.
        rank = {LineDriveSim: 0, N2MfcSim: 1}
        self._order = sorted(self.devices.values(), key=lambda d: rank.get(type(d), 2))
        gauges_first = sorted(
            self.ascii_devices.values(), key=lambda d: 0 if isinstance(d, VacuumGaugeSim) else 1
        )
        self.servers: list[ModbusTcpSim] = []
        self._server_of: dict[str, ModbusTcpSim] = {}
        self.buses: dict[str, RtuBusSim] = {}

        self._ascii_order = gauges_first
        self.ascii_servers: dict[str, AsciiSerialSim] = {}

    def tcp_server(self, name: str) -> ModbusTcpSim:
        """The Modbus TCP server that serves device ``name`` (after ``start``); its
        ``host``, ``port`` and request counters. KeyError if ``name`` is not a TCP
        device of the line or the line has not started."""
        return self._server_of[name]

    def step(self, dt: float) -> None:
        for dev in self._order:
            dev.step(dt, self.ctx)
        for adev in self._ascii_order:
            adev.step(dt, self.ctx)
        self.sim_time_s += dt

    async def start(self) -> None:
        groups: dict[tuple[str, int], dict[int, SimDevice]] = {}
        for spec in self.specs.values():
            if spec.link != "tcp":
                continue
            key = (spec.host, spec.port) if spec.port else (spec.host, -len(groups) - 1)
            units = groups.setdefault(key, {})
            if spec.unit in units:
                raise SimLineError(
                    f"devices.{spec.name}: unit {spec.unit} is taken on {spec.host}:{spec.port}"
                )
            units[spec.unit] = self.devices[spec.name]
        for (host, port), units in groups.items():
            server = ModbusTcpSim(units, host, max(port, 0))
            await server.start()
            self.servers.append(server)
            for dev in units.values():
                self._server_of[dev.name] = server
        rtu: dict[str, dict[int, SimDevice]] = {}
        for spec in self.specs.values():
            if spec.link != "rtu":
                continue
            bus = spec.bus or ""
            if bus not in self.bus_specs:
                raise SimLineError(
                    f"devices.{spec.name}.bus = {spec.bus!r}: "
                    f"one of the [buses] {sorted(self.bus_specs)}"
                )
            units = rtu.setdefault(bus, {})
            if spec.unit in units:
                raise SimLineError(f"devices.{spec.name}: unit {spec.unit} is taken on bus {bus}")
            units[spec.unit] = self.devices[spec.name]
        for bus, units in rtu.items():
            b = self.bus_specs[bus]
            sim = RtuBusSim(
                units,
                baudrate=b.baudrate,
                bits_per_char=b.bits_per_char,
                emulate_wire_time=b.emulate_wire_time,
                kind="socket" if b.port == "socket" else "pty",
            )
            await sim.start()
            self.buses[bus] = sim
        for name, adev in self.ascii_devices.items():
            spec = self.specs[name]
            aserver = AsciiSerialSim(adev, "socket" if spec.serial_port == "socket" else "pty")
            await aserver.start()
            self.ascii_servers[name] = aserver

    async def stop(self) -> None:
        for server in self.servers:
            await server.stop()
        for bus in self.buses.values():
            await bus.stop()
        for aserver in self.ascii_servers.values():
            await aserver.stop()

    async def run(self) -> None:
        """Advance the physics from the loop clock until cancelled."""
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(self.tick_s)
            now = loop.time()
            self.step((now - last) * self.time_scale)
            last = now

    def address_map(self) -> dict[str, Any]:
        devices: dict[str, Any] = {}
        for name, spec in self.specs.items():
            entry: dict[str, Any] = {"model": spec.model, "link": spec.link, "unit": spec.unit}
            if spec.station:
                entry["station"] = spec.station
            if spec.zone:
                entry["zone"] = spec.zone
            server = self._server_of.get(name)
            if server is not None:
                entry.update(host=server.host, port=server.port)
            elif spec.bus in self.buses:
                entry.update(bus=spec.bus, port=self.buses[spec.bus].path)
            elif name in self.ascii_servers:
                entry.update(port=self.ascii_servers[name].path, baudrate=9600)
                entry.update(self.ascii_devices[name].address_entry())
            else:
                entry["served"] = False
            devices[name] = entry
        buses = {
            name: {
                "port": b.path,
                "baudrate": b.baudrate,
                "parity": self.bus_specs[name].parity,
                "units": sorted(b.devices),
            }
            for name, b in self.buses.items()
        }
        return {
            "simulator": "linecontrol",
            "time_scale": self.time_scale,
            "devices": devices,
            "buses": buses,
        }


async def serve_forever(line: SimLine) -> None:
    await line.start()
    try:
        await line.run()
    finally:
        with contextlib.suppress(Exception):
            await line.stop()
