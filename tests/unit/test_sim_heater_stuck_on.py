"""A heater stuck on (welded SSR) in the simulators' physics and on the wire's model."""

from __future__ import annotations

import pytest

from drivers.config import FaultsConfig
from simulators.devices import LineContext, OvenZoneSim, PressSim
from simulators.errors import SimLineError
from simulators.faults import Faults
from simulators.models import press, thermal

P = thermal.ThermalParams()


def settled(sp_c: float) -> thermal.ThermalState:
    s = thermal.ThermalState()
    for _ in range(4 * 60):
        s = thermal.step(P, s, thermal.ThermalInputs(sp_c=sp_c), 60.0)
    assert s.temp_c == pytest.approx(sp_c, abs=0.5)
    return s


@pytest.mark.parametrize("stuck", [False, True])
def test_a_stuck_on_heater_climbs_past_its_setpoint_while_the_output_reads_what_the_loop_asks(
    stuck: bool,
) -> None:
    s = settled(350.0)
    u = thermal.ThermalInputs(sp_c=350.0, heater_stuck_on=stuck)
    peak = s.temp_c
    for _ in range(60):  # an hour, in minutes
        s = thermal.step(P, s, u, 60.0)
        peak = max(peak, s.temp_c)
    if stuck:
        # Full power: toward ambient + P_max / G (505 °C), far past the setpoint.
        assert s.temp_c > 350.0 + 100.0
        assert s.output_pct == 0.0  # the PI loop asks nothing; the relay heats anyway
    else:
        assert peak < 350.0 + 0.5
        assert 0.0 < s.output_pct < 100.0


def test_a_stuck_on_heater_heats_with_the_output_disabled_and_a_failed_one_does_not() -> None:
    s = settled(350.0)
    on = thermal.step(
        P, s, thermal.ThermalInputs(sp_c=350.0, enabled=False, heater_stuck_on=True), 600.0
    )
    assert on.temp_c > s.temp_c and on.output_pct == 0.0
    both = thermal.ThermalInputs(sp_c=350.0, heater_failed=True, heater_stuck_on=True)
    off = thermal.step(P, s, both, 600.0)
    assert off.temp_c < s.temp_c  # an open element delivers nothing, stuck relay or not


def test_the_press_top_roll_runs_away_with_its_heater_stuck_on() -> None:
    p = press.PressParams()
    s = press.PressState()
    u = press.PressInputs(nip_close=False, load_sp_kg=0.0, top_sp_c=150.0, bottom_sp_c=150.0)
    for _ in range(6 * 60):
        s = press.step(p, s, u, 60.0)
    stuck = press.PressInputs(False, 0.0, 150.0, 150.0, heater_stuck_on=True)
    for _ in range(60):
        s = press.step(p, s, stuck, 60.0)
    assert s.top.temp_c > 150.0 + 100.0
    assert s.bottom.temp_c == pytest.approx(150.0, abs=0.5)


def test_the_oven_zone_sim_publishes_the_runaway_and_the_fault_is_validated() -> None:
    zone = OvenZoneSim("zone_C07")
    zone.bank.set("temp_sp_c", 350.0)
    zone.bank.set("output_enable", 1)
    ctx = LineContext()
    for _ in range(4 * 60):
        zone.step(60.0, ctx)
    assert float(zone.bank.get("temp_pv_c")) == pytest.approx(350.0, abs=0.5)
    zone.faults.update({"heater_stuck_on": True})
    for _ in range(10):
        zone.step(60.0, ctx)
    assert float(zone.bank.get("temp_pv_c")) > 350.0 + 25.0
    assert float(zone.bank.get("output_pct")) == 0.0
    with pytest.raises(SimLineError, match="heater_stuck_on"):
        Faults().update({"heater_stuck_on": 1})
    assert FaultsConfig.model_validate({"heater_stuck_on": True}).heater_stuck_on is True
    presssim = PressSim("press")
    presssim.faults.update({"heater_stuck_on": True})
    presssim.step(600.0, ctx)
    assert presssim.state.top.temp_c > presssim.state.bottom.temp_c + 50.0
