"""Simulator physics: pure steps with injected dt."""

from __future__ import annotations

import pytest

from simulators.models import atmosphere, coater, press, thermal, web


def run_thermal(
    u: thermal.ThermalInputs,
    seconds: float,
    dt: float = 1.0,
    p: thermal.ThermalParams | None = None,
) -> thermal.ThermalState:
    p = p or thermal.ThermalParams()
    s = thermal.ThermalState()
    for _ in range(int(seconds / dt)):
        s = thermal.step(p, s, u, dt)
    return s


def test_zone_reaches_setpoint_and_holds_it() -> None:
    s = run_thermal(thermal.ThermalInputs(sp_c=350.0), 3 * 3600)
    assert s.temp_c == pytest.approx(350.0, abs=0.5)
    assert 0 < s.output_pct < 100


def test_heater_power_limits_the_heating_rate() -> None:
    p = thermal.ThermalParams()
    s = run_thermal(thermal.ThermalInputs(sp_c=400.0), 60, p=p)
    max_rise = p.heater_max_w / p.heat_capacity_j_k * 60
    assert 25.0 < s.temp_c <= 25.0 + max_rise + 1e-9


def test_setpoint_ramp_is_followed() -> None:
    s = run_thermal(thermal.ThermalInputs(sp_c=200.0, ramp_c_per_min=5.0), 600)
    assert s.working_sp_c == pytest.approx(25.0 + 50.0)


def test_heater_failure_cools_to_ambient_and_large_dt_is_stable() -> None:
    hot = run_thermal(thermal.ThermalInputs(sp_c=300.0), 4 * 3600, dt=60.0)
    assert hot.temp_c == pytest.approx(300.0, abs=1.0)
    s = hot
    for _ in range(100):
        s = thermal.step(
            thermal.ThermalParams(), s, thermal.ThermalInputs(sp_c=300.0, heater_failed=True), 600.0
        )
    assert s.temp_c == pytest.approx(25.0, abs=0.5)


def test_o2_falls_with_purge_and_rises_with_a_leak() -> None:
    p = atmosphere.AtmosphereParams()
    s = atmosphere.AtmosphereState()
    for _ in range(120):
        s = atmosphere.step(p, s, atmosphere.AtmosphereInputs(n2_flow_slm=300.0), 60.0)
    assert s.o2_ppm < 50.0
    leak = atmosphere.step(p, s, atmosphere.AtmosphereInputs(300.0, extra_leak_m3_min=0.01), 600.0)
    assert leak.o2_ppm > 1000.0


def test_web_ramps_integrates_position_and_breaks() -> None:
    p = web.WebParams()
    s = web.WebState()
    u = web.WebInputs(True, 1.0, 100.0, 120.0)
    for _ in range(600):
        s = web.step(p, s, u, 0.1)
    assert s.speed_m_min == pytest.approx(1.0)
    assert s.position_m == pytest.approx(1.0 * (60 - 1.0) / 60, abs=1e-3)
    assert s.unwind_tension_n == pytest.approx(100.0, abs=0.1)
    assert s.unwind_diameter_mm < 800.0 < 800.0 + s.rewind_diameter_mm
    broken = web.step(p, s, web.WebInputs(True, 1.0, 100.0, 120.0, web_break=True), 0.1)
    assert broken.broken and broken.unwind_tension_n == 0.0
    assert broken.speed_m_min < s.speed_m_min


def test_wet_thickness_relation() -> None:
    assert coater.wet_thickness_um(13.257, 300.0, 0.2) == pytest.approx(220.95)
    assert coater.wet_thickness_um(10.0, 300.0, 0.0) == 0.0


def test_press_load_ramps_and_overload_opens_the_nip() -> None:
    p = press.PressParams()
    s = press.PressState()
    u = press.PressInputs(True, 1500.0, 320.0, 320.0)
    s = press.step(p, s, u, 1.0)
    assert s.load_kg == pytest.approx(500.0)
    for _ in range(5):
        s = press.step(p, s, u, 1.0)
    assert s.load_kg == pytest.approx(1500.0)
    assert press.gap_um(p, s) < 0
    o = press.step(p, s, press.PressInputs(True, 1500.0, 320.0, 320.0, force_overload=True), 1.0)
    assert o.overload
    o = press.step(p, o, u, 10.0)
    assert not o.nip_closed and o.load_kg == 0.0
