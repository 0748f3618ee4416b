"""Heated roll press (pure): two heated rolls (``thermal``) and the roll load, which
ramps toward its setpoint at the hydraulics' rate while the nip is closed and
falls to zero when it opens. An overload trips the nip open."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from simulators.models import thermal


@dataclass(frozen=True)
class PressParams:
    roll: thermal.ThermalParams = field(
        default_factory=lambda: thermal.ThermalParams(
            heat_capacity_j_k=60_000.0, loss_w_k=40.0, heater_max_w=30_000.0
        )
    )
    load_rate_kg_s: float = 500.0
    dump_rate_kg_s: float = 10_000.0  # relief valve after an overload trip
    overload_kg: float = 42_000.0
    open_gap_um: int = 5000
    cover_stiffness_kg_um: float = 200.0


@dataclass(frozen=True)
class PressState:
    top: thermal.ThermalState = field(default_factory=thermal.ThermalState)
    bottom: thermal.ThermalState = field(default_factory=thermal.ThermalState)
    load_kg: float = 0.0
    nip_closed: bool = False
    overload: bool = False


@dataclass(frozen=True)
class PressInputs:
    nip_close: bool
    load_sp_kg: float
    top_sp_c: float
    bottom_sp_c: float
    heater_failed: bool = False
    heater_stuck_on: bool = False  # the top roll's heater, as heater_failed
    force_overload: bool = False


def step(p: PressParams, s: PressState, u: PressInputs, dt: float) -> PressState:
    if dt <= 0:
        return s
    overload = s.overload or u.force_overload
    closed = u.nip_close and not overload
    target = u.load_sp_kg if closed else 0.0
    dl = (p.dump_rate_kg_s if overload else p.load_rate_kg_s) * dt
    load = min(target, s.load_kg + dl) if target >= s.load_kg else max(target, s.load_kg - dl)
    if u.force_overload:
        load = p.overload_kg
    overload = overload or load >= p.overload_kg
    top_u = thermal.ThermalInputs(
        u.top_sp_c, 0.0, True, u.heater_failed, heater_stuck_on=u.heater_stuck_on
    )
    top = thermal.step(p.roll, s.top, top_u, dt)
    bottom = thermal.step(p.roll, s.bottom, thermal.ThermalInputs(u.bottom_sp_c), dt)
    return replace(s, top=top, bottom=bottom, load_kg=load, nip_closed=closed, overload=overload)


def gap_um(p: PressParams, s: PressState) -> int:
    if not s.nip_closed:
        return p.open_gap_um
    return -round(s.load_kg / p.cover_stiffness_kg_um)
