"""An oven that is not yet purged and not curing is expected to hold air: its O2 alarms
stay quiet during the heat-up (a purge that never ends is the readiness timeout's), and
speak as soon as a zone is past the gate."""

from __future__ import annotations

from linecontrol.model import AlarmRaised, Reset, Start
from tests.supervision_plant import Run


def o2_raised(r: Run) -> list[str]:
    return [e.alarm for e in r.of(AlarmRaised) if e.alarm.startswith("o2_")]


def test_o2_alarms_are_quiet_while_the_oven_is_still_being_purged() -> None:
    r = Run.boot().loaded()
    r.plant.follow = False  # nothing heats, and the oven's O2 stays at air
    r.step(Reset(by="ana", request_id="r1"))
    r.until("Idle")
    r.step(Start(by="ana", request_id="s1"))
    for _ in range(40):
        r.step()
    assert r.state == "Starting" and r.core.step_name == "heat"
    assert o2_raised(r) == []


def test_o2_alarms_speak_once_a_cure_zone_is_past_the_gate() -> None:
    r = Run.boot().executing()  # purged, cure zones hot
    r.plant.follow = False
    r.plant.values["o2_cure.o2_ppm"] = 5000.0
    for _ in range(5):
        r.step()
    assert "o2_cure_trip" in o2_raised(r)
