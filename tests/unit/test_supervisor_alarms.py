"""The alarm engine inside the supervisor core: the line config's alarms run at every
step, what they demand trips the machine, operator alarm commands go through the core,
equipment the recipe does not use raises nothing, and a channel not polled yet is no
communication loss during the start-up grace."""

from __future__ import annotations

import numpy as np

from linecontrol.config import AlarmDefinition
from linecontrol.model import (
    AcknowledgeAlarm,
    AlarmChanged,
    AlarmRaised,
    CommandGiven,
    CommandRejected,
    Quality,
    Reset,
    ResetAlarm,
    Sample,
    Start,
    StateChanged,
    Stop,
)
from linecontrol.supervisor import core as sup
from tests.supervision_plant import LINE, Plant, Run


def raised(r: Run) -> list[str]:
    return [e.alarm for e in r.of(AlarmRaised)]


def label(r: Run, alarm: str) -> str:
    return r.core.alarms[alarm].label


def test_an_alarm_that_demands_a_hold_holds_the_line_with_its_id_as_first_out() -> None:
    # An alarm no interlock duplicates: coater 1's flow far above its recipe value.
    extra = AlarmDefinition.model_validate(
        {"channel": "coater_1.flow_pv_ml_min", "kind": "high", "limit": 20.0,
         "priority": "high", "consequence": "hold", "guidance": "flow far too high"}
    )  # fmt: skip
    line = LINE.model_copy(update={"alarms": {**LINE.alarms, "coat_flow_high": extra}})
    core, _ = sup.boot(line, 0.0)
    r = Run(Plant(line), core).executing()
    r.plant.follow = False
    r.plant.values["coater_1.flow_pv_ml_min"] = 30.0
    for _ in range(5):
        r.step()
    assert "coat_flow_high" in raised(r)
    assert r.state in ("Holding", "Held")
    assert r.core.machine.first_out == "alarm: coat_flow_high"


def test_acknowledge_goes_through_the_core_and_is_logged_with_who() -> None:
    r = Run.boot().executing()
    r.plant.bad.add("coater_1.flow_pv_ml_min")  # the coater's values STALE: its comm alarm
    for _ in range(30):
        r.step()
    assert "comm_coater_1" in raised(r)
    ack = AcknowledgeAlarm(by="ana", request_id="a1", alarm="comm_coater_1")
    r.step(ack, ack)  # the same request twice acts once
    given = [e for e in r.of(CommandGiven) if e.command.request_id == "a1"]
    assert len(given) == 1 and given[0].command.by == "ana"
    acked = [e for e in r.of(AlarmChanged) if e.alarm == "comm_coater_1" and e.cause == ack.name]
    assert len(acked) == 1 and acked[0].by == "ana"
    r.step(AcknowledgeAlarm(by="ana", request_id="a2", alarm="comm_coater_1"))
    rejected = [e for e in r.of(CommandRejected) if e.command.request_id == "a2"]
    assert len(rejected) == 1 and "nothing to acknowledge" in rejected[0].reason


def test_equipment_the_recipe_does_not_use_raises_nothing_that_stops_it() -> None:
    # 001 Ex. 1 uses no sputter station: its instruments going silent hold nothing.
    r = Run.boot().executing()
    r.plant.bad |= {n for n in r.plant.names if n.startswith(("sputter_psu.", "sputter_gauge."))}
    for _ in range(30):
        r.step()
    assert r.state == "Execute"
    assert "comm_sputter_psu" not in raised(r)


class WaitingPlant(Plant):
    """Nothing polled yet: every channel WAITING."""

    def sample(self, now: float) -> Sample:
        s = super().sample(now)
        codes = np.full_like(s.quality_codes, Quality.WAITING)
        return Sample(s.t_mono, s.index, s.values, codes, s.web_position_m)


def test_channels_not_polled_yet_are_no_loss_during_the_grace() -> None:
    core, _ = sup.boot(LINE, 0.0, alarms_from=100.0)
    r = Run(WaitingPlant(LINE), core)
    r.dt = 10.0
    while r.now < 90.0:
        r.step()
    assert not raised(r)
    while r.now < 130.0:  # past the grace and the alarms' on-delay
        r.step()
    assert "comm_drive" in raised(r) and "comm_zone_C01" in raised(r)


