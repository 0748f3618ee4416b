"""A heated zone or roll with its own single-loop controller (pure).

First order: C dT/dt = P_heater - G (T - T_ambient) - extra load, heater power
limited to ``heater_max_w`` and cut by a heater failure. A heater stuck on (a
welded solid-state relay) delivers ``heater_max_w`` whatever the controller asks,
output enabled or not, while the controller's output still reads what its PI loop
asks; a failed heater (open element) delivers nothing, stuck on or not. The
controller ramps its working setpoint at the configured rate and runs a PI loop
with anti-windup on the output (0-100 %). Large ``dt`` is integrated in sub-steps
so accelerated time stays stable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class ThermalParams:
    heat_capacity_j_k: float = 20_000.0
    loss_w_k: float = 25.0
    heater_max_w: float = 12_000.0
    ambient_c: float = 25.0
    kp_pct_k: float = 8.0
    ki_pct_k_s: float = 0.02
    max_substep_s: float = 0.5


@dataclass(frozen=True)
class ThermalState:
    temp_c: float = 25.0
    working_sp_c: float = 25.0
    integral_pct: float = 0.0
    output_pct: float = 0.0


@dataclass(frozen=True)
class ThermalInputs:
    sp_c: float
    ramp_c_per_min: float = 0.0  # 0: step change of the working setpoint
    enabled: bool = True
    heater_failed: bool = False
    heater_stuck_on: bool = False  # welded SSR: full power whatever the output
    extra_load_w: float = 0.0


def step(p: ThermalParams, s: ThermalState, u: ThermalInputs, dt: float) -> ThermalState:
    if dt <= 0:
        return s
    n = max(1, math.ceil(dt / p.max_substep_s))
    h = dt / n
    temp, wsp, integ, out = s.temp_c, s.working_sp_c, s.integral_pct, s.output_pct
    for _ in range(n):
        if u.ramp_c_per_min > 0:
            delta = u.ramp_c_per_min / 60.0 * h
            wsp = min(u.sp_c, wsp + delta) if u.sp_c >= wsp else max(u.sp_c, wsp - delta)
        else:
            wsp = u.sp_c
        if u.enabled:
            err = wsp - temp
            unclamped = p.kp_pct_k * err + integ + p.ki_pct_k_s * err * h
            out = min(100.0, max(0.0, unclamped))
            if out == unclamped:  # anti-windup: integrate only when not saturated
                integ += p.ki_pct_k_s * err * h
        else:
            out, integ = 0.0, 0.0
        if u.heater_failed:
            power = 0.0
        elif u.heater_stuck_on:
            power = p.heater_max_w
        else:
            power = out / 100.0 * p.heater_max_w
        dtemp = (power - p.loss_w_k * (temp - p.ambient_c) - u.extra_load_w) / p.heat_capacity_j_k
        temp += dtemp * h
    return replace(s, temp_c=temp, working_sp_c=wsp, integral_pct=integ, output_pct=out)
