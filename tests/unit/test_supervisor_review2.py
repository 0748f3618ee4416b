"""Second hostile review of the supervisor (issue 9): Manual mode's interlocks."""

from __future__ import annotations

from linecontrol.model import ChangeSetpoint, JogWeb, Reset, SetMode
from tests.supervision_plant import LINE, Run
from tests.unit.test_supervisor_manual import manual

S = LINE.supervisor


def jogging_in_stopped() -> Run:
    r = Run.boot()
    r.step(SetMode(by="ana", request_id="m1", mode="manual"))
    assert r.state == "Stopped"
    r.step(JogWeb(by="ana", request_id="j1", speed_m_min=0.5))
    r.step()
    assert r.plant.values["drive.run_cmd"] == 1.0
    return r


def test_an_interlock_stops_a_web_jogged_in_stopped() -> None:
    # Stopped "meets" a hold, so the machine does not move; the jog must stop anyway.
    r = jogging_in_stopped()
    r.plant.flags["press.overload"] = 1
    for _ in range(3):
        r.step()
    assert "press_overload:roll load" in r.core.active
    assert r.state == "Stopped"
    assert r.plant.values["drive.run_cmd"] == 0.0
    assert r.plant.values["drive.speed_sp_m_min"] == 0.0


def test_a_press_roll_set_by_hand_is_watched_for_runaway() -> None:
    r = manual()
    r.step(ChangeSetpoint(by="ana", request_id="c1", field="press.top_temp_sp_c", value=100.0))
    r.step()
    assert r.plant.values["press.top_temp_sp_c"] == 100.0
    r.plant.follow = False
    for i in range(S.runaway_cycles + 2):
        r.plant.values["press.top_temp_pv_c"] = 100.0 + S.runaway_margin_c + 5 + i  # rising
        r.step()
    assert "heater_runaway:press" in r.core.active
    assert r.plant.values["press.top_temp_sp_c"] == S.standby_temp_c


def test_a_zone_outside_the_loaded_recipe_set_by_hand_is_watched() -> None:
    r = Run.boot()
    r.loaded()
    r.step(SetMode(by="ana", request_id="m1", mode="manual"))
    r.step(Reset(by="ana", request_id="r1"))
    r.until("Idle")
    assert r.core.plan is not None
    used = {t.device for t in r.core.plan.targets}
    zone = next(z for z in r.core.devices.zones if z not in used)
    r.step(ChangeSetpoint(by="ana", request_id="c1", field=f"{zone}.temp_sp_c", value=100.0))
    r.step()
    assert r.plant.values[f"{zone}.temp_sp_c"] == 100.0
    r.plant.follow = False
    r.plant.values[f"{zone}.temp_pv_c"] = 100.0 + S.runaway_margin_c + 5
    r.plant.values[f"{zone}.output_pct"] = 100.0  # its relay stuck on
    for _ in range(S.runaway_cycles + 2):
        r.step()
    assert f"heater_runaway:{zone}" in r.core.active
    assert r.plant.values[f"{zone}.temp_sp_c"] == S.standby_temp_c