def test_a_latched_alarm_that_demands_a_stop_keeps_the_line_from_starting() -> None:
    r = Run.boot().loaded()
    r.plant.flags["drive.web_break"] = 1  # the web_break alarm: consequence stop, latching
    for _ in range(3):
        r.step()
    r.plant.flags["drive.web_break"] = 0
    assert "web_break" in raised(r)
    r.step(Reset(by="ana", request_id="r1"))
    for _ in range(3):
        r.step()
    r.step(Start(by="ana", request_id="s1"))
    for _ in range(3):
        r.step()
    assert "Starting" not in [e.new for e in r.of(StateChanged)]
    assert r.state == "Stopped"  # Reset was taken, the latched alarm stopped it again
    r.step(AcknowledgeAlarm(by="ana", request_id="k1", alarm="web_break"))
    r.step(ResetAlarm(by="ana", request_id="k2", alarm="web_break"))
    r.step(Reset(by="ana", request_id="r2"))
    r.until("Idle")
    r.step(Start(by="ana", request_id="s2"))
    assert r.state == "Starting"


def test_a_latched_o2_trip_survives_a_stop_and_blocks_the_restart_until_reset() -> None:
    # o2_cure_trip: hold, latching, suppressed by design in Stopped, Idle, Resetting...
    r = Run.boot().executing()
    r.plant.pinned["o2_cure.o2_ppm"] = 5_000.0  # the purge lost: air in the cure oven
    for _ in range(4):
        r.step()
    assert "o2_cure_trip" in raised(r)
    assert r.state in ("Holding", "Held")
    del r.plant.pinned["o2_cure.o2_ppm"]  # the purge back: O2 at 20 ppm, the trip clears
    r.step()
    assert label(r, "o2_cure_trip") == "LATCHED_UNACK"
    r.step(Stop(by="ana", request_id="x1"))
    r.until("Stopped")
    for _ in range(3):
        r.step()
    # suppressed by design in Stopped, the latch still shows and demands its hold
    assert label(r, "o2_cure_trip") == "LATCHED_UNACK"
    r.step(Reset(by="ana", request_id="r2"))
    for _ in range(5):
        r.step()
    assert r.state == "Stopped"  # the latch stopped the reset again
    r.step(Start(by="ana", request_id="s2"))
    rejected = [e for e in r.of(CommandRejected) if e.command.request_id == "s2"]
    assert rejected and "alarm:o2_cure_trip" in rejected[0].reason
    n = len(r.of(StateChanged))
    for _ in range(3):
        r.step()
    assert "Starting" not in [e.new for e in r.of(StateChanged)[n:]]
    r.step(AcknowledgeAlarm(by="ana", request_id="k1", alarm="o2_cure_trip"))
    assert label(r, "o2_cure_trip") == "LATCHED_ACK"
    r.step(ResetAlarm(by="ana", request_id="k2", alarm="o2_cure_trip"))
    assert label(r, "o2_cure_trip") == "DSUPR"
    r.step(Reset(by="ana", request_id="r3"))
    r.until("Idle")
    r.step(Start(by="ana", request_id="s3"))
    assert r.state == "Starting"


def test_o2_above_the_recipes_limit_during_cure_alarms_at_that_limit() -> None:
    """``o2_cure_high`` follows the loaded recipe's cure-oven O2 limit (here 100 ppm, the
    line config's fallback being 50): 70 ppm raises nothing, 110 ppm raises it."""
    from linecontrol.config import Recipe as RecipeModel
    from linecontrol.config import load_model_bytes
    from linecontrol.model import LoadRecipe
    from linecontrol.supervisor.plan import build_plan
    from tests.supervision_plant import RECIPE

    text = RECIPE.read_text(encoding="utf-8")
    cure = text.index('station = "cure_oven"')
    head, tail = text[:cure], text[cure:]
    assert "o2_limit_ppm = 50.0" in tail
    text = head + tail.replace("o2_limit_ppm = 50.0", "o2_limit_ppm = 100.0", 1)
    recipe = load_model_bytes("loose-o2.toml", text.encode(), RecipeModel)
    plan = build_plan(recipe, LINE, source_text=text)
    r = Run.boot()
    r.step(sup.RecipeReady(LoadRecipe(by="ana", request_id="l", path="loose-o2.toml"), plan))
    r.step(Reset(by="ana", request_id="r1"))
    r.until("Idle")
    r.step(Start(by="ana", request_id="s1"))
    r.until("Execute")
    labels = []
    for o2 in (70.0, 110.0):
        r.plant.pinned["o2_cure.o2_ppm"] = o2
        for _ in range(3):
            r.step()
        labels.append(r.core.alarms["o2_cure_high"].label)
    assert labels == ["NORM", "UNACK"]
