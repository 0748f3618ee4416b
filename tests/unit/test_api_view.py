"""The client's mirror of the line (linecontrol.api.view): messages folded in, pure."""

from __future__ import annotations

import math
from typing import Any

import pytest

from linecontrol.api.view import HEARTBEAT_LOST_S, MAX_EVENTS, LineView, Sample, sample_from_wire


def full_state(**over: Any) -> dict[str, Any]:
    state: dict[str, Any] = {
        "api": 1,
        "server_time": 1000.0,
        "mode": "live",
        "you": {"user": "ana", "role": "operator", "client": "tui-1"},
        "control": {"holder": None},
        "line": {"name": "demo", "stations": [], "channels": {}},
        "supervisor": {"state": "Stopped", "mode": "production", "allowed": ["reset"]},
        "bands": {},
        "values": {"oven.zone1_temp_c": [180.0, "GOOD", 999.5]},
        "alarms": [{"name": "zone1_high", "state": "NORM", "priority": "high"}],
        "run": {"id": "r1"},
        "seq": 1,
    }
    state.update(over)
    return state


def full(seq: int = 1, **over: Any) -> dict[str, Any]:
    return {"type": "full", "seq": seq, "state": full_state(**over)}


def started(**over: Any) -> LineView:
    view = LineView()
    view.apply(full(**over), now=10.0)
    return view


def test_full_state_is_mirrored() -> None:
    view = started()
    assert view.connection(10.0) == "live"
    assert view.seq == 1
    assert view.sample("oven.zone1_temp_c") == Sample(180.0, "GOOD", 999.5)
    assert view.supervisor["state"] == "Stopped"
    assert view.allowed == frozenset({"reset"})
    assert view.alarms["zone1_high"]["state"] == "NORM"
    assert view.control == {"holder": None}


def test_connecting_until_the_first_full_and_changes_before_it_ignored() -> None:
    view = LineView()
    assert view.connection(0.0) == "connecting"
    view.apply({"type": "values", "seq": 3, "values": {"a.b": [1.0, "GOOD", 1.0]}}, now=1.0)
    assert view.connection(1.0) == "connecting"
    assert view.values == {}
    assert not view.needs_resync


def test_values_latest_wins_per_channel() -> None:
    view = started()
    view.apply({"type": "values", "seq": 2, "t": 1, "values": {"a.b": [1.0, "GOOD", 1.0]}}, 10.1)
    view.apply({"type": "values", "seq": 3, "t": 2, "values": {"a.b": [2.0, "GOOD", 2.0]}}, 10.2)
    assert view.sample("a.b").value == 2.0
    # a channel not in the message keeps its last value
    assert view.sample("oven.zone1_temp_c").value == 180.0


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ([None, "STALE", 5.0], Sample(None, "STALE", 5.0)),
        ([None, "GOOD", 5.0], Sample(None, "INVALID", 5.0)),
        ([math.nan, "GOOD", 5.0], Sample(None, "INVALID", 5.0)),
        ([math.inf, "GOOD", 5.0], Sample(None, "INVALID", 5.0)),
        ([-math.inf, "STALE", 5.0], Sample(None, "STALE", 5.0)),
        ([3.0, "STALE", 5.0], Sample(3.0, "STALE", 5.0)),
        ([3.0, "INVALID", 5.0], Sample(3.0, "INVALID", 5.0)),
        ([None, "WAITING", None], Sample(None, "WAITING", None)),
        ([True, "GOOD", 5.0], Sample(None, "INVALID", 5.0)),
        (["12", "GOOD", 5.0], Sample(None, "INVALID", 5.0)),
        ([1.0, "SHINY", 5.0], Sample(1.0, "INVALID", 5.0)),
        ([1.0, "GOOD", math.nan], Sample(1.0, "GOOD", None)),
        ("garbage", Sample(None, "INVALID", None)),
        ([1.0, "GOOD"], Sample(None, "INVALID", None)),
    ],
)
def test_a_value_that_is_no_number_is_never_good(raw: Any, expected: Sample) -> None:
    assert sample_from_wire(raw) == expected
    assert not (expected.value is None and expected.good)


