"""Values a recipe implies on a given line (pure).

Linear and areal nip pressure, residence per oven zone, the fastest speed the
zone lengths allow for the recipe's thermal steps, sputtered and wet/cured coat
thickness. Relations from ``docs/process.md`` ("Relations that link the numbers").
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from linecontrol.config import (
    CoaterStation,
    LineConfig,
    OvenStation,
    PressStation,
    Recipe,
    SputterStation,
)

G = 9.80665  # m/s², kg-force to newton
KG_CM_TO_N_MM = G / 10.0  # 1 kg/cm = 0.981 N/mm


@dataclass(frozen=True)
class ZoneResidence:
    oven: str
    zone: str
    length_m: float
    setpoint_c: float
    residence_min: float


@dataclass(frozen=True)
class StepSpan:
    oven: str
    index: int
    kind: str
    temperature_c: float
    required_min: float
    zones: tuple[str, ...]
    length_m: float
    residence_min: float
    max_speed_m_min: float


@dataclass(frozen=True)
class CoatThickness:
    station: str
    layer: str
    wet_um: float
    cured_estimate_um: float
    target_cured_um: float | None


@dataclass(frozen=True)
class Derived:
    speed_m_min: float
    linear_pressure_kg_cm: float | None = None
    linear_pressure_n_mm: float | None = None
    areal_pressure_mpa: float | None = None
    zones: list[ZoneResidence] = field(default_factory=list)
    steps: list[StepSpan] = field(default_factory=list)
    max_speed_m_min: float | None = None
    limiting_step: str | None = None
    sputter_thickness_um: float | None = None
    coats: list[CoatThickness] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def div(a: float, b: float) -> float:
    """a / b for the positive quantities of a recipe, where a denominator that
    underflowed to zero (a subnormal width) gives infinity, which every window
    check then rejects, instead of raising."""
    if b == 0.0:
        return math.inf if a > 0 else math.nan
    return a / b


def linear_pressure_kg_cm(load_kg: float, width_mm: float) -> float:
    return div(load_kg, width_mm / 10.0)


def areal_pressure_mpa(load_kg: float, width_mm: float, contact_mm: float) -> float:
    return div(load_kg * G, width_mm * contact_mm)


def wet_thickness_um(flow_ml_min: float, width_mm: float, speed_m_min: float) -> float:
    # ml = cm³; width in cm, speed in cm/min → cm of wet film; x 1e4 → µm.
    return div(flow_ml_min, (width_mm / 10.0) * (speed_m_min * 100.0)) * 1e4


def sputter_thickness_um(rate_nm_m_min_per_kw: float, power_kw: float, speed_m_min: float) -> float:
    return div(rate_nm_m_min_per_kw * power_kw, speed_m_min) / 1000.0


def derive(recipe: Recipe, line: LineConfig) -> Derived:
    """Compute what the recipe implies on ``line``; stations it cannot find are skipped
    (the rules report them)."""
    speed = recipe.web.speed_m_min
    out: dict[str, Any] = {"speed_m_min": speed}

    press = recipe.press
    station = line.station(press.station) if press else None
    if press is not None:
        width = recipe.web.width_mm
        lp = linear_pressure_kg_cm(press.roll_load_kg, width)
        out["linear_pressure_kg_cm"] = lp
        out["linear_pressure_n_mm"] = lp * KG_CM_TO_N_MM
        if isinstance(station, PressStation) and station.nip_contact_width_mm:
            out["areal_pressure_mpa"] = areal_pressure_mpa(
                press.roll_load_kg, width, station.nip_contact_width_mm
            )

    zones: list[ZoneResidence] = []
    steps: list[StepSpan] = []
    for oven in recipe.ovens:
        st = line.station(oven.station)
        if not isinstance(st, OvenStation):
            continue
        for sp in oven.zones:
            z = st.zone(sp.zone)
            if z is None:
                continue
            zones.append(
                ZoneResidence(st.name, z.name, z.length_m, sp.temperature_c, div(z.length_m, speed))
            )
        for i, step in enumerate(oven.steps):
            found = [st.zone(name) for name in step.zones]
            if any(z is None for z in found):
                continue
            length = sum(z.length_m for z in found if z is not None)
            steps.append(
                StepSpan(
                    oven=st.name,
                    index=i,
                    kind=step.kind,
                    temperature_c=step.temperature_c,
                    required_min=step.time_min,
                    zones=tuple(step.zones),
                    length_m=length,
                    residence_min=div(length, speed),
                    max_speed_m_min=div(length, step.time_min),
                )
            )
    out["zones"] = zones
    out["steps"] = steps
    if steps:
        slowest = min(steps, key=lambda s: s.max_speed_m_min)
        out["max_speed_m_min"] = slowest.max_speed_m_min
        out["limiting_step"] = (
            f"ovens[{slowest.oven}].steps[{slowest.index}] ({slowest.kind} "
            f"{slowest.temperature_c:g} °C, {slowest.required_min:g} min over "
            f"{'+'.join(slowest.zones)}, {slowest.length_m:g} m)"
        )

    if recipe.sputter is not None:
        sst = line.station(recipe.sputter.station)
        if isinstance(sst, SputterStation):
            out["sputter_thickness_um"] = sputter_thickness_um(
                sst.deposition_rate_nm_m_min_per_kw, recipe.sputter.power_kw, speed
            )

    layers = {layer.name: layer for layer in recipe.material.layers}
    coats: list[CoatThickness] = []
    for coat in recipe.coats:
        if not isinstance(line.station(coat.station), CoaterStation):
            continue
        wet = wet_thickness_um(coat.flow_ml_min, coat.width_mm, speed)
        cured = (
            wet * coat.solids_wt_pct / 100.0 * coat.solution_density_g_cm3 / coat.film_density_g_cm3
        )
        target = layers[coat.layer].cured_thickness_um if coat.layer in layers else None
        coats.append(CoatThickness(coat.station, coat.layer, wet, cured, target))
    out["coats"] = coats
    return Derived(**out)
