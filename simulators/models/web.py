"""Web transport (pure): speed ramps to its setpoint at the drive's acceleration,
position integrates speed, tensions follow their setpoints with the dancer's lag,
roll diameters follow the metres unwound and wound. A web break drops both
tensions and stops the line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class WebParams:
    accel_m_min_per_s: float = 0.5
    tension_tau_s: float = 1.5
    web_thickness_mm: float = 0.07
    core_diameter_mm: float = 152.0
    full_diameter_mm: float = 800.0


@dataclass(frozen=True)
class WebState:
    speed_m_min: float = 0.0
    position_m: float = 0.0
    unwind_tension_n: float = 0.0
    rewind_tension_n: float = 0.0
    unwind_diameter_mm: float = 800.0
    rewind_diameter_mm: float = 152.0
    broken: bool = False


@dataclass(frozen=True)
class WebInputs:
    run: bool
    speed_sp_m_min: float
    unwind_tension_sp_n: float
    rewind_tension_sp_n: float
    web_break: bool = False


def _diameter(d_mm: float, metres: float, thickness_mm: float, sign: float) -> float:
    # Area of the roll face changes by thickness x length: d(D²) = ±4 t L / π.
    d2 = d_mm * d_mm + sign * 4.0 * thickness_mm * metres * 1000.0 / math.pi
    return math.sqrt(max(d2, 0.0))


def step(p: WebParams, s: WebState, u: WebInputs, dt: float) -> WebState:
    if dt <= 0:
        return s
    broken = s.broken or u.web_break
    target = u.speed_sp_m_min if (u.run and not broken) else 0.0
    dv = p.accel_m_min_per_s * dt
    speed = (
        min(target, s.speed_m_min + dv)
        if target >= s.speed_m_min
        else max(target, s.speed_m_min - dv)
    )
    metres = (s.speed_m_min + speed) / 2.0 * dt / 60.0
    a = 1.0 - math.exp(-dt / p.tension_tau_s)
    tu = 0.0 if broken else u.unwind_tension_sp_n if u.run else 0.0
    tr = 0.0 if broken else u.rewind_tension_sp_n if u.run else 0.0
    unwind_t = 0.0 if broken else s.unwind_tension_n + (tu - s.unwind_tension_n) * a
    rewind_t = 0.0 if broken else s.rewind_tension_n + (tr - s.rewind_tension_n) * a
    return replace(
        s,
        speed_m_min=speed,
        position_m=s.position_m + metres,
        unwind_tension_n=unwind_t,
        rewind_tension_n=rewind_t,
        unwind_diameter_mm=max(
            p.core_diameter_mm, _diameter(s.unwind_diameter_mm, metres, p.web_thickness_mm, -1)
        ),
        rewind_diameter_mm=_diameter(s.rewind_diameter_mm, metres, p.web_thickness_mm, +1),
        broken=broken,
    )
