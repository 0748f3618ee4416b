"""Sputter instruments behind their ASCII protocols: DC magnetron supply and the
chamber's vacuum gauge and gas controller (see ``drivers.ascii_protocol``).

Each answers one line per request line on its own serial endpoint (pty or
socket://), with the faults of ``simulators.faults``: no reply, late reply,
garbage bytes, corrupted checksum.
"""

from __future__ import annotations

import math
import os

from drivers.ascii_protocol import (
    CR,
    FramingError,
    LineFramer,
    gauge_body,
    gauge_frame,
    parse_gauge,
)
from drivers.codec import encode_bits
from drivers.devices import dc_psu, vacuum_gauge
from simulators.devices import LineContext
from simulators.faults import Faults
from simulators.models import sputter
from simulators.serial_endpoint import Kind, SerialServer


class AsciiSimDevice:
    model = ""  # the name of its declaration in the registry (``drivers.devices``)

    def __init__(self, name: str) -> None:
        self.name = name
        self.faults = Faults()
        self.requests = 0

    @classmethod
    def create(cls, name: str, address: int) -> AsciiSimDevice:
        """The simulator of device ``name`` at bus ``address`` (ignored by an
        instrument that has none)."""
        return cls(name)

    def address_entry(self) -> dict[str, int]:
        """What the address map says of its bus address: nothing, for an instrument
        that has none."""
        return {}

    def handle(self, line: bytes) -> bytes | None:
        raise NotImplementedError

    def corrupt(self, reply: bytes) -> bytes:
        return reply

    def step(self, dt: float, ctx: LineContext) -> None:
        raise NotImplementedError


class VacuumGaugeSim(AsciiSimDevice):
    model = vacuum_gauge.MODEL.model

    @classmethod
    def create(cls, name: str, address: int) -> AsciiSimDevice:
        return cls(name, address)

    def address_entry(self) -> dict[str, int]:
        return {"address": self.address}

    def __init__(
        self, name: str, address: int = 1, params: sputter.ChamberParams | None = None
    ) -> None:
        super().__init__(name)
        self.address = address
        self.params = params or sputter.ChamberParams()
        self.state = sputter.ChamberState(self.params.base_pressure_pa)
        self.ar_flow_sp_sccm = 0.0
        self.ar_flow_sccm = 0.0
        self.frozen_pa: float | None = None

    @property
    def pressure_pa(self) -> float:
        return self.state.pressure_pa

    def step(self, dt: float, ctx: LineContext) -> None:
        self.ar_flow_sccm += (self.ar_flow_sp_sccm - self.ar_flow_sccm) * (
            1.0 - math.exp(-dt / 1.0)
        )
        self.state = sputter.chamber_step(self.params, self.state, self.ar_flow_sccm, dt)
        if self.faults.stuck_sensor:
            self.frozen_pa = self.state.pressure_pa if self.frozen_pa is None else self.frozen_pa
        else:
            self.frozen_pa = None

    def _answer(self, param: str, value: str) -> bytes:
        return gauge_frame(gauge_body(self.address, param, "=", value))[:-1]

    def _nak(self, code: int) -> bytes:
        return gauge_frame(gauge_body(self.address, "", "NAK", str(code)))[:-1]

    def handle(self, line: bytes) -> bytes | None:
        try:
            msg = parse_gauge(line)
        except FramingError:
            return self._nak(1)
        if msg.address != self.address:
            return None
        if msg.param == "PR" and msg.op == "?":
            pa = self.frozen_pa if self.frozen_pa is not None else self.state.pressure_pa
            return self._answer("PR", f"{pa:.3E}")
        if msg.param == "AF" and msg.op == "?":
            return self._answer("AF", f"{self.ar_flow_sp_sccm:.1f}")
        if msg.param == "AF" and msg.op == "!":
            try:
                v = float(msg.value)
            except ValueError:
                return self._nak(3)
            if not (math.isfinite(v) and 0.0 <= v <= vacuum_gauge.MAX_AR_FLOW_SCCM):
                return self._nak(3)
            self.ar_flow_sp_sccm = round(v, 1)
            return self._answer("AF", f"{self.ar_flow_sp_sccm:.1f}")
        if msg.param == "ST" and msg.op == "?":
            word = encode_bits(
                {
                    "sensor_error": self.faults.stuck_sensor,
                    "overrange": self.state.pressure_pa > 100.0,
                },
                vacuum_gauge.STATUS_BITS,
            )
            return self._answer("ST", f"{word:02X}")
        return self._nak(2)

    def corrupt(self, reply: bytes) -> bytes:
        # Flip the checksum's last digit.
        return reply[:-1] + (b"0" if reply[-1:] != b"0" else b"1")


