"""Simulated instruments: a physics model behind the instrument's real register map.

Each device reads its setpoints and commands from its register bank (as written
over the wire), steps its model by ``dt`` and publishes the process values back
into the bank, encoded exactly as the real instrument would. The line couples
the stations through one web speed (``LineContext``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from drivers.codec import encode_bits
from drivers.devices import coater as coater_map
from drivers.devices import line_drive as drive_map
from drivers.devices import n2_mfc as mfc_map
from drivers.devices import o2_analyzer as o2_map
from drivers.devices import oven_zone as zone_map
from drivers.devices import press as press_map
from drivers.regmap import RegisterMap
from simulators.faults import Faults
from simulators.modbus_protocol import RegisterBank
from simulators.models import atmosphere, coater, press, thermal, web


@dataclass
class LineContext:
    """What couples the stations: the web moves at one speed through all of them."""

    speed_m_min: float = 0.0
    position_m: float = 0.0


class SimDevice:
    regmap: RegisterMap  # the model's register map, from its declaration in the registry

    def __init__(self, name: str) -> None:
        self.name = name
        self.faults = Faults()
        self.bank = RegisterBank(
            self.regmap,
            exception_addresses=self.faults.exception_addresses,
            on_write=self._on_write,
        )
        self.publish()

    def _on_write(self, name: str, value: float | int) -> None:
        """A register was written over the wire (hook for commands)."""

    def sync_faults(self) -> None:
        self.bank.exception_addresses = self.faults.exception_addresses

    def step(self, dt: float, ctx: LineContext) -> None:
        raise NotImplementedError

    def publish(self) -> None:
        raise NotImplementedError


class LineDriveSim(SimDevice):
    regmap = drive_map.MAP

    def __init__(self, name: str, params: web.WebParams | None = None) -> None:
        self.params = params or web.WebParams()
        self.state = web.WebState(
            unwind_diameter_mm=self.params.full_diameter_mm,
            rewind_diameter_mm=self.params.core_diameter_mm,
        )
        super().__init__(name)

    def _on_write(self, name: str, value: float | int) -> None:
        if name == "position_reset_cmd" and value:
            # A self-clearing command: the PLC acts on it and clears it in the same
            # scan, so the zeroed position is what the next read sees.
            self.state = replace(self.state, position_m=0.0)
            self.bank.set("position_reset_cmd", 0)
            self.publish()

    def step(self, dt: float, ctx: LineContext) -> None:
        b = self.bank
        u = web.WebInputs(
            run=bool(b.get("run_cmd")),
            speed_sp_m_min=float(b.get("speed_sp_m_min")),
            unwind_tension_sp_n=float(b.get("unwind_tension_sp_n")),
            rewind_tension_sp_n=float(b.get("rewind_tension_sp_n")),
            web_break=self.faults.web_break,
        )
        self.state = web.step(self.params, self.state, u, dt)
        if self.state.broken and not self.faults.web_break and not u.run:
            # A broken web is re-threaded by stopping the line after the fault clears.
            self.state = replace(self.state, broken=False)
        ctx.speed_m_min = self.state.speed_m_min
        ctx.position_m = self.state.position_m
        self.publish()

    def publish(self) -> None:
        s, b = self.state, self.bank
        run = bool(b.get("run_cmd"))
        b.set(
            "status",
            encode_bits(
                {
                    "running": s.speed_m_min > 0.0,
                    "web_break": s.broken,
                    "at_speed": run and abs(s.speed_m_min - float(b.get("speed_sp_m_min"))) < 0.005,
                },
                drive_map.STATUS_BITS,
            ),
        )
        b.set("fault_code", 1 if s.broken else 0)
        b.set("speed_pv_m_min", s.speed_m_min)
        b.set("unwind_tension_pv_n", round(s.unwind_tension_n, 1))
        b.set("rewind_tension_pv_n", round(s.rewind_tension_n, 1))
        b.set("web_position_m", round(s.position_m % 4_294_967.295, 3))
        b.set("unwind_diameter_mm", round(s.unwind_diameter_mm, 1))
        b.set("rewind_diameter_mm", round(s.rewind_diameter_mm, 1))


class CoaterSim(SimDevice):
    regmap = coater_map.MAP

    def __init__(self, name: str, params: coater.CoaterParams | None = None) -> None:
        self.params = params or coater.CoaterParams()
        self.state = coater.CoaterState()
        self.speed_m_min = 0.0
        super().__init__(name)

    def step(self, dt: float, ctx: LineContext) -> None:
        b = self.bank
        u = coater.CoaterInputs(
            pump_on=bool(b.get("pump_run_cmd")), flow_sp_ml_min=float(b.get("flow_sp_ml_min"))
        )
        self.state = coater.step(self.params, self.state, u, dt)
        self.speed_m_min = ctx.speed_m_min
        self.publish()

    def publish(self) -> None:
        s, b = self.state, self.bank
        head_down = bool(b.get("head_down_cmd"))
        b.set("status", encode_bits({"pump_running": s.flow_ml_min > 0.01}, coater_map.STATUS_BITS))
        b.set("flow_pv_ml_min", s.flow_ml_min)
        wet = (
            coater.wet_thickness_um(
                s.flow_ml_min, float(b.get("coating_width_mm")), self.speed_m_min
            )
            if head_down
            else 0.0
        )
        b.set("wet_thickness_um", wet)
        b.set("pump_speed_rpm", round(min(coater.pump_speed_rpm(self.params, s), 6553.5), 1))


class PressSim(SimDevice):
    regmap = press_map.MAP

    def __init__(self, name: str, params: press.PressParams | None = None) -> None:
        self.params = params or press.PressParams()
        self.state = press.PressState()
        super().__init__(name)

    def step(self, dt: float, ctx: LineContext) -> None:
        b = self.bank
        u = press.PressInputs(
            nip_close=bool(b.get("nip_cmd")),
            load_sp_kg=float(b.get("roll_load_sp_kg")),
            top_sp_c=float(b.get("top_temp_sp_c")),
            bottom_sp_c=float(b.get("bottom_temp_sp_c")),
            heater_failed=self.faults.heater_failure,
            heater_stuck_on=self.faults.heater_stuck_on,
            force_overload=self.faults.press_overload,
        )
        prev_top = self.state.top.temp_c
        self.state = press.step(self.params, self.state, u, dt)
        if self.faults.stuck_sensor:
            self.state = replace(self.state, top=replace(self.state.top, temp_c=prev_top))
        self.publish()

    def publish(self) -> None:
        s, b = self.state, self.bank
        b.set(
            "status",
            encode_bits(
                {
                    "nip_closed": s.nip_closed,
                    "overload": s.overload,
                    "top_heater_fault": self.faults.heater_failure,
                    "load_at_sp": s.nip_closed
                    and abs(s.load_kg - float(b.get("roll_load_sp_kg"))) < 1.0,
                },
                press_map.STATUS_BITS,
            ),
        )
        b.set("top_temp_pv_c", round(s.top.temp_c, 1))
        b.set("bottom_temp_pv_c", round(s.bottom.temp_c, 1))
        b.set("roll_load_pv_kg", s.load_kg)
        b.set("gap_um", press.gap_um(self.params, s))


class OvenZoneSim(SimDevice):
    regmap = zone_map.MAP

    def __init__(self, name: str, params: thermal.ThermalParams | None = None) -> None:
        self.params = params or thermal.ThermalParams()
        self.state = thermal.ThermalState()
        self.stuck_pv: float | None = None  # the PV a stuck sensor keeps showing
        super().__init__(name)

    def step(self, dt: float, ctx: LineContext) -> None:
        b = self.bank
        u = thermal.ThermalInputs(
            sp_c=float(b.get("temp_sp_c")),
            ramp_c_per_min=float(b.get("ramp_c_per_min")),
            enabled=bool(b.get("output_enable")),
            heater_failed=self.faults.heater_failure,
            heater_stuck_on=self.faults.heater_stuck_on,
        )
        prev = self.state.temp_c
        self.state = thermal.step(self.params, self.state, u, dt)
        if not self.faults.stuck_sensor:
            self.stuck_pv = None
        elif self.stuck_pv is None:
            self.stuck_pv = prev
        self.publish()

    def publish(self) -> None:
        s, b = self.state, self.bank
        pv = s.temp_c if self.stuck_pv is None else self.stuck_pv
        b.set("temp_pv_c", round(pv, 1))
        b.set("output_pct", round(s.output_pct, 1))
        b.set("working_sp_c", round(s.working_sp_c, 1))
        b.set(
            "status",
            encode_bits(
                {
                    "heater_fail": self.faults.heater_failure,
                    "ramping": abs(s.working_sp_c - float(b.get("temp_sp_c"))) > 0.05,
                    "output_on": bool(b.get("output_enable")),
                    "alarm_high": pv > float(b.get("temp_sp_c")) + 25.0,
                },
                zone_map.STATUS_BITS,
            ),
        )


class N2MfcSim(SimDevice):
    regmap = mfc_map.MAP

    def __init__(self, name: str, tau_s: float = 1.0) -> None:
        self.tau_s = tau_s
        self.flow_slm = 0.0
        self.total_m3 = 0.0
        super().__init__(name)

    def step(self, dt: float, ctx: LineContext) -> None:
        sp = float(self.bank.get("flow_sp_slm"))
        self.flow_slm += (sp - self.flow_slm) * (1.0 - math.exp(-dt / self.tau_s))
        self.total_m3 += self.flow_slm / 1000.0 * dt / 60.0
        self.publish()

    def publish(self) -> None:
        b = self.bank
        b.set("flow_pv_slm", self.flow_slm)
        b.set("totalizer_m3", round(self.total_m3, 3))
        b.set("status", encode_bits({"valve_open": self.flow_slm > 0.05}, mfc_map.STATUS_BITS))


class O2AnalyzerSim(SimDevice):
    """Reads the atmosphere of the oven it samples; the purge comes from its MFC."""

    regmap = o2_map.MAP

    def __init__(
        self,
        name: str,
        mfc: N2MfcSim | None = None,
        params: atmosphere.AtmosphereParams | None = None,
    ) -> None:
        self.params = params or atmosphere.AtmosphereParams()
        self.state = atmosphere.AtmosphereState()
        self.mfc = mfc
        self.stuck_ppm: float | None = None  # the reading a stuck cell keeps showing
        super().__init__(name)

    def step(self, dt: float, ctx: LineContext) -> None:
        flow = self.mfc.flow_slm if self.mfc is not None else 0.0
        prev = self.state.o2_ppm
        self.state = atmosphere.step(
            self.params,
            self.state,
            atmosphere.AtmosphereInputs(
                n2_flow_slm=flow, extra_leak_m3_min=self.faults.o2_leak_m3_min
            ),
            dt,
        )
        # A stuck cell keeps the reading it had when it failed (whatever the oven's O2
        # does since), with its sensor_fail flag set: the flag is all that tells.
        if not self.faults.stuck_sensor:
            self.stuck_ppm = None
        elif self.stuck_ppm is None:
            self.stuck_ppm = prev
        self.publish()

    def publish(self) -> None:
        b = self.bank
        fail = self.faults.stuck_sensor
        reading = self.state.o2_ppm if self.stuck_ppm is None else self.stuck_ppm
        b.set("o2_ppm", reading)
        b.set("cell_temp_c", 45.0)
        b.set(
            "status",
            encode_bits(
                {"sensor_fail": fail, "range_over": reading > 100_000}, o2_map.STATUS_BITS
            ),
        )


# The simulator of each Modbus model of the registry, by model name.
MODELS: dict[str, type[SimDevice]] = {
    c.regmap.model: c
    for c in (LineDriveSim, CoaterSim, PressSim, OvenZoneSim, N2MfcSim, O2AnalyzerSim)
}