def test_non_finite_and_null_values_keep_their_quality_in_the_view() -> None:
    view = started(values={"a.x": [None, "STALE", 1.0], "a.y": [math.nan, "GOOD", 1.0]})
    assert view.sample("a.x") == Sample(None, "STALE", 1.0)
    assert view.sample("a.y") == Sample(None, "INVALID", 1.0)
    view.apply({"type": "values", "seq": 2, "values": {"a.x": [None, "INVALID", 2.0]}}, 10.1)
    assert view.sample("a.x") == Sample(None, "INVALID", 2.0)
    assert not view.sample("a.x").good


def test_a_channel_never_heard_is_waiting() -> None:
    assert started().sample("nobody.home") == Sample(None, "WAITING", None)


def test_a_seq_gap_needs_a_resync_and_changes_after_it_are_not_applied() -> None:
    view = started()
    view.apply({"type": "values", "seq": 3, "values": {"a.b": [1.0, "GOOD", 1.0]}}, 10.1)
    assert view.needs_resync
    assert "expected 2, got 3" in view.resync_reason
    assert view.connection(10.1) == "resyncing"
    assert "a.b" not in view.values
    assert view.allowed == frozenset()
    view.apply({"type": "values", "seq": 4, "values": {"a.b": [2.0, "GOOD", 1.0]}}, 10.2)
    assert "a.b" not in view.values
    assert view.resyncs == 1


def test_a_repeated_seq_is_a_gap_too() -> None:
    view = started()
    view.apply({"type": "heartbeat", "seq": 1, "t": 1.0}, 10.1)
    assert view.needs_resync


def test_a_fresh_full_ends_the_resync() -> None:
    view = started()
    view.apply({"type": "heartbeat", "seq": 5, "t": 1.0}, 10.1)
    assert view.needs_resync
    view.apply(full(seq=1, values={"a.b": [7.0, "GOOD", 1.0]}), now=10.5)
    assert not view.needs_resync
    assert view.connection(10.5) == "live"
    assert view.values == {"a.b": Sample(7.0, "GOOD", 1.0)}
    view.apply({"type": "heartbeat", "seq": 2, "t": 1.0}, 10.6)
    assert not view.needs_resync


def test_the_servers_resync_message_holds_changes_until_its_full() -> None:
    view = started()
    view.apply({"type": "resync", "seq": 2, "reason": "queue full"}, 10.1)
    assert view.needs_resync
    assert view.resync_reason == "server: queue full"
    assert view.connection(10.1) == "resyncing"
    view.apply({"type": "full", "seq": 3, "state": full_state(supervisor={"state": "Idle"})}, 10.2)
    assert not view.needs_resync
    assert view.supervisor == {"state": "Idle"}
    view.apply({"type": "heartbeat", "seq": 4, "t": 1.0}, 10.3)
    assert not view.needs_resync


def test_status_replaces_supervisor_and_control() -> None:
    view = started()
    status = {"state": "Execute", "allowed": ["hold", "stop"], "line_speed": 12.0}
    view.apply(
        {"type": "status", "seq": 2, "supervisor": status, "control": {"holder": "ana@t"}}, 10.1
    )
    assert view.supervisor == status
    assert view.allowed == frozenset({"hold", "stop"})
    assert view.control == {"holder": "ana@t"}


def event(seq: int, kind: str, t_wall: float = 1.0, **data: Any) -> dict[str, Any]:
    envelope = {"seq": seq * 10, "t_mono": 0.0, "t_wall": t_wall, "type": kind, "v": 1}
    return {"type": "event", "seq": seq, "event": {**envelope, "data": data}}


