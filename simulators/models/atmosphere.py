"""Oxygen in an inert oven (pure): N2 purge dilutes it, leaks bring air in.

Well-mixed volume V: dC/dt = (Q_leak (C_air - C) - Q_n2 C) / V, C in ppm, flows
in m³/s. An opened door or a failed seal is a larger leak.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

O2_AIR_PPM = 209_000.0


@dataclass(frozen=True)
class AtmosphereParams:
    volume_m3: float = 1.5
    leak_m3_min: float = 0.00005  # normal in-leakage of a tight oven


@dataclass(frozen=True)
class AtmosphereState:
    o2_ppm: float = O2_AIR_PPM


@dataclass(frozen=True)
class AtmosphereInputs:
    n2_flow_slm: float
    extra_leak_m3_min: float = 0.0


def step(
    p: AtmosphereParams, s: AtmosphereState, u: AtmosphereInputs, dt: float
) -> AtmosphereState:
    if dt <= 0:
        return s
    q_n2 = max(0.0, u.n2_flow_slm) / 1000.0 / 60.0
    q_leak = (p.leak_m3_min + max(0.0, u.extra_leak_m3_min)) / 60.0
    q = q_n2 + q_leak
    # Exact solution of the linear ODE over dt (stable for any dt).
    c_inf = q_leak * O2_AIR_PPM / q if q > 0 else s.o2_ppm
    k = q / p.volume_m3
    return AtmosphereState(o2_ppm=c_inf + (s.o2_ppm - c_inf) * math.exp(-k * dt))
