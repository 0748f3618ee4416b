"""Recipe model: what a process engineer asks the line to do, in engineering units.

A recipe names its route (which seed process it follows) and the stations it
uses; for each station it gives setpoints with tolerance bands and, where the
controller ramps, a ramp rate; and it states the material facts the process
rules need (surface-layer Tg, solvent and boiling point, solids, foil and layer
thicknesses). It is loaded from TOML (``configs/recipes/*.toml``), unknown keys
are refused, and every field carries its unit in its name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, PositiveFloat, model_validator

from linecontrol.config.line import CoatSide, UnwoundMaterial
from linecontrol.config.tomlfile import StrictModel, load_model

Route = Literal[
    "cast-laminate", "cast-laminate-tpi", "sputter-fusion", "coated-resin", "adhesion-film"
]
ROUTES: dict[str, str] = {
    "cast-laminate": "cast two-layer PI on Cu foil, cure, laminate a second foil (001)",
    "cast-laminate-tpi": "cast low-CTE + thermoplastic PI (Tg 200-250 °C), optional adhesion "
    "layer, cure under N2, laminate at 300-350 °C (004)",
    "sputter-fusion": "sputter Cu on a thermoplastic PI surface, then heat and press (000)",
    "coated-resin": "coat soluble heat-resistant resin on foil, predry, heat-treat inert (003)",
    "adhesion-film": "coat a 0.05-1 µm heat-resistant PI layer with a silane or titanate agent "
    "on one or both sides of a 10-35 µm low-CTE PI core film, heat to complete imidation, "
    "optionally sputter a metal layer (002)",
}
Atmosphere = Literal["air", "n2", "ar", "he", "vacuum"]
INERT: frozenset[str] = frozenset({"n2", "ar", "he", "vacuum"})
LayerRole = Literal["adhesion", "low_cte", "thermoplastic", "heat_resistant", "core"]

Celsius = Annotated[float, Field(ge=-50.0, le=2000.0)]


def _repeated(names: list[str]) -> list[str]:
    """The names that occur more than once, in their order."""
    return sorted({n for n in names if names.count(n) > 1}, key=names.index)


class RecipeInfo(StrictModel):
    name: str = Field(min_length=1)
    title: str = ""
    route: Route
    source: str = Field(min_length=1, description="seed passage or origin of the recipe")
    stations: list[str] = Field(min_length=1, description="stations used, in web order")
    notes: str = ""


class Layer(StrictModel):
    name: str = Field(min_length=1)
    role: LayerRole
    cured_thickness_um: PositiveFloat


class Material(StrictModel):
    # What the unwind carries: metal foil, polyimide film (000) or a self-supporting
    # polyimide precursor film (002). Omitted: metal foil when foil_thickness_um is
    # given; otherwise it must be stated.
    substrate: UnwoundMaterial | None = None
    # Metal foil the coats are cast on; only with a metal-foil substrate.
    foil_thickness_um: PositiveFloat | None = None
    # Tg of the surface (thermoplastic) PI the press bonds to; omitted when the
    # surface has no glass transition (001 Comparative example 2).
    surface_tg_c: Celsius | None = None
    solvent: str | None = None
    solvent_bp_c: Annotated[float, Field(gt=0.0, le=400.0)] | None = None
    layers: list[Layer] = Field(default_factory=list)

    @model_validator(mode="after")
    def _names(self) -> Material:
        names = [layer.name for layer in self.layers]
        if len(set(names)) != len(names):
            raise ValueError(f"layer names repeat: {_repeated(names)}")
        if (self.solvent is None) != (self.solvent_bp_c is None):
            raise ValueError("solvent and solvent_bp_c go together")
        if self.substrate is None and self.foil_thickness_um is None:
            raise ValueError(
                "substrate: state what the unwind carries: 'metal_foil' (with "
                "foil_thickness_um), 'pi_film' or 'pi_precursor_film'"
            )
        if self.foil_thickness_um is not None and self.unwound != "metal_foil":
            raise ValueError(f"foil_thickness_um is given, but the substrate is {self.substrate!r}")
        return self

    @property
    def unwound(self) -> UnwoundMaterial:
        """What the unwind carries (``substrate``, or metal foil when only a foil is given)."""
        return self.substrate if self.substrate is not None else "metal_foil"


class Web(StrictModel):
    speed_m_min: PositiveFloat
    speed_tolerance_m_min: PositiveFloat
    speed_ramp_m_min_per_s: PositiveFloat
    width_mm: PositiveFloat
    unwind_tension_n: PositiveFloat
    rewind_tension_n: PositiveFloat
    tension_tolerance_n: PositiveFloat
    # Rewind taper: the rewind tension falls linearly by this % of rewind_tension_n as
    # the roll builds from its core to its full diameter (the rewind station's
    # core_diameter_mm and full_diameter_mm), a standard winder practice against
    # crushed cores and telescoping. 0: constant tension.
    rewind_taper_pct: Annotated[float, Field(ge=0.0, lt=100.0)] = 0.0


class Coat(StrictModel):
    station: str
    layer: str
    flow_ml_min: PositiveFloat
    flow_tolerance_ml_min: PositiveFloat
    width_mm: PositiveFloat
    solids_wt_pct: Annotated[float, Field(gt=0.0, le=100.0)]
    solution_density_g_cm3: PositiveFloat
    film_density_g_cm3: PositiveFloat
    side: CoatSide = "front"
    # The heat-resistant surface treatment agent in the solution (002 claim 6:
    # an aminosilane, epoxysilane or titanate compound), where the route uses one.
    surface_treatment_agent: str | None = Field(default=None, min_length=1)


class ZoneSetpoint(StrictModel):
    zone: str
    temperature_c: Celsius
    tolerance_c: PositiveFloat


class Step(StrictModel):
    """A piece of the thermal program the web must see, laid onto oven zones.

    ``hold``: the web stays at ``temperature_c`` for at least ``time_min`` while it
    crosses ``zones``. ``ramp``: the web is heated to ``temperature_c`` over at
    least ``time_min`` (a maximum heating rate) across ``zones`` at stepped setpoints.
    """

    kind: Literal["hold", "ramp"]
    zones: list[str] = Field(min_length=1)
    temperature_c: Celsius
    time_min: PositiveFloat
    note: str = ""


class Oven(StrictModel):
    station: str
    purpose: Literal["dry", "predry", "cure"]
    atmosphere: Atmosphere
    ramp_c_per_min: PositiveFloat
    zones: list[ZoneSetpoint] = Field(min_length=1)
    steps: list[Step] = Field(default_factory=list)
    n2_flow_slm: PositiveFloat | None = None
    o2_limit_ppm: PositiveFloat | None = None

    def zone(self, name: str) -> ZoneSetpoint | None:
        return next((z for z in self.zones if z.zone == name), None)

    @model_validator(mode="after")
    def _zones(self) -> Oven:
        names = [z.zone for z in self.zones]
        if len(set(names)) != len(names):
            raise ValueError(f"zone setpoints repeat zones {_repeated(names)}")
        for i, step in enumerate(self.steps):
            missing = [z for z in step.zones if z not in names]
            if missing:
                raise ValueError(f"steps[{i}] names zones without a setpoint here: {missing}")
        return self


class Sputter(StrictModel):
    station: str
    power_kw: PositiveFloat
    power_tolerance_kw: PositiveFloat
    ar_flow_sccm: PositiveFloat
    pressure_pa: PositiveFloat
    target_thickness_um: PositiveFloat
    width_mm: PositiveFloat


class Press(StrictModel):
    station: str
    temperature_c: Celsius
    temperature_tolerance_c: PositiveFloat
    temperature_ramp_c_per_min: PositiveFloat
    roll_load_kg: PositiveFloat
    roll_load_tolerance_kg: PositiveFloat
    roll_load_ramp_kg_per_s: PositiveFloat


class RunEnd(StrictModel):
    """When a run of the recipe is complete: after ``length_m`` metres of web have left
    the unwind in Execute, or after ``time_min`` minutes of Execute (exactly one)."""

    length_m: PositiveFloat | None = None
    time_min: PositiveFloat | None = None

    @model_validator(mode="after")
    def _one(self) -> RunEnd:
        if (self.length_m is None) == (self.time_min is None):
            raise ValueError("give exactly one of length_m and time_min")
        return self


class Recipe(StrictModel):
    recipe: RecipeInfo
    # When a supervised run is complete; a recipe without it can be checked, not run.
    run: RunEnd | None = None
    material: Material
    web: Web
    coats: list[Coat] = Field(default_factory=list)
    ovens: list[Oven] = Field(default_factory=list)
    sputter: Sputter | None = None
    press: Press | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Recipe:
        listed = self.recipe.stations
        if len(set(listed)) != len(listed):
            raise ValueError(f"recipe.stations repeats stations {_repeated(listed)}")
        used = self.used_stations()
        missing = [s for s in used if s not in listed]
        if missing:
            raise ValueError(f"sections use stations not listed in recipe.stations: {missing}")
        layers = {layer.name for layer in self.material.layers}
        for coat in self.coats:
            if coat.layer not in layers:
                raise ValueError(
                    f"coat at {coat.station} names layer {coat.layer!r}, "
                    f"not among material.layers {sorted(layers)}"
                )
        return self

    def used_stations(self) -> list[str]:
        used = [c.station for c in self.coats] + [o.station for o in self.ovens]
        if self.sputter:
            used.append(self.sputter.station)
        if self.press:
            used.append(self.press.station)
        return used


def load_recipe(path: Path) -> Recipe:
    return load_model(path, Recipe)
