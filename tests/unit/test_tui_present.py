"""What the TUI shows (linecontrol.tui.present), from a LineView: no terminal."""

from __future__ import annotations

import math
from typing import Any

import pytest

from linecontrol.api import LineView, Sample
from linecontrol.tui import present


def view_of(**over: Any) -> LineView:
    state: dict[str, Any] = {
        "you": {"user": "ana", "role": "operator", "client": "t"},
        "control": {"holder": "ana@t"},
        "line": {
            "name": "L",
            "stations": [{"name": "b"}, {"name": "a"}],
            "channels": {
                "a.x": {"unit": "kg", "station": "a", "writable": True},
                "b.y": {"unit": "°C", "station": "b", "writable": False},
                "drive.speed": {"unit": "m/min", "station": None, "writable": False},
            },
        },
        "supervisor": {"state": "Idle", "mode": "production", "allowed": ["start", "abort"]},
        "bands": {"a.x": {"setpoint": 800, "low": 700, "high": 900, "field": "press.load"}},
        "values": {"a.x": [812.0, "GOOD", 1.0], "b.y": [180.0, "STALE", 1.0]},
        "alarms": [],
    }
    state.update(over)
    view = LineView()
    view.apply({"type": "full", "seq": 1, "state": state}, now=0.0)
    return view


@pytest.mark.parametrize("quality", ["STALE", "INVALID", "WAITING"])
def test_a_value_not_good_is_shown_as_its_quality_never_a_number(quality: str) -> None:
    cell = present.value_cell(Sample(123.4, quality, 1.0), "°C")
    assert cell.text == quality
    assert "123" not in cell.text


def test_a_good_value_is_its_number_and_unit() -> None:
    assert present.value_cell(Sample(123.45, "GOOD", 1.0), "°C").text == "123.5 °C"
    assert present.number(math.nan) == "INVALID"
    assert present.number(0.001) == "0.001"


def test_stations_in_web_order_as_the_server_gives_them() -> None:
    rows = present.station_rows(view_of(), 0.0)
    assert [key for key, _ in rows] == ["b.y", "a.x", "drive.speed"]
    b, a, drive = (cells for _, cells in rows)
    assert (drive[0].text, drive[2].text) == (present.OTHER, "WAITING")
    assert (b[0].text, b[2].text, b[3].text) == ("b", "STALE", "STALE")
    assert (a[2].text, a[4].text) == ("812.0 kg", "800.0 [700.0..900.0]")


def test_commands_enabled_only_allowed_live_with_control_and_a_role() -> None:
    view = view_of()
    assert present.enabled_commands(view, 0.0) == {"start", "abort"}
    assert present.enabled_commands(view, 10.0) == frozenset()  # heartbeat lost
    assert present.command_block(view, 10.0) == "connection lost"
    viewer = view_of(you={"user": "bob", "role": "viewer", "client": "t"})
    assert present.enabled_commands(viewer, 0.0) == frozenset()
    elsewhere = view_of(control={"holder": "bob@x"})
    assert present.enabled_commands(elsewhere, 0.0) == frozenset()
    assert present.command_block(elsewhere, 0.0) == "control held by bob@x"
    nobody = view_of(control={"holder": None})
    assert present.command_block(nobody, 0.0) == "no control: t takes it"
    bar = present.command_bar(view, 0.0)
    assert ("s", "Start", True) in bar and ("h", "Hold", False) in bar


def test_header_says_lost_and_resyncing() -> None:
    view = view_of()
    assert present.header_lines(view, 0.0)[1].text == "connected │ you: ana@t (operator)"
    assert "CONNECTION LOST" in present.header_lines(view, 5.0)[1].text
    view.apply({"type": "heartbeat", "seq": 9}, now=1.0)
    assert "RESYNCING" in present.header_lines(view, 1.0)[1].text
    view.disconnected("refused")
    assert "CONNECTION LOST (values are old): refused" in present.header_lines(view, 1.0)[1].text


def test_alarm_rows_unacknowledged_first() -> None:
    view = view_of(
        alarms=[
            {"name": "a", "state": "ACKED", "priority": "urgent", "value": 1.0, "since": 0.0},
            {"name": "b", "state": "UNACK", "priority": "low", "value": None, "since": 3661.0},
        ]
    )
    rows = present.alarm_rows(view)
    assert [k for k, _ in rows] == ["b", "a"]
    assert [c.text for c in rows[0][1]][:5] == ["UNACK", "low", "b", "—", "01:01:01"]


def test_values_are_stale_while_the_connection_is_lost() -> None:
    view = view_of()
    view.disconnected("refused")
    rows = dict(present.station_rows(view, 0.0))
    assert (rows["a.x"][2].text, rows["a.x"][3].text) == ("STALE", "STALE")
    assert "812" not in " ".join(c.text for c in rows["a.x"])
    later = view_of()
    assert dict(present.station_rows(later, 10.0))["a.x"][2].text == "STALE"  # heartbeat lost
    assert dict(present.station_rows(later, 0.0))["a.x"][2].text == "812.0 kg"


def test_a_channel_with_an_active_alarm_is_marked() -> None:
    alarms = [
        {"name": "hot", "state": "UNACK", "priority": "high", "channel": "b.y"},
        {"name": "calm", "state": "NORM", "priority": "high", "channel": "a.x"},
    ]
    rows = dict(present.station_rows(view_of(alarms=alarms), 0.0))
    assert rows["b.y"][1] == present.Cell("y !", "bold red")
    assert rows["a.x"][1].text == "x ✎"


def test_a_list_the_server_sends_as_another_type_shows_nothing_not_a_crash() -> None:
    """A lying server (a number for waiting_for, interlocks or the stations): the repaint
    shows nothing there; it raised TypeError, which ended the TUI."""
    view = view_of(
        supervisor={"state": "Starting", "waiting_for": 5, "interlocks": 7, "allowed": []},
        line={"name": "L", "stations": 5, "channels": {}},
    )
    assert "waiting for" not in present.line_summary(view)
    assert "interlocks" not in present.line_summary(view)
    assert present.stations(view) == []
