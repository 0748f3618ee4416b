"""Second hostile review of the supervisor (issue 9): Manual mode's interlocks, ramps a
recipe may ask for, commands it does not take."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from linecontrol.model import (
    ChangeSetpoint,
    CommandRejected,
    Hold,
    JogWeb,
    LoadRecipe,
    Reset,
    SetMode,
    StartRecording,
    Unhold,
)
from linecontrol.supervisor import core as sup
from linecontrol.supervisor.shell import load_recipe_for
from tests.supervision_plant import LINE, RECIPE, Run
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


def _recipe_with(field: str, value: str) -> str:
    """The seed recipe's text with the first ``field = number`` set to ``value``."""
    text = RECIPE.read_text(encoding="utf-8")
    new, n = re.subn(rf"^({field}\s*=\s*)[0-9.]+", rf"\g<1>{value}", text, count=1, flags=re.M)
    assert n == 1
    return new


@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        # 0.04 °C/min is 0 counts of a 0.1 °C/min register: 0 is "step", no ramp at all
        ("ramp_c_per_min", "0.04", "no ramp"),
        ("ramp_c_per_min", "1e-300", "no ramp"),
        ("ramp_c_per_min", "1e300", "ramps at"),
        # a ramp that never gets there: the readiness timeout would be ~1e300 s
        ("temperature_ramp_c_per_min", "1e-300", "to reach"),
        ("speed_ramp_m_min_per_s", "5e-324", "to reach"),
        ("roll_load_ramp_kg_per_s", "1e-12", "to reach"),
    ],
)
def test_a_ramp_the_line_cannot_follow_is_refused(
    tmp_path: Path, field: str, value: str, why: str
) -> None:
    path = tmp_path / "r.toml"
    path.write_text(_recipe_with(field, value), encoding="utf-8")
    result = load_recipe_for(LoadRecipe(by="ana", request_id="l1", path=str(path)), LINE)
    assert isinstance(result, sup.RecipeRefused), result
    assert why in result.reason and field.split("_")[0] in result.reason


def test_the_seed_recipes_ramps_still_plan() -> None:
    from linecontrol.config import RECIPES

    for path in sorted(RECIPES.glob("*.toml")):
        result = load_recipe_for(LoadRecipe(by="ana", request_id="l1", path=str(path)), LINE)
        assert "ramp" not in getattr(result, "reason", ""), (path, result)


def test_a_command_the_supervisor_does_not_take_is_rejected_with_its_reason() -> None:
    r = Run.boot()
    cmd = StartRecording(by="ana", request_id="x1", duration_s=1.0, simulated=True)
    events = r.step(cmd)
    [rejected] = [e for e in events if isinstance(e, CommandRejected)]
    assert rejected.command == cmd and "record" in rejected.reason
    assert not [e for e in r.step(cmd) if isinstance(e, CommandRejected)]  # the same request


def test_leaving_manual_while_the_jog_is_being_written_still_stops_the_web() -> None:
    r = Run.boot()
    r.step(SetMode(by="ana", request_id="m1", mode="manual"))
    r.step(ChangeSetpoint(by="ana", request_id="c1", field="zone_D1-1.temp_sp_c", value=100.0))
    r.step(JogWeb(by="ana", request_id="j1", speed_m_min=0.5))
    in_flight, r.pending = r.pending, []  # the jog's writes not answered yet
    r.step(SetMode(by="ana", request_id="m2", mode="production"))
    r.pending = in_flight
    for _ in range(3):
        r.step()
    assert r.core.machine.mode.wire == "production"
    assert r.plant.values["drive.run_cmd"] == 0.0
    assert r.plant.values["drive.speed_sp_m_min"] == 0.0
    assert r.plant.values["zone_D1-1.temp_sp_c"] == S.standby_temp_c


def test_the_first_out_cause_is_this_stops_not_an_earlier_hold_the_line_came_back_from() -> None:
    r = Run.boot().executing()
    r.step(Hold(by="ana", request_id="h1"))
    r.until("Held")
    assert r.core.machine.first_out == "hold by ana"
    r.step(Unhold(by="ana", request_id="u1"))
    r.until("Execute")
    r.plant.flags["drive.web_break"] = 1
    r.until("Stopped")
    assert r.core.machine.first_out.startswith("web_break"), r.core.machine.first_out
