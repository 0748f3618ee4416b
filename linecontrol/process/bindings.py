"""Recipe bindings: which device channel sets each recipe field, which reads it back,
its tolerance and its ramp limit (pure: no I/O).

One table, derived from the recipe model (``linecontrol.config.Recipe``), the line
config (which device serves which station or oven zone) and the device registry's
channel declarations (``drivers.devices.MODELS``: unit, writable). ``runs show``
takes its tolerance bands from it; the supervisor takes its setpoints, ramps and
readiness checks from it.

A recipe field the line has no device for is *unbound*: ``bind`` raises
``UnboundField`` naming every such field, or (``strict=False``) lists them in
``RecipeBindings.unbound`` for a caller that reports them (``runs show``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from drivers.devices import MODELS
from linecontrol.config import LineConfig, Recipe
from linecontrol.errors import LinecontrolError


class BindingError(LinecontrolError, ValueError):
    """A binding that cannot be: a non-finite value, or a channel the registry does not
    declare as the binding needs it (missing, not writable, another unit)."""


class UnboundField(LinecontrolError, LookupError):
    """Recipe fields the line has no device for; the message names each and why."""

    def __init__(self, unbound: tuple[Unbound, ...]) -> None:
        self.unbound = unbound
        super().__init__("; ".join(str(u) for u in unbound))

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class Ramp:
    """The fastest the setpoint may move: ``rate`` in ``unit`` (e.g. °C/min)."""

    rate: float
    unit: str

    def __post_init__(self) -> None:
        _finite("ramp rate", self.rate)
        if self.rate <= 0:
            raise BindingError(f"ramp rate {self.rate!r} {self.unit}: must be above 0")


@dataclass(frozen=True)
class Binding:
    """One recipe field on one device.

    ``field`` is the recipe path (``ovens[cure_oven].zones[C01].temperature_c``);
    ``sets`` the writable channel that takes the setpoint (None for a value the
    line only measures, e.g. the chamber pressure), ``reads`` the channel that
    reads it (the process value, or the setpoint's read-back where the instrument
    measures nothing else), both ``device.channel``.
    """

    field: str
    value: float
    unit: str
    device: str
    sets: str | None
    reads: str
    tolerance: float | None = None
    ramp: Ramp | None = None

    def __post_init__(self) -> None:
        _finite(f"{self.field} value", self.value)
        if self.tolerance is not None:
            _finite(f"{self.field} tolerance", self.tolerance)
            if self.tolerance <= 0:
                raise BindingError(f"{self.field}: tolerance {self.tolerance!r} must be above 0")

    @property
    def band(self) -> tuple[float, float] | None:
        """``(value - tolerance, value + tolerance)``, or None without a tolerance."""
        if self.tolerance is None:
            return None
        return (self.value - self.tolerance, self.value + self.tolerance)


@dataclass(frozen=True)
class Unbound:
    """A recipe field the line has no device for."""

    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


@dataclass(frozen=True)
class RecipeBindings:
    bindings: tuple[Binding, ...]
    unbound: tuple[Unbound, ...] = ()

    def __iter__(self) -> Iterator[Binding]:
        return iter(self.bindings)

    def __len__(self) -> int:
        return len(self.bindings)

    def of_field(self, field: str) -> tuple[Binding, ...]:
        return tuple(b for b in self.bindings if b.field == field)

    def bands(self) -> dict[str, tuple[float, float]]:
        """Tolerance bands by reading channel: setpoint ± tolerance."""
        return {b.reads: band for b in self.bindings if (band := b.band) is not None}


def _finite(what: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BindingError(f"{what} = {value!r}: a finite number is needed")


# (model, set channel or None, read channel, unit): what a recipe quantity is on a device.
@dataclass(frozen=True)
class _Target:
    model: str
    sets: str | None
    reads: str
    unit: str

    def check(self) -> None:
        """The registry declares both channels, in this unit, the set one writable."""
        spec = MODELS.get(self.model)
        if spec is None:
            raise BindingError(f"bindings name model {self.model!r}, not in the registry")
        declared = {c.name: c for c in spec.channels}
        for name, writable in ((self.sets, True), (self.reads, False)):
            if name is None:
                continue
            ch = declared.get(name)
            if ch is None:
                raise BindingError(f"{self.model} declares no channel {name!r}")
            if ch.unit != self.unit:
                raise BindingError(f"{self.model}.{name} is in {ch.unit!r}, not {self.unit!r}")
            if writable and not ch.writable:
                raise BindingError(f"{self.model}.{name} is not writable")


SPEED = _Target("line_drive", "speed_sp_m_min", "speed_pv_m_min", "m/min")
UNWIND_TENSION = _Target("line_drive", "unwind_tension_sp_n", "unwind_tension_pv_n", "N")
REWIND_TENSION = _Target("line_drive", "rewind_tension_sp_n", "rewind_tension_pv_n", "N")
ZONE_TEMP = _Target("oven_zone", "temp_sp_c", "temp_pv_c", "°C")
N2_FLOW = _Target("n2_mfc", "flow_sp_slm", "flow_pv_slm", "slm")
PRESS_TOP = _Target("press", "top_temp_sp_c", "top_temp_pv_c", "°C")
PRESS_BOTTOM = _Target("press", "bottom_temp_sp_c", "bottom_temp_pv_c", "°C")
ROLL_LOAD = _Target("press", "roll_load_sp_kg", "roll_load_pv_kg", "kg")
COAT_FLOW = _Target("coater", "flow_sp_ml_min", "flow_pv_ml_min", "ml/min")
SPUTTER_POWER = _Target("dc_psu", "power_sp_kw", "power_pv_kw", "kW")
# The gauge controller measures no flow: the setpoint's read-back is what reads it.
AR_FLOW = _Target("vacuum_gauge", "ar_flow_sp_sccm", "ar_flow_sp_sccm", "sccm")
CHAMBER_PRESSURE = _Target("vacuum_gauge", None, "pressure_pa", "Pa")
TARGETS = (
    SPEED,
    UNWIND_TENSION,
    REWIND_TENSION,
    ZONE_TEMP,
    N2_FLOW,
    PRESS_TOP,
    PRESS_BOTTOM,
    ROLL_LOAD,
    COAT_FLOW,
    SPUTTER_POWER,
    AR_FLOW,
    CHAMBER_PRESSURE,
)
for _t in TARGETS:  # a registry change that breaks a binding fails at import, not at run
    _t.check()


class _Binder:
    def __init__(self, line: LineConfig) -> None:
        self.line = line
        self.bindings: list[Binding] = []
        self.unbound: list[Unbound] = []

    def add(
        self,
        field: str,
        value: float,
        target: _Target,
        *,
        where: str,
        station: str | None = None,
        zone: str | None = None,
        tolerance: float | None = None,
        ramp: Ramp | None = None,
    ) -> None:
        devices = [
            name
            for name, d in self.line.devices.items()
            if d.model == target.model
            and (station is None or d.station == station)
            and (zone is None or d.zone == zone)
        ]
        if not devices:
            self.unbound.append(Unbound(field, f"the line has no {target.model} device {where}"))
        for dev in devices:
            self.bindings.append(
                Binding(
                    field=field,
                    value=value,
                    unit=target.unit,
                    device=dev,
                    sets=f"{dev}.{target.sets}" if target.sets is not None else None,
                    reads=f"{dev}.{target.reads}",
                    tolerance=tolerance,
                    ramp=ramp,
                )
            )


def bind(recipe: Recipe, line: LineConfig, *, strict: bool = True) -> RecipeBindings:
    """The bindings of ``recipe`` on ``line``; an unbound field raises ``UnboundField``
    (all of them named), or with ``strict=False`` is listed in ``unbound``."""
    b = _Binder(line)
    web = recipe.web
    speed_ramp = Ramp(web.speed_ramp_m_min_per_s, "m/min per s")
    on_line = "on the line"
    b.add("web.speed_m_min", web.speed_m_min, SPEED, where=on_line,
          tolerance=web.speed_tolerance_m_min, ramp=speed_ramp)  # fmt: skip
    b.add("web.unwind_tension_n", web.unwind_tension_n, UNWIND_TENSION, where=on_line,
          tolerance=web.tension_tolerance_n)  # fmt: skip
    b.add("web.rewind_tension_n", web.rewind_tension_n, REWIND_TENSION, where=on_line,
          tolerance=web.tension_tolerance_n)  # fmt: skip
    for oven in recipe.ovens:
        ramp = Ramp(oven.ramp_c_per_min, "°C/min")
        for sp in oven.zones:
            b.add(f"ovens[{oven.station}].zones[{sp.zone}].temperature_c", sp.temperature_c,
                  ZONE_TEMP, where=f"for zone {sp.zone}", zone=sp.zone,
                  tolerance=sp.tolerance_c, ramp=ramp)  # fmt: skip
        if oven.n2_flow_slm is not None:
            b.add(f"ovens[{oven.station}].n2_flow_slm", oven.n2_flow_slm, N2_FLOW,
                  where=f"at station {oven.station}", station=oven.station)  # fmt: skip
    press = recipe.press
    if press is not None:
        at = f"at station {press.station}"
        t_ramp = Ramp(press.temperature_ramp_c_per_min, "°C/min")
        for target in (PRESS_TOP, PRESS_BOTTOM):
            b.add("press.temperature_c", press.temperature_c, target, where=at,
                  station=press.station, tolerance=press.temperature_tolerance_c,
                  ramp=t_ramp)  # fmt: skip
        b.add("press.roll_load_kg", press.roll_load_kg, ROLL_LOAD, where=at,
              station=press.station, tolerance=press.roll_load_tolerance_kg,
              ramp=Ramp(press.roll_load_ramp_kg_per_s, "kg/s"))  # fmt: skip
    for coat in recipe.coats:
        b.add(f"coats[{coat.station}].flow_ml_min", coat.flow_ml_min, COAT_FLOW,
              where=f"at station {coat.station}", station=coat.station,
              tolerance=coat.flow_tolerance_ml_min)  # fmt: skip
    sputter = recipe.sputter
    if sputter is not None:
        at = f"at station {sputter.station}"
        b.add("sputter.power_kw", sputter.power_kw, SPUTTER_POWER, where=at,
              station=sputter.station, tolerance=sputter.power_tolerance_kw)  # fmt: skip
        b.add("sputter.ar_flow_sccm", sputter.ar_flow_sccm, AR_FLOW, where=at,
              station=sputter.station)  # fmt: skip
        b.add("sputter.pressure_pa", sputter.pressure_pa, CHAMBER_PRESSURE, where=at,
              station=sputter.station)  # fmt: skip
    out = RecipeBindings(tuple(b.bindings), tuple(b.unbound))
    if strict and out.unbound:
        raise UnboundField(out.unbound)
    return out
