"""The plan of a recipe on a line (pure): what the supervisor sets, where, in which
order, inside which limits, and what it waits for.

Built once when a recipe is loaded, from the recipe bindings
(``linecontrol.process.bind``: which channel sets and reads each field), the line
config (stations, devices, the ``[supervisor]`` settings) and the derived values (the
fastest speed the oven residence times allow). Each ``Target`` carries two windows: the
recipe's band (setpoint ± tolerance, what an operator may move the setpoint within and
what readiness and Execute watch) and the equipment limit (the station's rating and the
instrument's register range, which no write may leave whatever the band says).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from drivers.devices import MODELS
from linecontrol import process
from linecontrol.config import (
    LineConfig,
    OvenStation,
    PressStation,
    Recipe,
    RewindStation,
    SputterStation,
    SupervisorSettings,
)
from linecontrol.errors import LinecontrolError
from linecontrol.process import Binding, bind

Kind = Literal[
    "speed",
    "unwind_tension",
    "rewind_tension",
    "zone_temp",
    "n2_flow",
    "press_temp",
    "roll_load",
    "coat_flow",
    "sputter_power",
    "ar_flow",
    "chamber_pressure",
]


class PlanError(LinecontrolError, ValueError):
    """A recipe that cannot be run on this line as it is (no run end, no drive, a field
    without a device); the message says what is missing."""


@dataclass(frozen=True)
class Target:
    """One recipe value on one device channel.

    ``sets``/``reads`` are ``device.channel`` names (``sets`` None for a value the line
    only measures); ``band`` the recipe's window (None: no tolerance given);
    ``limits`` the equipment's (station rating ∩ register range); ``ramp_per_s`` the
    fastest the supervisor moves the setpoint (None: a step, or the instrument ramps
    itself at ``device_ramp``, a ``(channel, rate)`` written before the setpoint).
    """

    field: str
    kind: Kind
    device: str
    sets: str | None
    reads: str
    value: float
    band: tuple[float, float] | None
    limits: tuple[float, float]
    ramp_per_s: float | None = None
    device_ramp: tuple[str, float] | None = None
    station: str = ""
    zone: str = ""
    cure: bool = False  # a zone of a cure oven: gated by the purge

    def in_band(self, v: float) -> bool:
        if self.band is None:
            return True
        return self.band[0] <= v <= self.band[1]

    def allows(self, v: float) -> str | None:
        """Why ``v`` may not be set here (None: it may): finite, inside the band and
        inside the equipment limit."""
        if not isinstance(v, int | float) or isinstance(v, bool) or not math.isfinite(v):
            return f"{self.field} = {v!r}: a finite number is needed"
        lo, hi = self.limits
        if not lo <= v <= hi:
            return f"{self.field} = {v:g}: outside the equipment limit {lo:g}..{hi:g}"
        if self.band is not None and not self.in_band(v):
            return (
                f"{self.field} = {v:g}: outside the recipe band {self.band[0]:g}..{self.band[1]:g}"
            )
        return None


@dataclass(frozen=True)
class PurgedOven:
    """An inert oven whose O2 must stay below ``o2_limit_ppm`` for the purge time before
    any of its ``gated`` zones (a cure oven's) may pass the purge gate."""

    station: str
    o2: str | None  # the analyzer's o2_ppm channel (None: no analyzer: never purged)
    n2: tuple[str, ...]  # the N2 flow setpoint channels
    o2_limit_ppm: float
    gated: tuple[str, ...]  # zone setpoint channels held at the gate until purged


@dataclass(frozen=True)
class Taper:
    pct: float
    core_mm: float
    full_mm: float
    diameter: str  # the drive's rewind diameter channel

    def tension(self, base_n: float, diameter_mm: float) -> float:
        """Rewind tension at ``diameter_mm``: ``base_n`` at the core, falling linearly
        by ``pct`` % of it at the full diameter (clipped to the build-up)."""
        x = (diameter_mm - self.core_mm) / (self.full_mm - self.core_mm)
        x = min(1.0, max(0.0, x))
        return base_n * (1.0 - self.pct / 100.0 * x)


@dataclass(frozen=True)
class Plan:
    recipe: str
    sha256: str
    targets: tuple[Target, ...]
    drive: str
    speed_cap_m_min: float  # the line's max and what the oven residence times allow
    purges: tuple[PurgedOven, ...]
    press: str | None
    press_max_kg: float | None
    coaters: tuple[str, ...]
    psu: str | None
    gauge: str | None
    zones: tuple[str, ...]  # oven zone devices of the recipe
    needed: frozenset[str]  # devices the run needs: losing one holds the line
    end_length_m: float | None
    end_time_s: float | None
    readiness_timeout_s: float
    taper: Taper | None
    settings: SupervisorSettings
    # Each coater's coating width (mm, the recipe's coat width_mm): written with the
    # coat; the coater computes its wet thickness from it.
    coat_widths: Mapping[str, float] = field(default_factory=dict)

    def of_kind(self, *kinds: Kind) -> tuple[Target, ...]:
        return tuple(t for t in self.targets if t.kind in kinds)

    def by_field(self, field: str) -> tuple[Target, ...]:
        return tuple(t for t in self.targets if t.field == field)

    def by_sets(self, channel: str) -> Target | None:
        return next((t for t in self.targets if t.sets == channel), None)


_KIND_OF_TARGET: dict[tuple[str, str | None], Kind] = {
    ("line_drive", "speed_sp_m_min"): "speed",
    ("line_drive", "unwind_tension_sp_n"): "unwind_tension",
    ("line_drive", "rewind_tension_sp_n"): "rewind_tension",
    ("oven_zone", "temp_sp_c"): "zone_temp",
    ("n2_mfc", "flow_sp_slm"): "n2_flow",
    ("press", "top_temp_sp_c"): "press_temp",
    ("press", "bottom_temp_sp_c"): "press_temp",
    ("press", "roll_load_sp_kg"): "roll_load",
    ("coater", "flow_sp_ml_min"): "coat_flow",
    ("dc_psu", "power_sp_kw"): "sputter_power",
    ("vacuum_gauge", "ar_flow_sp_sccm"): "ar_flow",
    ("vacuum_gauge", None): "chamber_pressure",
}


def register_range(model: str, channel: str) -> tuple[float, float]:
    """The instrument's own range for a writable channel (the register's min..max;
    unbounded where the model declares none)."""
    spec = MODELS[model]
    if spec.regmap is not None:
        reg = spec.regmap[channel]
        lo = -math.inf if reg.min is None else float(reg.min)
        hi = math.inf if reg.max is None else float(reg.max)
        return lo, hi
    return -math.inf, math.inf


def equipment_limit(line: LineConfig, device: str, channel: str) -> tuple[float, float]:
    """The equipment limit of a writable channel of ``device``: its register's range,
    narrowed to its station's rating where the channel is one a recipe sets."""
    dev = line.devices[device]
    lo, hi = register_range(dev.model, channel)
    kind = _KIND_OF_TARGET.get((dev.model, channel))
    if kind is not None:
        slo, shi = _station_limit(line, kind, dev.station or "")
        lo, hi = max(lo, slo), min(hi, shi)
    return lo, hi


def _station_limit(line: LineConfig, kind: Kind, station: str) -> tuple[float, float]:
    st = line.station(station) if station else None
    if kind == "speed":
        return 0.0, line.line.speed_max_m_min
    if kind in ("unwind_tension", "rewind_tension"):
        ends = [
            s
            for s in line.stations
            if s.kind == ("unwind" if kind == "unwind_tension" else "rewind")
        ]
        top = min((s.max_tension_n for s in ends if hasattr(s, "max_tension_n")), default=math.inf)
        return 0.0, float(top)
    if kind == "zone_temp" and isinstance(st, OvenStation):
        return 0.0, st.max_temp_c
    if kind == "n2_flow" and isinstance(st, OvenStation) and st.max_n2_flow_slm is not None:
        return 0.0, st.max_n2_flow_slm
    if kind == "press_temp" and isinstance(st, PressStation):
        return 0.0, st.max_temp_c
    if kind == "roll_load" and isinstance(st, PressStation):
        return 0.0, st.max_roll_load_kg
    if kind == "sputter_power" and isinstance(st, SputterStation):
        return 0.0, st.max_power_kw
    if kind == "ar_flow" and isinstance(st, SputterStation):
        return 0.0, st.max_ar_flow_sccm
    if kind == "coat_flow" and st is not None and hasattr(st, "max_flow_ml_min"):
        return 0.0, float(st.max_flow_ml_min)
    return -math.inf, math.inf


def _target(b: Binding, line: LineConfig) -> Target:
    dev = line.devices[b.device]
    ch = b.sets.split(".", 1)[1] if b.sets else None
    kind = _KIND_OF_TARGET[(dev.model, ch)]
    station = dev.station or ""
    lo, hi = _station_limit(line, kind, station)
    if ch is not None:
        rlo, rhi = register_range(dev.model, ch)
        lo, hi = max(lo, rlo), min(hi, rhi)
    ramp_per_s: float | None = None
    device_ramp: tuple[str, float] | None = None
    if b.ramp is not None:
        if b.ramp.unit == "°C/min" and kind == "zone_temp":
            device_ramp = (f"{b.device}.ramp_c_per_min", b.ramp.rate)
        elif b.ramp.unit == "°C/min":
            ramp_per_s = b.ramp.rate / 60.0
        else:  # "m/min per s", "kg/s": already per second
            ramp_per_s = b.ramp.rate
    return Target(
        field=b.field,
        kind=kind,
        device=b.device,
        sets=b.sets,
        reads=b.reads,
        value=b.value,
        band=b.band,
        limits=(lo, hi),
        ramp_per_s=ramp_per_s,
        device_ramp=device_ramp,
        station=station,
        zone=dev.zone or "",
    )


MAX_RAMP_S = 24 * 3600.0
"""The longest a ramp may take to bring its value up from 0: a slower one is refused (the
readiness timeout grows with the ramps, and a start must not wait a day)."""


def _check_ramp(t: Target, line: LineConfig) -> None:
    """``PlanError`` for a ramp the line cannot follow: a controller's ramp outside its
    register's range or below one count of it (written, it reads 0, which the controller
    takes as no ramp at all), or any ramp too slow to reach its value within
    ``MAX_RAMP_S``."""
    rate_per_s = t.ramp_per_s
    if t.device_ramp is not None:
        ch, rate = t.device_ramp
        model = line.devices[t.device].model
        name = ch.split(".", 1)[1]
        lo, hi = register_range(model, name)
        regmap = MODELS[model].regmap
        count = regmap[name].scale if regmap is not None else 0.0
        if not max(lo, count) <= rate <= hi:
            raise PlanError(
                f"{t.field}: ramp {rate:g} °C/min: {t.device} ramps at {max(lo, count):g}.."
                f"{hi:g} °C/min (below one count its register reads 0: no ramp at all)"
            )
        rate_per_s = rate / 60.0
    if rate_per_s is not None and not abs(t.value) / rate_per_s <= MAX_RAMP_S:
        raise PlanError(
            f"{t.field}: ramp {rate_per_s:g} per s takes {abs(t.value) / rate_per_s:.3g} s "
            f"to reach {t.value:g}: at most {MAX_RAMP_S:g} s"
        )


def recipe_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def build_plan(recipe: Recipe, line: LineConfig, *, source_text: str = "") -> Plan:
    """The plan of ``recipe`` on ``line``; ``PlanError`` naming what is missing.

    The recipe is assumed to have passed the process rules (the caller checks them:
    a plan is not a rule check); ``source_text`` (the recipe file) gives the hash the
    run log records."""
    if recipe.run is None:
        raise PlanError(f"recipe {recipe.recipe.name}: no [run] end (length_m or time_min)")
    drives = [n for n, d in line.devices.items() if d.model == "line_drive"]
    if len(drives) != 1:
        raise PlanError(f"the line needs exactly one line_drive device, has {len(drives)}")
    bindings = bind(recipe, line)  # UnboundField (a LookupError) names what has no device
    targets = tuple(_target(b, line) for b in bindings)
    for t in targets:
        if t.sets is not None and not t.limits[0] <= t.value <= t.limits[1]:
            raise PlanError(
                f"{t.field} = {t.value:g}: outside the equipment limit "
                f"{t.limits[0]:g}..{t.limits[1]:g} of {t.device}"
            )
    for t in targets:
        _check_ramp(t, line)
    d = process.derive(recipe, line)
    cap = line.line.speed_max_m_min
    if d.max_speed_m_min is not None:
        cap = min(cap, d.max_speed_m_min)
    purges: list[PurgedOven] = []
    for oven in recipe.ovens:
        st = line.station(oven.station)
        if oven.atmosphere == "air" or not isinstance(st, OvenStation):
            continue
        o2 = next(
            (f"{n}.o2_ppm" for n, dv in line.devices.items()
             if dv.model == "o2_analyzer" and dv.station == oven.station),
            None,
        )  # fmt: skip
        gated = tuple(
            t.sets for t in targets if t.kind == "zone_temp" and t.station == oven.station
            and oven.purpose == "cure" and t.sets is not None
        )  # fmt: skip
        n2 = tuple(
            t.sets for t in targets if t.kind == "n2_flow" and t.station == oven.station
            and t.sets is not None
        )  # fmt: skip
        if oven.o2_limit_ppm is not None and (o2 is not None or gated):
            purges.append(PurgedOven(oven.station, o2, n2, oven.o2_limit_ppm, gated))
    targets = tuple(t if t.kind != "zone_temp" else _with_cure(t, purges) for t in targets)
    press = next((t.device for t in targets if t.kind == "roll_load"), None)
    press_st = line.station(recipe.press.station) if recipe.press else None
    coaters = tuple(dict.fromkeys(t.device for t in targets if t.kind == "coat_flow"))
    coat_widths = {
        t.device: coat.width_mm
        for coat in recipe.coats
        for t in targets
        if t.kind == "coat_flow" and t.station == coat.station
    }
    psu = next((t.device for t in targets if t.kind == "sputter_power"), None)
    gauge = next((t.device for t in targets if t.kind in ("ar_flow", "chamber_pressure")), None)
    zones = tuple(dict.fromkeys(t.device for t in targets if t.kind == "zone_temp"))
    needed = {t.device for t in targets} | {drives[0]}
    needed |= {p.o2.split(".", 1)[0] for p in purges if p.o2 is not None}
    # The readiness timeout: the slowest heat-up the ramps imply from a cold start, plus
    # the margin; zones ramp on the instrument, the press heats at its recipe ramp.
    heat_s = 0.0
    for t in targets:
        rate_per_s = t.device_ramp[1] / 60.0 if t.device_ramp else None
        if t.kind == "press_temp" and t.ramp_per_s:
            rate_per_s = t.ramp_per_s
        if rate_per_s:
            heat_s = max(heat_s, t.value / rate_per_s)
    s = line.supervisor
    taper = None
    if recipe.web.rewind_taper_pct > 0:
        rw = line.stations[-1]
        if (
            not isinstance(rw, RewindStation)
            or rw.core_diameter_mm is None
            or rw.full_diameter_mm is None
        ):
            raise PlanError(
                "a rewind taper needs the rewind station's core_diameter_mm and full_diameter_mm"
            )
        taper = Taper(recipe.web.rewind_taper_pct, rw.core_diameter_mm, rw.full_diameter_mm,
                      f"{drives[0]}.rewind_diameter_mm")  # fmt: skip
    return Plan(
        recipe=recipe.recipe.name,
        sha256=recipe_sha256(source_text) if source_text else "",
        targets=targets,
        drive=drives[0],
        speed_cap_m_min=cap,
        purges=tuple(purges),
        press=press,
        press_max_kg=press_st.max_roll_load_kg if isinstance(press_st, PressStation) else None,
        coaters=coaters,
        psu=psu,
        gauge=gauge,
        zones=zones,
        needed=frozenset(needed),
        end_length_m=recipe.run.length_m,
        end_time_s=recipe.run.time_min * 60.0 if recipe.run.time_min is not None else None,
        readiness_timeout_s=heat_s + s.readiness_margin_s,
        taper=taper,
        settings=s,
        coat_widths=coat_widths,
    )


def _with_cure(t: Target, purges: list[PurgedOven]) -> Target:
    return replace(t, cure=any(t.sets in p.gated for p in purges))
