"""A recipe's plan on a line: targets with their two windows (recipe band, equipment
limit), ramps, the purged ovens, the speed cap from the residence times, the run end, the
rewind taper; and the core tapering the rewind tension with the roll diameter."""

from __future__ import annotations

import math

import pytest

from linecontrol.config import DEFAULT_LINE, RECIPES, Recipe, load_line, load_recipe
from linecontrol.model import LoadRecipe, Reset, Start
from linecontrol.process import UnboundField
from linecontrol.supervisor import Plan, PlanError, build_plan
from linecontrol.supervisor import core as sup
from linecontrol.supervisor.plan import Taper
from tests.supervision_plant import Run

LINE = load_line(DEFAULT_LINE)


def tapered(pct: float) -> Recipe:
    recipe = load_recipe(RECIPES / "001-ex1.toml")
    web = recipe.web.model_copy(update={"rewind_taper_pct": pct})
    return recipe.model_copy(update={"web": web})


def plan_of(name: str = "001-ex1.toml") -> Plan:
    return build_plan(load_recipe(RECIPES / name), LINE, source_text="x")


def test_targets_carry_the_recipe_band_and_the_equipment_limit() -> None:
    plan = plan_of()
    (load,) = plan.by_field("press.roll_load_kg")
    assert load.band == (1470.0, 1530.0)
    assert load.limits == (0.0, 40000.0)  # the press station's rating, inside its register
    assert load.allows(1520.0) is None
    assert "band" in (load.allows(1600.0) or "")
    assert "finite" in (load.allows(math.nan) or "")
    assert "equipment" in (load.allows(-1.0) or "")
    zone = plan.by_sets("zone_C07.temp_sp_c")
    assert zone is not None and zone.cure and zone.device_ramp == ("zone_C07.ramp_c_per_min", 5.0)
    assert zone.limits == (0.0, 450.0)


def test_the_speed_cap_is_what_the_residence_times_allow() -> None:
    plan = plan_of()
    # 001 Ex. 1: the 1 h ramp over C01-C06 (12 m) allows 0.2 m/min, the recipe's speed (the
    # 30 min hold over C07-C10, 8 m, would allow 0.27).
    assert plan.speed_cap_m_min == pytest.approx(12.0 / 60.0)
    assert plan.end_length_m == 10.0 and plan.end_time_s is None


def test_the_cure_oven_is_purged_before_its_zones_pass_the_gate() -> None:
    plan = plan_of()
    (purge,) = [p for p in plan.purges if p.station == "cure_oven"]
    assert purge.o2 == "o2_cure.o2_ppm" and purge.o2_limit_ppm == 50.0
    assert "zone_C01.temp_sp_c" in purge.gated and "n2_cure_oven.flow_sp_slm" in purge.n2


def test_a_recipe_without_a_run_end_cannot_be_planned() -> None:
    recipe = load_recipe(RECIPES / "001-ex1.toml").model_copy(update={"run": None})
    with pytest.raises(PlanError, match=r"\[run\]"):
        build_plan(recipe, LINE)


def test_a_field_without_a_device_cannot_be_planned() -> None:
    devices = {k: v for k, v in LINE.devices.items() if k != "press"}
    line = LINE.model_copy(update={"devices": devices, "alarms": {}})
    with pytest.raises(UnboundField, match="press"):
        build_plan(load_recipe(RECIPES / "001-ex1.toml"), line)


def test_taper_falls_linearly_over_the_build_up_and_is_clipped() -> None:
    t = Taper(20.0, 152.0, 800.0, "drive.rewind_diameter_mm")
    assert t.tension(100.0, 152.0) == pytest.approx(100.0)
    assert t.tension(100.0, 476.0) == pytest.approx(90.0)
    assert t.tension(100.0, 800.0) == pytest.approx(80.0)
    assert t.tension(100.0, 900.0) == pytest.approx(80.0)  # beyond full: clipped
    assert t.tension(100.0, 100.0) == pytest.approx(100.0)


def test_a_taper_needs_the_rewind_build_up() -> None:
    rewind = LINE.stations[-1].model_copy(
        update={"core_diameter_mm": None, "full_diameter_mm": None}
    )
    line = LINE.model_copy(update={"stations": [*LINE.stations[:-1], rewind]})
    recipe = load_recipe(RECIPES / "001-ex1.toml")
    recipe = recipe.model_copy(
        update={"web": recipe.web.model_copy(update={"rewind_taper_pct": 20.0})}
    )
    with pytest.raises(PlanError, match="core_diameter_mm"):
        build_plan(recipe, line)


def test_the_core_tapers_the_rewind_tension_with_the_roll_diameter() -> None:
    r = Run.boot()
    recipe = load_recipe(RECIPES / "001-ex1.toml")
    recipe = recipe.model_copy(
        update={"web": recipe.web.model_copy(update={"rewind_taper_pct": 20.0})}
    )

    plan = build_plan(recipe, LINE, source_text="x")
    r.step(sup.RecipeReady(LoadRecipe(by="ana", request_id="l1", path="x"), plan))
    r.step(Reset(by="ana", request_id="r1"))
    r.until("Idle")
    r.step(Start(by="ana", request_id="s1"))
    r.until("Execute")
    r.plant.values["drive.rewind_diameter_mm"] = 476.0  # half-way through the build-up
    for _ in range(3):
        r.step()
    assert r.plant.values["drive.rewind_tension_sp_n"] == pytest.approx(90.0)  # 100 N - 10 %
    r.plant.values["drive.rewind_diameter_mm"] = 800.0
    for _ in range(3):
        r.step()
    assert r.plant.values["drive.rewind_tension_sp_n"] == pytest.approx(80.0)
    assert r.state == "Execute"  # the tapered tension is in its band
