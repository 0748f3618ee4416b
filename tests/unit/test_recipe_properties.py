"""Property tests: no number, finite or not, crashes the checker or slips past a window."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from linecontrol.derive import linear_pressure_kg_cm
from linecontrol.line import LineConfig
from linecontrol.recipe import Recipe
from linecontrol.rules import check
from tests.recipe_helpers import line_dict, put, recipe_dict

any_float = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1e4, max_value=1e5),
    st.sampled_from([0.0, -0.0, 5e-324, 1e308, math.nan, math.inf, -math.inf]),
)
LINE = LineConfig.model_validate(line_dict())

FIELDS_001 = [
    "press.temperature_c",
    "press.roll_load_kg",
    "web.speed_m_min",
    "web.width_mm",
    "material.surface_tg_c",
    "material.solvent_bp_c",
    "ovens[station=dryer_1].zones[zone=D1-1].temperature_c",
    "ovens[station=cure_oven].zones[zone=C08].temperature_c",
    "ovens[station=cure_oven].steps[1].time_min",
    "ovens[station=cure_oven].o2_limit_ppm",
    "coats[0].flow_ml_min",
    "coats[0].solids_wt_pct",
]


def _validate(d: dict[str, Any]) -> Recipe | None:
    try:
        return Recipe.model_validate(d)
    except ValidationError:
        return None


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(FIELDS_001), value=any_float)
def test_any_number_is_refused_or_checked_never_crashes(field: str, value: float) -> None:
    recipe = _validate(put(recipe_dict("001-ex1"), field, value))
    if recipe is None:
        return  # refused at load with a validation error: fine
    assert all(math.isfinite(v) for v in _numbers(recipe.model_dump()))
    report = check(recipe, LINE)
    assert isinstance(report.ok, bool)


def _numbers(node: Any) -> list[float]:
    if isinstance(node, dict):
        return [x for v in node.values() for x in _numbers(v)]
    if isinstance(node, list):
        return [x for v in node for x in _numbers(v)]
    return [float(node)] if isinstance(node, int | float) and not isinstance(node, bool) else []


@settings(max_examples=300)
@given(temp=any_float, tg=any_float)
def test_a_passing_press_temperature_is_inside_the_tg_window(temp: float, tg: float) -> None:
    d = put(put(recipe_dict("001-ex2"), "press.temperature_c", temp), "material.surface_tg_c", tg)
    recipe = _validate(d)
    if recipe is None:
        assert (
            not (math.isfinite(temp) and math.isfinite(tg))
            or temp < -50
            or tg < -50
            or temp > 2000
            or tg > 2000
        )
        return
    report = check(recipe, LINE)
    if report.ok:
        assert tg + 30 <= temp <= tg + 250
        assert 250 <= tg <= 400
        assert temp <= 450


@settings(max_examples=300)
@given(load=any_float, width=any_float)
def test_a_passing_load_is_inside_the_linear_pressure_window(load: float, width: float) -> None:
    d = put(put(recipe_dict("001-ex2"), "press.roll_load_kg", load), "web.width_mm", width)
    recipe = _validate(d)
    if recipe is None:
        return
    report = check(recipe, LINE)
    if report.ok:
        assert 5 <= linear_pressure_kg_cm(load, width) <= 1000
        assert load <= 40000 and width <= 1000


@settings(max_examples=300)
@given(speed=any_float)
def test_a_passing_speed_leaves_every_step_its_time(speed: float) -> None:
    recipe = _validate(put(recipe_dict("004-ex1"), "web.speed_m_min", speed))
    if recipe is None:
        assert not (math.isfinite(speed) and speed > 0)
        return
    report = check(recipe, LINE)
    if report.ok:
        assert 0.05 <= speed <= 0.5
