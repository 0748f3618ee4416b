"""The simulated line: every instrument of a line config, coupled through the web.

``step(dt)`` advances all physics by ``dt`` simulated seconds (pure time injection:
tests step it directly), in sub-steps of at most ``max_substep_s`` so a large ``dt``
(accelerated time) stays stable. ``run`` steps it from a ``SimClock`` (the system's
monotonic clock ``speedup`` times faster from an epoch: the clock a supervisor given
the same epoch and speedup runs on). TCP instruments are served on loopback; the
address map says where each one is.

Why one global sub-step of 10 s is enough: every model is stable for any ``dt`` on
its own (the thermal loop sub-steps itself at 0.5 s; web tension, coater flow, N2
flow, oven and chamber atmospheres use the exact solution of their first-order
equations; speeds, loads and powers are rate-limited ramps). The line's sub-step
bounds only the coupling between instruments (the drive's speed read by the others,
the MFC's flow by the O2 analyzer, the chamber pressure by the magnetron supply),
whose time constants are seconds to minutes, and the web position's error where a
speed ramp ends inside a sub-step (accel x h² / 8, about 0.1 m at 10 s). Each sub-step publishes
every register bank, which is what costs CPU (about 1 ms for the default line):
10 s keeps speed-up 1000 at a small fraction of a core (``bench/bench_speedup.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from typing import Any

from simulators.ascii_devices import (
    ASCII_MODELS,
    AsciiSerialSim,
    AsciiSimDevice,
    DcPsuSim,
    VacuumGaugeSim,
)
from simulators.clock import SimClock
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
from simulators.faults import Faults
from simulators.modbus_server import ModbusTcpSim
from simulators.rtu_server import RtuBusSim

logger = logging.getLogger("simulators.line")

MAX_SUBSTEP_S = 10.0  # simulated seconds; see the module docstring
MAX_SUBSTEPS = 10_000  # per ``step``: beyond, sub-steps grow (the models stay stable)


class SimLine:
    def __init__(
        self,
        specs: list[DeviceSpec],
        *,
        buses: dict[str, BusSpec] | None = None,
        clock: SimClock | None = None,
        time_scale: float | None = None,
        tick_s: float = 0.05,
        max_substep_s: float = MAX_SUBSTEP_S,
    ) -> None:
        """``clock`` drives ``run`` (default: real time from now); ``time_scale`` is
        the older spelling of ``SimClock(time_scale)`` (speed-up from now); ``tick_s``
        is how often, in real seconds, ``run`` steps the physics."""
        self.specs = {s.name: s for s in specs}
        self.bus_specs = dict(buses or {})
        if clock is not None and time_scale is not None:
            raise SimLineError("give a clock or a time_scale, not both")
        self.clock = clock if clock is not None else SimClock(time_scale or 1.0)
        self.tick_s = tick_s
        if not (math.isfinite(max_substep_s) and max_substep_s > 0):
            raise SimLineError(f"max_substep_s = {max_substep_s!r}: a positive number")
        self.max_substep_s = max_substep_s
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

    @property
    def time_scale(self) -> float:
        """Simulated seconds per real second (the clock's speed-up)."""
        return self.clock.speedup

    def step(self, dt: float) -> None:
        """Advance every instrument by ``dt`` simulated seconds, in equal sub-steps of
        at most ``max_substep_s`` (at most ``MAX_SUBSTEPS`` of them). A ``dt`` that is
        not a finite number >= 0 is refused (``SimLineError``)."""
        if not (math.isfinite(dt) and dt >= 0):
            raise SimLineError(f"step({dt!r}): a finite step >= 0")
        if dt == 0:
            return
        n = min(MAX_SUBSTEPS, max(1, math.ceil(dt / self.max_substep_s)))
        h = dt / n
        for _ in range(n):
            for dev in self._order:
                dev.step(h, self.ctx)
            for adev in self._ascii_order:
                adev.step(h, self.ctx)
        self.sim_time_s += dt

    def faults_of(self, name: str) -> Faults:
        """The faults of instrument ``name`` (``SimLineError`` naming the instruments
        if the line has none of that name)."""
        dev = self.devices.get(name) or self.ascii_devices.get(name)
        if dev is None:
            known = sorted([*self.devices, *self.ascii_devices])
            raise SimLineError(f"no device {name!r} on the line (devices: {', '.join(known)})")
        return dev.faults

    def fault_request(self, raw: bytes | str) -> dict[str, Any]:
        """Act on one fault line of the simulators' standard input (module
        ``simulators.__main__``) and return its answer: ``{"ok": true}`` or
        ``{"ok": false, "error": "..."}``, with the request's ``id`` if it had one.
        A bad line changes nothing and raises nothing."""
        answer: dict[str, Any] = {}
        try:
            msg = json.loads(raw, parse_constant=_no_constant)
            if not isinstance(msg, dict):
                raise SimLineError(f"a JSON object, not {type(msg).__name__}")
            if "id" in msg:
                if isinstance(msg["id"], bool) or not isinstance(msg["id"], int | str):
                    raise SimLineError(f"id = {msg['id']!r}: a number or a string")
                answer["id"] = msg["id"]
            unknown = sorted(set(msg) - {"id", "device", "faults", "clear"})
            if unknown:
                raise SimLineError(
                    f"unknown field(s) {', '.join(map(repr, unknown))} "
                    "(known: id, device, faults, clear)"
                )
            name = msg.get("device")
            if not isinstance(name, str):
                raise SimLineError(f"device = {name!r}: the name of a device of the line")
            faults = self.faults_of(name)
            clear = msg.get("clear", False)
            if "faults" in msg and clear is not False:
                raise SimLineError("faults or clear, not both")
            if "faults" in msg:
                faults.update(msg["faults"], where=f"{name}.faults")
            elif clear is True:
                faults.clear()
            else:
                raise SimLineError(f'{name}: give "faults": {{...}} or "clear": true')
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, SimLineError
            bad_json = isinstance(exc, json.JSONDecodeError | UnicodeDecodeError)
            what = "not JSON: " if bad_json else ""
            return {**answer, "ok": False, "error": f"{what}{exc}"}
        return {**answer, "ok": True}

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
        """Advance the physics from ``clock`` until cancelled: every ``tick_s`` real
        seconds, by the simulated time elapsed since the last step. A line that cannot
        keep up (a step longer than the time it simulates, in real time) is logged."""
        clock = self.clock
        last = clock.now()
        behind = False
        while True:
            await asyncio.sleep(self.tick_s)
            now = clock.now()
            self.step(now - last)
            last = now
            took = clock.now() - now  # simulated seconds the step took in real time
            late = took > self.tick_s * clock.speedup
            if late and not behind:
                logger.warning(
                    "the simulated line cannot keep up at speed-up %g: a step took %.3g s "
                    "of real time, longer than a tick",
                    clock.speedup,
                    took / clock.speedup,
                )
            behind = late

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
            "speedup": self.clock.speedup,
            "epoch": self.clock.epoch,
            "devices": devices,
            "buses": buses,
        }


def _no_constant(name: str) -> None:
    raise SimLineError(f"{name} is not a number JSON allows")


async def serve_forever(line: SimLine) -> None:
    await line.start()
    try:
        await line.run()
    finally:
        with contextlib.suppress(Exception):
            await line.stop()
