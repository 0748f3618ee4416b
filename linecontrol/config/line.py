"""The line config: what the line physically is.

Stations in web order with their distance from the unwind, oven zone lengths,
press roll geometry and equipment limits. A recipe is always checked against a
line (``linecontrol.process.rules``). Device addresses live in the same file under
``[devices]`` (and serial ``[buses]``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, PositiveFloat, model_validator

from drivers.config import FieldProblem, tables_problems
from linecontrol.config.alarms import AlarmDefinition, AlarmId, alarm_channel_problem
from linecontrol.config.api import ApiSettings
from linecontrol.config.devices import BusConfig, DeviceConfig
from linecontrol.config.supervision import SupervisorSettings
from linecontrol.config.tomlfile import StrictModel, load_model, register_union_list

NonNeg = Annotated[float, Field(ge=0.0)]


class LineInfo(StrictModel):
    name: str = Field(min_length=1)
    speed_min_m_min: PositiveFloat
    speed_max_m_min: PositiveFloat

    @model_validator(mode="after")
    def _range(self) -> LineInfo:
        if self.speed_min_m_min >= self.speed_max_m_min:
            raise ValueError(
                f"speed_min_m_min ({self.speed_min_m_min}) must be below "
                f"speed_max_m_min ({self.speed_max_m_min})"
            )
        return self


class Zone(StrictModel):
    name: str = Field(min_length=1)
    length_m: PositiveFloat


class _Station(StrictModel):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_\-]+$")
    distance_m: NonNeg


# What a web can be made of when it leaves the unwind: metal foil (the cast routes
# 001, 003, 004), fully imidized polyimide film (000's base film), or a
# self-supporting polyimide precursor film whose imidation the line completes (002
# claim 10). Spindle, tension range and edge guide differ, so an unwind states
# which it is fitted for.
UnwoundMaterial = Literal["metal_foil", "pi_film", "pi_precursor_film"]
CoatSide = Literal["front", "back"]
UNWOUND_MATERIALS: tuple[UnwoundMaterial, ...] = ("metal_foil", "pi_film", "pi_precursor_film")


def _every_material() -> list[UnwoundMaterial]:
    return list(UNWOUND_MATERIALS)


def _front_only() -> list[CoatSide]:
    return ["front"]


class UnwindStation(_Station):
    kind: Literal["unwind"]
    max_tension_n: PositiveFloat
    # What this unwind is fitted to unwind; omitted: every kind (no restriction stated).
    materials: list[UnwoundMaterial] = Field(default_factory=_every_material, min_length=1)


class RewindStation(_Station):
    kind: Literal["rewind"]
    max_tension_n: PositiveFloat
    # The roll build-up a rewind taper is laid over (needed by a recipe with a taper).
    core_diameter_mm: PositiveFloat | None = None
    full_diameter_mm: PositiveFloat | None = None

    @model_validator(mode="after")
    def _diameters(self) -> RewindStation:
        core, full = self.core_diameter_mm, self.full_diameter_mm
        if (core is None) != (full is None):
            raise ValueError("core_diameter_mm and full_diameter_mm go together")
        if core is not None and full is not None and not core < full:
            raise ValueError(f"core_diameter_mm ({core}) must be below full_diameter_mm ({full})")
        return self


class CoaterStation(_Station):
    kind: Literal["coater"]
    max_width_mm: PositiveFloat
    max_flow_ml_min: PositiveFloat
    # Faces of the web this coater can be threaded to coat ("front": the face up
    # from the unwind, the one the cast routes build on).
    sides: list[CoatSide] = Field(default_factory=_front_only, min_length=1)


class OvenStation(_Station):
    kind: Literal["oven"]
    zones: list[Zone] = Field(min_length=1)
    max_temp_c: PositiveFloat
    inert_capable: bool
    max_n2_flow_slm: PositiveFloat | None = None

    @property
    def length_m(self) -> float:
        return sum(z.length_m for z in self.zones)

    def zone(self, name: str) -> Zone | None:
        return next((z for z in self.zones if z.name == name), None)

    @model_validator(mode="after")
    def _inert(self) -> OvenStation:
        if self.inert_capable and self.max_n2_flow_slm is None:
            raise ValueError("an inert-capable oven needs max_n2_flow_slm (its N2 flow controller)")
        names = [z.name for z in self.zones]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"zone names repeat: {sorted(dup)}")
        return self


class SputterStation(_Station):
    kind: Literal["sputter"]
    max_power_kw: PositiveFloat
    # Dynamic deposition rate: thickness [nm] x speed [m/min] per kW of cathode power.
    deposition_rate_nm_m_min_per_kw: PositiveFloat
    max_ar_flow_sccm: PositiveFloat
    max_width_mm: PositiveFloat


class PressStation(_Station):
    kind: Literal["press"]
    roll_diameter_mm: PositiveFloat
    roll_face_width_mm: PositiveFloat
    max_roll_load_kg: PositiveFloat
    max_temp_c: PositiveFloat
    # Width of the flattened nip along the web; depends on roll diameter and cover
    # hardness. Needed to turn linear pressure into areal pressure (MPa).
    nip_contact_width_mm: PositiveFloat | None = None


Station = Annotated[
    UnwindStation | RewindStation | CoaterStation | OvenStation | SputterStation | PressStation,
    Field(discriminator="kind"),
]
register_union_list("stations")

StationKind = Literal["unwind", "rewind", "coater", "oven", "sputter", "press"]


class LineConfig(StrictModel):
    line: LineInfo
    stations: list[Station] = Field(min_length=2)
    # Instrument addresses and poll rates (the simulators read the same tables).
    devices: dict[str, DeviceConfig] = Field(default_factory=dict)
    buses: dict[str, BusConfig] = Field(default_factory=dict)
    supervisor: SupervisorSettings = Field(default_factory=SupervisorSettings)
    # Alarm definitions, each on a channel of the devices above (linecontrol.config.alarms).
    alarms: dict[AlarmId, AlarmDefinition] = Field(default_factory=dict)
    # Who may do what through the local API (linecontrol.config.api, docs/api.md).
    api: ApiSettings = Field(default_factory=ApiSettings)

    @model_validator(mode="after")
    def _web_order(self) -> LineConfig:
        names = [s.name for s in self.stations]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"station names repeat: {sorted(dup)}")
        for a, b in zip(self.stations, self.stations[1:], strict=False):
            if b.distance_m <= a.distance_m:
                raise ValueError(
                    f"stations must be listed in web order with increasing distance_m: "
                    f"{b.name} ({b.distance_m} m) follows {a.name} ({a.distance_m} m)"
                )
        if self.stations[0].kind != "unwind" or self.stations[-1].kind != "rewind":
            raise ValueError(
                "the web path starts at an unwind station and ends at a rewind station"
            )
        zones = [z.name for s in self.stations if isinstance(s, OvenStation) for z in s.zones]
        dupz = {n for n in zones if zones.count(n) > 1}
        if dupz:
            raise ValueError(f"oven zone names must be unique on the line: {sorted(dupz)}")
        stations = {s.name for s in self.stations}
        found = tables_problems(
            self.devices, self.buses, devices_given="devices" in self.model_fields_set
        )
        for name, d in self.devices.items():
            if d.station is not None and d.station not in stations:
                found.append(
                    (
                        ("devices", name, "station"),
                        f"{d.station!r} is not a station of the line {sorted(stations)}",
                    )
                )
            if d.zone is not None and d.zone not in zones:
                found.append(
                    (("devices", name, "zone"), f"{d.zone!r} is not an oven zone of the line")
                )
        if found:
            raise FieldProblem(found)
        problem = alarm_channel_problem(self.alarms, self.devices)
        if problem is not None:
            raise ValueError(problem)
        return self

    def station(self, name: str) -> Station | None:
        return next((s for s in self.stations if s.name == name), None)


def load_line(path: Path) -> LineConfig:
    return load_model(path, LineConfig)
