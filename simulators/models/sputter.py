"""Sputter station (pure): DC magnetron supply and chamber pressure.

Chamber: well-mixed volume pumped at speed S; argon throughput Q gives
p = p_base + Q / S at steady state, approached with time constant V / S
(1 sccm = 1.689e-3 Pa·m³/s). Supply: power ramps to its setpoint while the
output is on and a plasma can burn (pressure within the magnetron's window, no
interlock); magnetron voltage rises with power, current = P / V. Deposited
thickness on the moving web = dynamic rate x power ÷ speed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

SCCM_PA_M3_S = 1.689e-3


@dataclass(frozen=True)
class ChamberParams:
    volume_m3: float = 1.0
    pumping_speed_m3_s: float = 0.5
    base_pressure_pa: float = 1e-4


@dataclass(frozen=True)
class ChamberState:
    pressure_pa: float = 1e-4


def chamber_step(p: ChamberParams, s: ChamberState, ar_flow_sccm: float, dt: float) -> ChamberState:
    if dt <= 0:
        return s
    p_inf = p.base_pressure_pa + max(0.0, ar_flow_sccm) * SCCM_PA_M3_S / p.pumping_speed_m3_s
    k = p.pumping_speed_m3_s / p.volume_m3
    return ChamberState(p_inf + (s.pressure_pa - p_inf) * math.exp(-k * dt))


@dataclass(frozen=True)
class SupplyParams:
    ramp_kw_s: float = 2.0
    v0_v: float = 350.0
    v_per_kw: float = 8.0
    min_pressure_pa: float = 0.05
    max_pressure_pa: float = 5.0


@dataclass(frozen=True)
class SupplyState:
    power_kw: float = 0.0
    plasma_lost: bool = False


def supply_step(
    p: SupplyParams,
    s: SupplyState,
    *,
    output_on: bool,
    power_sp_kw: float,
    pressure_pa: float,
    interlock_open: bool,
    dt: float,
) -> SupplyState:
    if dt <= 0:
        return s
    plasma = p.min_pressure_pa <= pressure_pa <= p.max_pressure_pa and not interlock_open
    target = power_sp_kw if (output_on and plasma) else 0.0
    d = p.ramp_kw_s * dt
    power = min(target, s.power_kw + d) if target >= s.power_kw else max(target, s.power_kw - d)
    return replace(s, power_kw=power, plasma_lost=output_on and not plasma)


def voltage_v(p: SupplyParams, s: SupplyState) -> float:
    return p.v0_v + p.v_per_kw * s.power_kw if s.power_kw > 1e-6 else 0.0


def current_a(p: SupplyParams, s: SupplyState) -> float:
    v = voltage_v(p, s)
    return s.power_kw * 1000.0 / v if v > 0 else 0.0


def thickness_um(rate_nm_m_min_per_kw: float, power_kw: float, speed_m_min: float) -> float:
    """Copper deposited on the web passing the cathode once."""
    if speed_m_min <= 1e-9:
        return 0.0
    return rate_nm_m_min_per_kw * power_kw / speed_m_min / 1000.0
