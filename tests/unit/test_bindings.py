"""Recipe bindings: every shipped recipe on the embedded lines, tolerances and ramps,
unbound fields, and ``runs show``'s bands taken from them."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.devices import MODELS
from linecontrol.config import (
    CONFIGS,
    DEFAULT_LINE,
    RECIPES,
    LineConfig,
    Recipe,
    load_line,
    load_recipe,
)
from linecontrol.errors import LinecontrolError
from linecontrol.process import Binding, BindingError, Ramp, UnboundField, bind
from linecontrol.runlog import RunMeta
from linecontrol.runlog.store import bands

SHIPPED = sorted(RECIPES.glob("*.toml"))
LINES = [DEFAULT_LINE, CONFIGS / "line.toml"]


def _channel(ref: str, line: LineConfig) -> Any:
    device, name = ref.split(".", 1)
    return MODELS[line.devices[device].model].channel(name)


@pytest.mark.parametrize("line_path", LINES, ids=lambda p: p.name)
@pytest.mark.parametrize("recipe_path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_recipe_binds_to_real_channels(recipe_path: Path, line_path: Path) -> None:
    recipe, line = load_recipe(recipe_path), load_line(line_path)
    found = bind(recipe, line)
    assert found.unbound == ()
    assert len(found) >= 6  # speed, two tensions and at least one station
    for b in found:
        assert b.sets is not None or b.field == "sputter.pressure_pa"
        if b.sets is not None:
            sets = _channel(b.sets, line)
            assert sets.writable, b
            assert sets.unit == b.unit, b
        reads = _channel(b.reads, line)
        assert reads.unit == b.unit, b
        assert b.sets is None or b.sets.split(".")[0] == b.reads.split(".")[0] == b.device
    fields = {b.field for b in found}
    assert {"web.speed_m_min", "web.unwind_tension_n", "web.rewind_tension_n"} <= fields
    for oven in recipe.ovens:
        for z in oven.zones:
            assert f"ovens[{oven.station}].zones[{z.zone}].temperature_c" in fields
        assert (oven.n2_flow_slm is not None) == (f"ovens[{oven.station}].n2_flow_slm" in fields)
    for coat in recipe.coats:
        assert f"coats[{coat.station}].flow_ml_min" in fields
    assert (recipe.press is not None) == ("press.roll_load_kg" in fields)
    assert (recipe.sputter is not None) == ("sputter.power_kw" in fields)


def test_setpoints_tolerances_and_ramps_come_through() -> None:
    recipe = load_recipe(RECIPES / "001-ex1.toml")
    found = bind(recipe, load_line(DEFAULT_LINE))
    (speed,) = found.of_field("web.speed_m_min")
    assert (speed.sets, speed.reads) == ("drive.speed_sp_m_min", "drive.speed_pv_m_min")
    assert speed.value == recipe.web.speed_m_min
    assert speed.tolerance == recipe.web.speed_tolerance_m_min
    assert speed.ramp == Ramp(recipe.web.speed_ramp_m_min_per_s, "m/min per s")
    (tension,) = found.of_field("web.unwind_tension_n")
    assert tension.sets == "drive.unwind_tension_sp_n"
    assert (tension.tolerance, tension.ramp) == (recipe.web.tension_tolerance_n, None)
    oven = next(o for o in recipe.ovens if o.zone("C01") is not None)
    (c01,) = found.of_field(f"ovens[{oven.station}].zones[C01].temperature_c")
    zone = oven.zone("C01")
    assert zone is not None
    assert (c01.sets, c01.reads, c01.unit) == ("zone_C01.temp_sp_c", "zone_C01.temp_pv_c", "°C")
    assert (c01.value, c01.tolerance) == (zone.temperature_c, zone.tolerance_c)
    assert c01.ramp == Ramp(oven.ramp_c_per_min, "°C/min")
    (n2,) = found.of_field(f"ovens[{oven.station}].n2_flow_slm")
    assert (n2.sets, n2.value, n2.tolerance, n2.ramp) == (
        f"n2_{oven.station}.flow_sp_slm",
        oven.n2_flow_slm,
        None,
        None,
    )
    press = recipe.press
    assert press is not None
    temps = found.of_field("press.temperature_c")
    assert {b.sets for b in temps} == {"press.top_temp_sp_c", "press.bottom_temp_sp_c"}
    assert {b.ramp for b in temps} == {Ramp(press.temperature_ramp_c_per_min, "°C/min")}
    (load,) = found.of_field("press.roll_load_kg")
    assert load.sets == "press.roll_load_sp_kg"
    assert load.tolerance == press.roll_load_tolerance_kg
    assert load.ramp == Ramp(press.roll_load_ramp_kg_per_s, "kg/s")


def test_sputter_power_and_argon_flow() -> None:
    recipe = load_recipe(RECIPES / "000-sputter-fusion.toml")
    assert recipe.sputter is not None
    found = bind(recipe, load_line(DEFAULT_LINE))
    (power,) = found.of_field("sputter.power_kw")
    assert power.sets is not None and power.sets.endswith(".power_sp_kw")
    assert power.band == (
        recipe.sputter.power_kw - recipe.sputter.power_tolerance_kw,
        recipe.sputter.power_kw + recipe.sputter.power_tolerance_kw,
    )
    (ar,) = found.of_field("sputter.ar_flow_sccm")
    assert ar.sets is not None and ar.sets.endswith(".ar_flow_sp_sccm")
    assert (ar.value, ar.band) == (recipe.sputter.ar_flow_sccm, None)


def _without_device(line: LineConfig, name: str) -> LineConfig:
    data = line.model_dump(mode="json")
    del data["devices"][name]
    # and its alarms: a line's alarms name only devices it has
    data["alarms"] = {k: a for k, a in data["alarms"].items() if a["channel"].split(".")[0] != name}
    return LineConfig.model_validate(data)


def test_a_recipe_zone_without_a_device_is_a_clear_error() -> None:
    recipe = load_recipe(RECIPES / "001-ex1.toml")
    line = _without_device(load_line(DEFAULT_LINE), "zone_C01")
    with pytest.raises(UnboundField) as info:
        bind(recipe, line)
    assert isinstance(info.value, LinecontrolError) and isinstance(info.value, LookupError)
    assert "zones[C01].temperature_c: the line has no oven_zone device for zone C01" in str(
        info.value
    )
    partial = bind(recipe, line, strict=False)
    assert partial.unbound == info.value.unbound
    assert len(partial.unbound) == 1
    assert not any(b.reads.startswith("zone_C01.") for b in partial)


def _meta(recipe: Recipe, line: LineConfig) -> RunMeta:
    # as meta.json stores them: the models dumped to JSON and read back
    return RunMeta(
        run_id="r",
        line=json.loads(json.dumps(line.model_dump(mode="json"))),
        recipe=json.loads(json.dumps(recipe.model_dump(mode="json"))),
    )


def _expected_bands(recipe: Recipe, line: LineConfig) -> dict[str, tuple[float, float]]:
    """The bands ``runs show`` gave before the bindings, written out by hand."""

    def devs(model: str, **match: str) -> list[str]:
        return [
            n
            for n, d in line.devices.items()
            if d.model == model and all(getattr(d, k) == v for k, v in match.items())
        ]

    def band(v: float, tol: float) -> tuple[float, float]:
        return (v - tol, v + tol)

    w = recipe.web
    out: dict[str, tuple[float, float]] = {}
    for n in devs("line_drive"):
        out[f"{n}.speed_pv_m_min"] = band(w.speed_m_min, w.speed_tolerance_m_min)
        out[f"{n}.unwind_tension_pv_n"] = band(w.unwind_tension_n, w.tension_tolerance_n)
        out[f"{n}.rewind_tension_pv_n"] = band(w.rewind_tension_n, w.tension_tolerance_n)
    for oven in recipe.ovens:
        for z in oven.zones:
            for n in devs("oven_zone", zone=z.zone):
                out[f"{n}.temp_pv_c"] = band(z.temperature_c, z.tolerance_c)
    if p := recipe.press:
        for n in devs("press", station=p.station):
            out[f"{n}.top_temp_pv_c"] = band(p.temperature_c, p.temperature_tolerance_c)
            out[f"{n}.bottom_temp_pv_c"] = band(p.temperature_c, p.temperature_tolerance_c)
            out[f"{n}.roll_load_pv_kg"] = band(p.roll_load_kg, p.roll_load_tolerance_kg)
    for c in recipe.coats:
        for n in devs("coater", station=c.station):
            out[f"{n}.flow_pv_ml_min"] = band(c.flow_ml_min, c.flow_tolerance_ml_min)
    if s := recipe.sputter:
        for n in devs("dc_psu", station=s.station):
            out[f"{n}.power_pv_kw"] = band(s.power_kw, s.power_tolerance_kw)
    return out


@pytest.mark.parametrize("recipe_path", SHIPPED, ids=lambda p: p.stem)
def test_runs_show_bands_are_as_before_for_every_shipped_recipe(recipe_path: Path) -> None:
    recipe, line = load_recipe(recipe_path), load_line(DEFAULT_LINE)
    got, problems = bands(_meta(recipe, line))
    assert problems == []
    assert got == _expected_bands(recipe, line)
    assert "drive.speed_pv_m_min" in got


def test_runs_show_reports_a_channel_the_line_does_not_have() -> None:
    recipe = load_recipe(RECIPES / "001-ex1.toml")
    line = _without_device(load_line(DEFAULT_LINE), "zone_C01")
    got, problems = bands(_meta(recipe, line))
    assert got == _expected_bands(recipe, line)  # the other zones keep their bands
    assert "zone_C02.temp_pv_c" in got and not any(ch.startswith("zone_C01.") for ch in got)
    assert len(problems) == 1 and "zones[C01].temperature_c" in problems[0]
    assert "no oven_zone device for zone C01" in problems[0]


def test_runs_show_reports_a_stored_recipe_that_no_longer_validates() -> None:
    recipe, line = load_recipe(RECIPES / "001-ex1.toml"), load_line(DEFAULT_LINE)
    meta = _meta(recipe, line)
    assert meta.recipe is not None
    meta.recipe["web"]["speed_m_min"] = "fast"
    got, problems = bands(meta)
    assert got == {}
    assert len(problems) == 1 and "web.speed_m_min" in problems[0]


def test_no_recipe_no_bands() -> None:
    assert bands(RunMeta(run_id="r", line={})) == ({}, [])


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
positive = st.floats(min_value=1e-6, max_value=1e6, allow_nan=False, allow_infinity=False)


@given(value=finite, tol=positive)
def test_a_band_is_setpoint_plus_minus_tolerance(value: float, tol: float) -> None:
    b = Binding("f", value, "°C", "d", "d.sp", "d.pv", tolerance=tol)
    assert b.band == (value - tol, value + tol)
    lo, hi = b.band
    assert lo <= value <= hi


@given(bad=st.sampled_from([math.nan, math.inf, -math.inf]), ok=positive)
def test_non_finite_values_are_refused(bad: float, ok: float) -> None:
    with pytest.raises(BindingError):
        Binding("f", bad, "°C", "d", "d.sp", "d.pv", tolerance=ok)
    with pytest.raises(BindingError):
        Binding("f", ok, "°C", "d", "d.sp", "d.pv", tolerance=bad)
    with pytest.raises(BindingError):
        Ramp(bad, "°C/min")
    assert isinstance(BindingError("x"), ValueError)


def test_a_tolerance_or_ramp_of_zero_or_less_is_refused() -> None:
    with pytest.raises(BindingError):
        Binding("f", 1.0, "°C", "d", "d.sp", "d.pv", tolerance=0.0)
    with pytest.raises(BindingError):
        Ramp(-1.0, "°C/min")
    assert Binding("f", 1.0, "°C", "d", "d.sp", "d.pv").band is None


def _as_recorded_before_the_models_per_link(line: dict[str, Any]) -> dict[str, Any]:
    """A stored line as runs recorded before the device models per link wrote it:
    every device with every address field, null where its link has none."""
    old = {"host": "127.0.0.1", "port": 0, "unit": 1, "bus": None, "serial_port": None}
    old |= {"baudrate": 9600, "address": 1, "faults": {"gremlins": True}}
    line["devices"] = {n: {**old, **d} for n, d in line["devices"].items()}
    return line


def test_a_line_stored_by_an_older_version_keeps_its_bands() -> None:
    """B3: its device tables have keys the strict models refuse; the bands need only
    models and places, so they are as for the line itself, with a note."""
    recipe, line = load_recipe(RECIPES / "001-ex1.toml"), load_line(DEFAULT_LINE)
    meta = _meta(recipe, line)
    meta.line = _as_recorded_before_the_models_per_link(meta.line)
    meta.line["supervisor"] = {"a_setting_of_a_newer_version": 1}
    meta.line["alarms"] = {"x": "not an alarm"}
    got, problems = bands(meta)
    assert got == _expected_bands(recipe, line)
    assert len(problems) == 1, problems
    assert "device keys this version does not read" in problems[0]
    assert "devices.drive.bus" in problems[0] and "more; ignored" in problems[0]
