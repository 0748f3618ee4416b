"""Metering pump and coating head (pure): flow follows its setpoint with the pump's
lag; wet thickness = volumetric flow ÷ (coating width x line speed)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class CoaterParams:
    flow_tau_s: float = 2.0
    displacement_ml_rev: float = 1.0


@dataclass(frozen=True)
class CoaterState:
    flow_ml_min: float = 0.0


@dataclass(frozen=True)
class CoaterInputs:
    pump_on: bool
    flow_sp_ml_min: float
    pump_fault: bool = False


def step(p: CoaterParams, s: CoaterState, u: CoaterInputs, dt: float) -> CoaterState:
    if dt <= 0:
        return s
    target = u.flow_sp_ml_min if (u.pump_on and not u.pump_fault) else 0.0
    a = 1.0 - math.exp(-dt / p.flow_tau_s)
    return replace(s, flow_ml_min=s.flow_ml_min + (target - s.flow_ml_min) * a)


def wet_thickness_um(flow_ml_min: float, width_mm: float, speed_m_min: float) -> float:
    if width_mm <= 0 or speed_m_min <= 1e-6:
        return 0.0
    return flow_ml_min / ((width_mm / 10.0) * (speed_m_min * 100.0)) * 1e4


def pump_speed_rpm(p: CoaterParams, s: CoaterState) -> float:
    return s.flow_ml_min / p.displacement_ml_rev