def test_events_are_appended_in_order() -> None:
    view = started()
    view.apply(event(2, "StateChanged", old="Stopped", new="Resetting"), 10.1)
    view.apply(event(3, "StateChanged", old="Resetting", new="Idle"), 10.2)
    view.apply(event(4, "CommandRejected", reason="no"), 10.3)
    assert [e["type"] for e in view.events] == ["StateChanged", "StateChanged", "CommandRejected"]
    assert [e["data"].get("new") for e in view.events][:2] == ["Resetting", "Idle"]


def test_only_the_newest_events_are_kept() -> None:
    view = started()
    for seq in range(2, MAX_EVENTS + 12):
        view.apply(event(seq, "SequenceStepped", step=str(seq)), 10.0)
    assert len(view.events) == MAX_EVENTS
    assert view.events[-1]["data"]["step"] == str(MAX_EVENTS + 11)


def test_alarm_transitions_update_the_alarm() -> None:
    view = started()
    raised = dict(alarm="zone1_high", alarm_class="process", old="NORM", new="UNACK")
    view.apply(event(2, "AlarmRaised", t_wall=50.0, value=231.0, priority="high", **raised), 10.1)
    entry = view.alarms["zone1_high"]
    assert (entry["state"], entry["value"], entry["since"]) == ("UNACK", 231.0, 50.0)
    acked = dict(alarm="zone1_high", alarm_class="process", old="UNACK", new="ACKED")
    view.apply(event(3, "AlarmChanged", t_wall=60.0, value=None, priority="high", **acked), 10.2)
    assert view.alarms["zone1_high"]["state"] == "ACKED"
    assert view.alarms["zone1_high"]["since"] == 50.0
    # an alarm first heard in an event
    new = dict(alarm="o2_high", alarm_class="process", old="NORM", new="UNACK")
    view.apply(event(4, "AlarmRaised", t_wall=70.0, value=math.nan, priority="low", **new), 10.3)
    assert view.alarms["o2_high"]["value"] is None
    assert view.alarms["o2_high"]["class"] == "process"


def test_active_alarms_unacknowledged_first_then_priority() -> None:
    alarms = [
        {"name": "a", "state": "ACKED", "priority": "urgent", "since": 1.0},
        {"name": "b", "state": "UNACK", "priority": "low", "since": 2.0},
        {"name": "c", "state": "NORM", "priority": "urgent", "since": 0.0},
        {"name": "d", "state": "UNACK", "priority": "high", "since": 3.0},
        {"name": "e", "state": "RTNUN", "priority": "high", "since": 1.0},
        {"name": "f", "state": "LATCHED_UNACK", "priority": "medium", "since": 1.0},
        {"name": "g", "state": "DSUPR", "priority": "urgent", "since": 0.0},
        {"name": "h", "state": "SHLVD", "priority": "low", "since": 0.0},
    ]
    view = started(alarms=alarms)
    assert [a["name"] for a in view.active_alarms()] == ["e", "d", "f", "b", "a", "h"]
    assert view.suppressed_alarms() == 1


def test_heartbeat_lost_after_three_seconds_of_nothing() -> None:
    view = started()
    view.apply({"type": "heartbeat", "seq": 2, "t": 1.0}, now=20.0)
    assert view.connection(20.0 + HEARTBEAT_LOST_S) == "live"
    assert view.connection(20.0 + HEARTBEAT_LOST_S + 0.01) == "lost"
    view.apply({"type": "heartbeat", "seq": 3, "t": 2.0}, now=24.0)
    assert view.connection(24.0) == "live"
    assert HEARTBEAT_LOST_S == 3.0


def test_heartbeat_lost_before_the_first_full_too() -> None:
    view = LineView()
    view.apply({"type": "heartbeat", "seq": 1, "t": 1.0}, now=0.0)
    assert view.connection(3.5) == "lost"


