"""The line state a replay rebuilds from the run log's events (pure): PackML state and
its number, mode, recipe, step, interlocks; each alarm's label, flags, value and since;
the operator actions; nothing allowed."""

from __future__ import annotations

from linecontrol.model import (
    AlarmChanged,
    AlarmRaised,
    Event,
    InterlockCleared,
    InterlockTripped,
    LoggedEvent,
    RecipeLoaded,
    SequenceStepped,
    StateChanged,
)
from linecontrol.server.replay_state import ReplayState


def logged(seq: int, event: Event) -> LoggedEvent:
    return LoggedEvent(seq=seq, t_mono=float(seq), t_wall=1000.0 + seq, event=event)


def alarm(cls: type[AlarmRaised | AlarmChanged], old: str, new: str, value: float | None) -> Event:
    return cls(alarm="a1", alarm_class="process", old=old, new=new, value=value,  # type: ignore[arg-type]
               priority="high", consequence="hold", cause="condition")  # fmt: skip


def test_the_state_follows_the_events_in_order() -> None:
    st = ReplayState()
    st.apply_all([
        logged(1, StateChanged(old="Undefined", new="Stopped", mode="production", cause="boot")),
        logged(2, RecipeLoaded(recipe="001-ex1", path="p", sha256="0" * 64)),
        logged(3, StateChanged(old="Stopped", new="Execute", mode="production", cause="start")),
        logged(4, SequenceStepped(state="Execute", step="run")),
        logged(5, InterlockTripped(interlock="web_break", detail="d", action="hold")),
        logged(6, alarm(AlarmRaised, "NORM", "UNACK", 55.0)),
        logged(7, alarm(AlarmChanged, "UNACK", "ACKED", None)),
        logged(8, InterlockCleared(interlock="web_break", detail="d")),
    ])  # fmt: skip
    status = st.status(12.5, float("nan"))
    assert status["state"] == "Execute" and status["state_number"] == 6
    assert status["recipe"] == "001-ex1" and status["step"] == "run"
    assert status["interlocks"] == [] and status["allowed"] == []
    assert status["web_position_m"] == 12.5 and status["line_speed"] is None
    (a,) = st.alarm_list()
    assert (a["state"], a["active"], a["acked"], a["value"], a["since"]) == (
        "ACKED",
        True,
        True,
        None,
        1007.0,
    )
    assert st.last_seq == 8


def test_an_alarm_back_to_normal_unacknowledged_is_inactive_and_unacked() -> None:
    st = ReplayState()
    st.apply(logged(1, alarm(AlarmRaised, "NORM", "UNACK", 60.0)))
    st.apply(logged(2, alarm(AlarmChanged, "UNACK", "RTNUN", 40.0)))
    (a,) = st.alarm_list()
    assert (a["state"], a["active"], a["acked"], a["latched"]) == ("RTNUN", False, False, False)
