"""Property tests: no number, finite or not, crashes the checker or slips past a window."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from linecontrol.config import LineConfig, Recipe
from linecontrol.process import linear_pressure_kg_cm
from linecontrol.process.rules import RESOLUTION, check
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


# The properties below draw half their examples from inside the windows, so both
# verdicts occur: good values must pass, and no bad value may. Each test counts
# its verdicts and fails if either never happened.

H_C = RESOLUTION["°C"] / 2


def _passing_press(draw: st.DrawFn) -> tuple[float, float]:
    tg = draw(st.floats(min_value=250.0, max_value=400.0))
    temp = draw(st.floats(min_value=tg + 30.0, max_value=min(tg + 250.0, 450.0)))
    return temp, tg


passing_press = st.composite(_passing_press)()


def test_the_press_temperature_passes_exactly_inside_the_tg_window() -> None:
    verdicts: Counter[bool] = Counter()

    @settings(max_examples=300, database=None)
    @given(pair=st.one_of(passing_press, st.tuples(any_float, any_float)))
    def prop(pair: tuple[float, float]) -> None:
        temp, tg = pair
        d = put(recipe_dict("001-ex2"), "press.temperature_c", temp)
        recipe = _validate(put(d, "material.surface_tg_c", tg))
        if recipe is None:
            # refused at load: only a non-finite value or one outside -50..2000 °C
            assert not all(math.isfinite(v) and -50 <= v <= 2000 for v in (temp, tg))
            return
        report = check(recipe, LINE)
        inside = (
            250.0 - H_C <= tg <= 400.0 + H_C
            and tg + 30.0 - H_C <= temp <= tg + 250.0 + H_C
            and temp <= 450.0 + H_C
        )
        assert report.ok is inside, (temp, tg, [v.message for v in report.errors])
        verdicts[report.ok] += 1
        event("pass" if report.ok else "fail")

    prop()
    assert verdicts[True] > 0 and verdicts[False] > 0, verdicts


def _passing_load(draw: st.DrawFn) -> tuple[float, float]:
    width = draw(st.floats(min_value=1.0, max_value=1000.0))
    lp = draw(st.floats(min_value=5.0, max_value=min(1000.0, 400000.0 / width)))
    return lp * width / 10.0, width


passing_load = st.composite(_passing_load)()


def test_the_roll_load_passes_exactly_inside_the_linear_pressure_window() -> None:
    verdicts: Counter[bool] = Counter()
    h = RESOLUTION["kg/cm"] / 2

    @settings(max_examples=300, database=None)
    @given(pair=st.one_of(passing_load, st.tuples(any_float, any_float)))
    @example(pair=(30090.0, 300.9))  # 1000 kg/cm, 1000.0000000000001 in binary
    @example(pair=(30093.0, 300.9))  # 1000.1 kg/cm
    def prop(pair: tuple[float, float]) -> None:
        load, width = pair
        d = put(recipe_dict("001-ex2"), "press.roll_load_kg", load)
        recipe = _validate(put(d, "web.width_mm", width))
        if recipe is None:
            assert not (math.isfinite(load) and math.isfinite(width) and load > 0 and width > 0)
            return
        report = check(recipe, LINE)
        lp = linear_pressure_kg_cm(load, width)
        inside = (
            5.0 - h <= lp <= 1000.0 + h
            and load <= 40000.0 + RESOLUTION["kg"] / 2
            and width <= 1000.0 + RESOLUTION["mm"] / 2
        )
        assert report.ok is inside, (load, width, [v.message for v in report.errors])
        verdicts[report.ok] += 1
        event("pass" if report.ok else "fail")

    prop()
    assert verdicts[True] > 0 and verdicts[False] > 0, verdicts


def test_a_speed_passes_when_every_step_gets_its_time_and_only_then() -> None:
    # 004 Example 1 on the embedded line: the ovens allow at most 0.5 m/min, the drive
    # at least 0.05 m/min.
    verdicts: Counter[bool] = Counter()

    @settings(max_examples=300, database=None)
    @given(speed=st.one_of(st.floats(min_value=0.05, max_value=0.5), any_float))
    def prop(speed: float) -> None:
        recipe = _validate(put(recipe_dict("004-ex1"), "web.speed_m_min", speed))
        if recipe is None:
            assert not (math.isfinite(speed) and speed > 0)
            return
        report = check(recipe, LINE)
        if 0.05 <= speed <= 0.5:
            assert report.ok, (speed, [v.message for v in report.errors])
        if report.ok:
            # within the resolution of the speed (m/min) and of the residence (min)
            assert 0.05 - RESOLUTION["m/min"] <= speed <= 0.5 * (1 + 1e-4), speed
        verdicts[report.ok] += 1
        event("pass" if report.ok else "fail")

    prop()
    assert verdicts[True] > 0 and verdicts[False] > 0, verdicts