def test_a_closed_stream_is_lost_at_once_and_the_next_full_restores() -> None:
    view = started()
    view.disconnected("connection refused")
    assert view.connection(10.0) == "lost"
    assert view.allowed == frozenset()
    view.apply({"type": "values", "seq": 1, "values": {"a.b": [1.0, "GOOD", 1.0]}}, 11.0)
    assert "a.b" not in view.values
    view.apply(full(seq=1), now=11.1)
    assert view.connection(11.1) == "live"


@pytest.mark.parametrize(
    "message",
    [
        "text",
        [1, 2],
        {"seq": 2},
        {"type": "values"},
        {"type": "values", "seq": "2"},
        {"type": "values", "seq": True},
        {"type": "full", "seq": 2, "state": "nope"},
    ],
)
def test_a_malformed_message_needs_a_resync(message: Any) -> None:
    view = started()
    view.apply(message, 10.1)
    assert view.needs_resync
    assert "malformed" in view.resync_reason


def test_unknown_message_types_are_counted_and_ignored() -> None:
    view = started()
    view.apply({"type": "from_the_future", "seq": 2}, 10.1)
    view.apply({"type": "heartbeat", "seq": 3}, 10.2)
    assert not view.needs_resync
    assert view.seq == 3


def test_changed_counter_moves_with_what_is_shown() -> None:
    view = started()
    before = view.changed
    view.apply({"type": "heartbeat", "seq": 2, "t": 1.0}, 10.1)
    assert view.changed == before
    view.apply({"type": "values", "seq": 3, "values": {"a.b": [1.0, "GOOD", 1.0]}}, 10.2)
    assert view.changed > before


def test_the_close_for_a_new_recipes_bands_is_a_resync_not_a_loss() -> None:
    """A RecipeLoaded makes the view ask a fresh full state; the client closes the
    stream for it, and the header said CONNECTION LOST at every recipe load. That close
    is shown resyncing; a fresh stream that fails after it is a loss."""
    view = started()
    loaded = {"seq": 9, "type": "RecipeLoaded", "data": {"recipe": "b"}}
    view.apply({"type": "event", "seq": 2, "event": loaded}, now=11.0)
    assert view.connection(11.0) == "resyncing" and view.allowed == frozenset()
    view.disconnected(view.resync_reason)
    assert view.connection(11.1) == "resyncing"
    assert "recipe was loaded" in view.resync_reason
    assert view.connection(11.0 + HEARTBEAT_LOST_S + 0.01) == "lost"  # nothing came since
    view.disconnected("cannot reach the server: refused")
    assert view.connection(11.2) == "lost" and "refused" in view.closed_reason
    view.apply({"type": "full", "seq": 1, "state": {"values": {}}}, now=12.0)
    assert view.connection(12.0) == "live"
    view.disconnected("closed")  # a close after that full is a loss again
    assert view.connection(12.1) == "lost"


def test_an_int_past_a_floats_range_is_no_value_never_an_overflow() -> None:
    """The view is pure and takes any decoded JSON: an int of 400 digits (valid JSON,
    and what json.loads gives by default) raised OverflowError out of apply (math.isfinite
    of it) in a value, an alarm's value and the clock."""
    huge = 10**400
    view = LineView()
    state = {"values": {"a.b": [huge, "GOOD", huge]}, "server_time": huge}
    view.apply({"type": "full", "seq": 1, "state": state}, now=1.0)
    assert view.sample("a.b") == Sample(None, "INVALID", None)
    assert view.server_time is None
    raised = {"type": "AlarmRaised", "t_wall": huge, "data": {"alarm": "x", "value": huge}}
    view.apply({"type": "event", "seq": 2, "event": raised}, now=1.1)
    view.apply({"type": "heartbeat", "seq": 3, "t": huge}, now=1.2)
    assert view.alarms["x"]["value"] is None and view.server_time is None
    assert [a["name"] for a in view.active_alarms()] == ["x"]
    assert view.connection(1.2) == "live"