class DcPsuSim(AsciiSimDevice):
    model = dc_psu.MODEL.model

    def __init__(self, name: str, params: sputter.SupplyParams | None = None) -> None:
        super().__init__(name)
        self.params = params or sputter.SupplyParams()
        self.state = sputter.SupplyState()
        self.output = False
        self.power_sp_kw = 0.0
        self.gauge: VacuumGaugeSim | None = None

    def step(self, dt: float, ctx: LineContext) -> None:
        pressure = self.gauge.pressure_pa if self.gauge is not None else 0.0
        self.state = sputter.supply_step(
            self.params,
            self.state,
            output_on=self.output,
            power_sp_kw=self.power_sp_kw,
            pressure_pa=pressure,
            interlock_open=False,
            dt=dt,
        )

    def handle(self, line: bytes) -> bytes | None:
        try:
            text = line.decode("ascii").strip()
        except UnicodeDecodeError:
            return b"ERR 1 syntax"
        parts = text.split()
        if not parts:
            return b"ERR 1 syntax"
        cmd, args = parts[0].upper(), parts[1:]
        if cmd == "PSET?" and not args:
            return f"PSET {self.power_sp_kw:.2f}".encode()
        if cmd == "PSET" and len(args) == 1:
            try:
                v = float(args[0])
            except ValueError:
                return b"ERR 1 syntax"
            if not (math.isfinite(v) and 0.0 <= v <= dc_psu.MAX_POWER_KW):
                return b"ERR 3 out of range"
            self.power_sp_kw = round(v, 2)
            return b"OK"
        if cmd == "OUT?" and not args:
            return f"OUT {int(self.output)}".encode()
        if cmd == "OUT" and args in (["0"], ["1"]):
            self.output = args == ["1"]
            return b"OK"
        if cmd == "MEAS?" and not args:
            p, s = self.params, self.state
            return (
                f"P {s.power_kw:.2f} V {sputter.voltage_v(p, s):.1f} "
                f"I {sputter.current_a(p, s):.2f}"
            ).encode()
        if cmd == "STAT?" and not args:
            word = encode_bits(
                {
                    "output_on": self.output,
                    "plasma_lost": self.state.plasma_lost,
                },
                dc_psu.STATUS_BITS,
            )
            return f"STAT {word:02X}".encode()
        if cmd == "*IDN?":
            return b"LINECONTROL,DCMS-20,SIM,1.0"
        return b"ERR 1 syntax"


# The simulator of each ASCII model of the registry, by model name.
ASCII_MODELS: dict[str, type[AsciiSimDevice]] = {c.model: c for c in (DcPsuSim, VacuumGaugeSim)}


class AsciiSerialSim(SerialServer):
    """Serves one ASCII instrument on its own serial endpoint."""

    def __init__(self, device: AsciiSimDevice, kind: Kind = "pty") -> None:
        super().__init__(kind, f"ascii {device.name}")
        self.device = device
        self.framer = LineFramer(CR)

    def frames(self, data: bytes) -> list[bytes]:
        return self.framer.feed(data)

    async def answer(self, arrived: float, line: bytes) -> None:
        dev = self.device
        dev.requests += 1
        f = dev.faults
        if f.no_reply:
            return
        reply = dev.handle(line)
        if reply is None:
            return
        if f.corrupt_crc:
            reply = dev.corrupt(reply)
        out = os.urandom(12).replace(CR, b"") if f.garbage else reply + CR
        await self.reply_at(arrived + f.delay_s, out)
