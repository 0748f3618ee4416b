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


@pytest.mark.parametrize("quality", ["INVALID", "WAITING"])
def test_a_value_not_good_is_shown_as_its_quality_never_a_number(quality: str) -> None:
    cell = present.value_cell(Sample(123.4, quality, 1.0), "°C")
    assert cell.text == quality
    assert "123" not in cell.text


def test_a_good_value_is_its_number_and_unit() -> None:
    assert present.value_cell(Sample(123.45, "GOOD", 1.0), "°C").text == "123.5 °C"
    assert present.number(math.nan) == "INVALID"
    assert present.number(0.001) == "0.001"


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
    rows = present.alarm_rows(view, 0.0)
    assert [k for k, _ in rows] == ["b", "a"]
    assert [c.text for c in rows[0][1]][:5] == ["UNACK", "low", "b", "—", "01:01:01"]


def test_a_list_the_server_sends_as_another_type_shows_nothing_not_a_crash() -> None:
    """A lying server (a number for waiting_for, interlocks or the stations): the repaint
    shows nothing there; it raised TypeError, which ended the TUI."""
    view = view_of(
        supervisor={"state": "Starting", "waiting_for": 5, "interlocks": 7, "allowed": []},
        line={"name": "L", "stations": 5, "channels": {}},
    )
    assert "waiting for" not in present.line_summary(view, 0.0)
    assert "interlocks" not in present.line_summary(view, 0.0)
    assert present.stations(view) == []


# ------------------------------------------------------------------ issue 10 review fixes
def lost(view: LineView) -> LineView:
    view.disconnected("refused")
    return view


def test_a_long_holder_is_cut_never_the_state_mode_or_connection() -> None:
    holder = "someone-with-a-very-long-name@a-client-with-an-even-longer-name-than-that"
    view = view_of(control={"holder": holder})
    for width in (80, 60):
        first, second = present.header_lines(view, 0.0, width)
        assert len(first.text) <= width and len(second.text) <= width
        assert first.text.startswith("L │ Idle │ production │ control: some")
        assert first.text.endswith("…")
        assert second.text.startswith("connected")
    first, second = present.header_lines(lost(view), 0.0, 60)
    assert second.text.startswith("CONNECTION LOST") and len(second.text) <= 60


def test_the_summary_header_and_alarms_are_not_shown_as_live_once_lost() -> None:
    supervisor = {
        "state": "Execute",
        "mode": "production",
        "allowed": [],
        "line_speed": 12.0,
        "web_position_m": 340.5,
        "metres_done": 340.5,
        "metres_to_go": 659.5,
        "waiting_for": ["the oven"],
        "step": "run",
    }
    alarms = [{"name": "hot", "state": "UNACK", "priority": "high", "value": 231.0}]
    view = view_of(supervisor=supervisor, alarms=alarms)
    assert "speed 12.0 m/min" in present.line_summary(view, 0.0)
    assert "waiting for 1 (5: all)  first: the oven" in present.line_summary(view, 0.0)
    assert dict(present.alarm_rows(view, 0.0))["hot"][3].text == "231.0"
    for now, word in ((10.0, "LOST"), (0.0, "LOST")):
        old = lost(view_of(supervisor=supervisor, alarms=alarms)) if now == 0.0 else view
        summary = present.line_summary(old, now)
        assert not any(n in summary for n in ("12.0", "340.5", "659.5", "the oven"))
        assert f"speed {word}" in summary and "to go LOST" in summary
        first = present.header_lines(old, now)[0]
        assert "Execute? │ production?" in first.text and first.style == "dim"
        row = dict(present.alarm_rows(old, now))["hot"]
        assert (row[0].text, row[3].text) == ("UNACK?", "LOST")
    resyncing = view_of(supervisor=supervisor, alarms=alarms)
    resyncing.apply({"type": "heartbeat", "seq": 9}, now=1.0)  # a gap
    assert "speed RESYNCING" in present.line_summary(resyncing, 1.0)
    assert "RESYNCING" in present.header_lines(resyncing, 1.0)[1].text


def test_run_counters_follow_the_stream_and_duration_the_line_clock() -> None:
    run = {"id": "r1", "started": 900.0, "bytes": 10, "events": 5, "operator_actions": 1}
    view = view_of(run=run, server_time=1000.0)
    lines = present.run_lines(view)
    assert "duration  100 s line time" in lines and "events    5" in lines
    assert "operator actions 1" in lines
    view.apply({"type": "heartbeat", "seq": 2, "t": 1060.0}, now=0.5)
    given = {"command": "start", "by": "ana@t"}
    view.apply(
        {"type": "event", "seq": 3, "event": {"seq": 6, "type": "CommandGiven", "data": given}},
        now=0.6,
    )
    view.apply(
        {"type": "event", "seq": 4, "event": {"seq": 7, "type": "StateChanged", "data": {}}},
        now=0.7,
    )
    lines = present.run_lines(view)
    assert "duration  160 s line time" in lines
    assert "events    7" in lines and "operator actions 2" in lines
    # a fresh full state counts from its own numbers, the old events not again
    again = {**run, "events": 7, "operator_actions": 2}
    assert view.state is not None
    view.apply({"type": "full", "seq": 1, "state": {**view.state, "run": again}}, now=1.0)
    assert "operator actions 2" in present.run_lines(view)


def loop_view(**over: Any) -> LineView:
    bands = {
        "z.temp_c": {
            "field": "oven.z.setpoint_c",
            "setpoint": 180.0,
            "low": 170.0,
            "high": 190.0,
            "sets": "z.setpoint_c",
            "limits": [0.0, 250.0],
        },
        "d.speed": {"field": "speed", "setpoint": 12.0, "low": None, "high": None},
    }
    return view_of(bands=bands, run={"events": 5}, **over)


def test_both_rows_of_a_loop_lead_to_one_band_whose_setpoint_follows_the_stream() -> None:
    view = loop_view()
    assert present.band_of(view, "z.temp_c") is present.band_of(view, "z.setpoint_c")
    assert present.band_text(view, "z.setpoint_c") == "180.0 [170.0..190.0]"
    assert "0.00..250.0" in present.band_detail(view, "z.temp_c")
    assert present.band_text(view, "d.speed") == "12.0 [no band]"
    assert "[?..?]" not in present.band_text(view, "d.speed")
    change = {"command": "change_setpoint", "field": "oven.z.setpoint_c", "value": 185.0}
    other = {"command": "change_setpoint", "field": "speed", "value": 14.0}
    for i, data in enumerate((change, other)):
        envelope = {"seq": 6 + i, "type": "CommandGiven", "data": data}
        view.apply({"type": "event", "seq": 2 + i, "event": envelope}, now=0.0)
    assert present.band_text(view, "z.temp_c") == "185.0 [170.0..190.0]"
    assert present.band_text(view, "d.speed") == "14.0 [no band]"
    loaded = {"seq": 8, "type": "RecipeLoaded", "data": {"recipe": "b"}}
    view.apply({"type": "event", "seq": 4, "event": loaded}, now=0.0)
    assert present.band_text(view, "z.temp_c").startswith("?")


def test_the_station_screen_opens_on_the_first_station_with_channels() -> None:
    line = {
        "name": "L",
        "stations": [{"name": "unwind"}, {"name": "oven"}],
        "channels": {"z.t": {"station": "oven"}},
    }
    assert present.first_station(view_of(line=line)) == "oven"
    empty = {"name": "L", "stations": [{"name": "unwind"}], "channels": {}}
    assert present.first_station(view_of(line=empty)) == "unwind"
    assert present.first_station(view_of(line={"stations": []})) is None


def test_times_are_labelled_as_the_line_clock() -> None:
    lines = present.run_lines(view_of(run={"id": "r", "started": 900.0}, server_time=960.0))
    assert "started   00:15:00 UTC, line time" in lines
    assert "duration  60 s line time" in lines
    assert "line time" in present.EVENTS_TITLE


def test_fields_of_the_wrong_type_show_as_unknown_never_a_repr() -> None:
    alarms = [
        {
            "name": "a",
            "state": {"x": 1},
            "priority": ["high"],
            "value": "231",
            "since": "noon",
            "guidance": {"do": "this"},
            "shelved_until": [1],
        }
    ]
    supervisor = {"state": ["Idle"], "mode": 3, "recipe": {"r": 1}, "step": [1], "allowed": []}
    run = {"id": {"a": 1}, "started": "x", "dir": [1], "bytes": "9", "events": None}
    view = view_of(alarms=alarms, supervisor=supervisor, run=run)
    shown = [c.text for c in dict(present.alarm_rows(view, 0.0))["a"]]
    shown += [c.text for c in present.header_lines(view, 0.0)]
    shown += [present.line_summary(view, 0.0), *present.run_lines(view)]
    event = {"type": ["X"], "t_wall": "now", "data": {"command": {"c": 1}, "reason": {"r": 2}}}
    shown.append(present.event_line(event))
    joined = "\n".join(shown)
    for repr_bit in ("{", "}", "[", "'"):
        assert repr_bit not in joined, joined
    assert "? │ 3 │" in present.header_lines(view, 0.0)[0].text


def test_a_recipe_loaded_since_the_full_state_needs_a_fresh_one_for_its_bands() -> None:
    view = loop_view()
    loaded = {"seq": 6, "type": "RecipeLoaded", "data": {"recipe": "b"}}
    view.apply({"type": "event", "seq": 2, "event": loaded}, now=0.0)
    assert view.needs_resync and "recipe was loaded" in view.resync_reason
    assert present.band_text(view, "z.temp_c").startswith("?")  # until the fresh full


def test_the_trend_scale_names_min_max_unit_and_line_time_span() -> None:
    view = view_of()
    points = [(100.0, 805.0), (110.0, 812.5), (160.0, 800.0)]
    scale = present.trend_scale(view, "a.x", points, 0.0)
    assert scale == "trend a.x: min 800.0 max 812.5 kg, last 60 s line time"
    assert present.trend_scale(view, "a.x", [], 0.0) == "trend a.x: no GOOD value yet"
    assert "(connection lost: stopped)" in present.trend_scale(lost(view), "a.x", points, 0.0)


def test_a_recipes_derived_values_show_joined_never_a_repr() -> None:
    recipe = {"derived": {"speed": 1.5, "zones": [180, 190], "steps": [{"a": 1}], "x": {"b": 2}}}
    assert present.recipe_detail(recipe) == "speed=1.50, zones=180/190, steps=…, x=…"
    assert present.recipe_detail({"violations": ["too hot", 5]}) == "too hot; 5"


def test_run_counters_after_the_server_restarted_are_the_new_runs_own() -> None:
    """A server restarted (a new run: its events numbered from 1 again) must not have the
    old run's events counted in the new one (since_full took every event kept whose seq
    was above the new full's count: 'events 12', 'operator actions 2' for a run of 1
    event and no action)."""
    run = {"id": "r1", "started": 900.0, "bytes": 10, "events": 10, "operator_actions": 0}
    view = view_of(run=run)
    for seq, n in ((2, 11), (3, 12)):
        given = {"command": "start", "by": "ana@t"}
        event = {"seq": n, "type": "CommandGiven", "data": given}
        view.apply({"type": "event", "seq": seq, "event": event}, now=0.5)
    assert "events    12" in present.run_lines(view)
    view.disconnected("the server closed")
    new = {"id": "r2", "started": 950.0, "bytes": 10, "events": 1, "operator_actions": 0}
    assert view.state is not None
    view.apply({"type": "full", "seq": 1, "state": {**view.state, "run": new}}, now=1.0)
    lines = present.run_lines(view)
    assert "events    1" in lines and "operator actions 0" in lines
    event = {"seq": 2, "type": "CommandGiven", "data": {"command": "reset", "by": "ana@t"}}
    view.apply({"type": "event", "seq": 2, "event": event}, now=1.1)
    lines = present.run_lines(view)
    assert "events    2" in lines and "operator actions 1" in lines


def test_a_header_of_double_width_names_fits_its_cells() -> None:
    """fit counted characters: a CJK holder (two cells each) overran the line, which
    wrapped and pushed the connection out of the 2-line header."""
    from rich.cells import cell_len

    view = view_of(
        control={"holder": "操作员" * 30 + "@客户端"},
        you={"user": "操作员" * 30, "role": "operator", "client": "t"},
        supervisor={"state": "停止" * 20, "mode": "生产😀", "allowed": []},
    )
    for width in (80, 61):
        first, second = present.header_lines(view, 0.0, width)
        assert cell_len(first.text) <= width and cell_len(second.text) <= width
        assert first.text.startswith("L │ 停止") and first.text.endswith("…")
        assert second.text.startswith("connected")
    assert present.fit("ab操作", 4) == "ab…"  # a wide character is never cut in half
    assert present.fit("操作员", 6) == "操作员"


def test_control_characters_of_a_server_text_are_shown_never_obeyed() -> None:
    view = view_of(
        control={"holder": "ana\x1b[2J\nmallory\u202e"},
        line={"name": "L\x1b]0;pwned\x07", "stations": [], "channels": {}},
    )
    first, _ = present.header_lines(view, 0.0, 80)
    assert "\x1b" not in first.text and "\n" not in first.text and "\x07" not in first.text
    assert "ana\ufffd[2J\ufffdmallory\ufffd" in first.text
    assert first.text.startswith("L\ufffd]0;pwned\ufffd │ Idle")
    assert present.one_line("a\tb\u2028c\u200bd") == "a\ufffdb\ufffdc\u200bd"
    assert present.printable("a\nb\x1bc") == "a\nb\ufffdc"


def test_a_trend_across_a_floats_range_is_drawn_in_finite_steps() -> None:
    """The Sparkline divides by max - min: 1e308 - -1e308 is infinite and the repaint
    raised (int of NaN)."""
    assert present.trend_shape([1e308, -1e308, 0.0]) == [1.0, 0.0, 0.5]
    assert present.trend_shape([5.0, 5.0, 5.0]) == [0.0, 0.0, 0.0]
    assert present.trend_shape([7.0]) == [0.0]
    assert present.trend_shape([]) == []
    assert present.trend_shape([170.0, 180.0, 190.0]) == [0.0, 0.5, 1.0]
    view = view_of()
    points = [(1.0, 1e308), (2.0, -1e308)]
    assert "min -1e+308 max 1e+308" in present.trend_scale(view, "a.x", points, 0.0)


def test_a_long_server_name_leaves_the_summary_its_lines() -> None:
    view = view_of(supervisor={"state": "Idle", "recipe": "r" * 10_000, "step": "s" * 500})
    summary = present.line_summary(view, 0.0)
    assert len(summary) < 200 and "r" * 39 + "…" in summary and "s" * 29 + "…" in summary


def test_a_lying_clock_gives_a_duration_of_one_short_line() -> None:
    """server_time 1e308 made a 331-character duration line; its two ends at a float's
    range made 'inf s'."""
    run = {"id": "r", "started": 900.0, "events": 1, "operator_actions": 0}
    assert "duration  1e+308 s line time" in present.run_lines(view_of(run=run, server_time=1e308))
    run["started"] = -1e308
    assert "duration  ?" in present.run_lines(view_of(run=run, server_time=1e308))
    run["started"] = 1100.0  # a start after the clock: no negative duration
    assert "duration  0 s line time" in present.run_lines(view_of(run=run, server_time=1000.0))


def test_an_alarm_of_ints_past_a_floats_range_is_shown_unknown_never_raises() -> None:
    """An alarm's since, value and shelved_until of 400 digits (in a full state as any
    decoder gives it) raised OverflowError in the repaint (math.isfinite of an int)."""
    huge = 10**400
    alarm = {"name": "x", "state": "UNACK", "since": huge, "value": huge, "shelved_until": huge}
    [(key, cells)] = present.alarm_rows(view_of(alarms=[alarm]), 0.0)
    assert key == "x" and [c.text for c in cells][3:5] == ["—", ""]


def test_a_trend_whose_stamps_went_back_or_span_a_floats_range() -> None:
    """A stamp that went back gave 'last -20 s'; stamps at a float's range 'last inf s'."""
    view = view_of()
    back = [(1000.0, 1.0), (1030.0, 2.0), (1010.0, 3.0)]
    assert ", last 30 s line time" in present.trend_scale(view, "a.x", back, 0.0)
    wide = [(-1e308, 1.0), (1e308, 2.0)]
    assert ", last ? s line time" in present.trend_scale(view, "a.x", wide, 0.0)


def test_an_event_field_of_any_length_leaves_the_others_their_room() -> None:
    data = {"command": "c" * 300, "old": "o" * 300, "new": "Idle", "by": "ana"}
    line = present.event_line({"type": "T" * 300, "t_wall": 1.0, "data": data})
    assert "new=Idle" in line and "by=ana" in line and len(line) < 200


def line_view(values: dict[str, Any] | None = None, **over: Any) -> LineView:
    """A line shaped like the default one: an unwind with no channels, an oven of two
    zones (writable temp_sp_c with its temp_pv_c, and a ramp with no PV) and an O2
    analyser, a coater (a flow loop and commands), a drive on no station."""
    chans: dict[str, Any] = {}
    vals: dict[str, Any] = {}

    def add(name: str, unit: str, writable: bool, station: str | None, value: Any) -> None:
        device = name.split(".")[0]
        chans[name] = {"unit": unit, "writable": writable, "station": station, "device": device}
        vals[name] = value if isinstance(value, list) else [value, "GOOD", 1.0]

    for zone, pv in (("zone_1", 179.5), ("zone_2", 181.25)):
        add(f"{zone}.temp_sp_c", "°C", True, "oven", 180.0)
        add(f"{zone}.ramp_c_per_min", "°C/min", True, "oven", 5.0)
        add(f"{zone}.temp_pv_c", "°C", False, "oven", pv)
        add(f"{zone}.status", "", False, "oven", 32.0)
    add("o2.status", "", False, "oven", 4.0)
    add("o2.o2_ppm", "ppm", False, "oven", 35.0)
    add("coater.pump_run_cmd", "", True, "coater", 1.0)
    add("coater.flow_sp_ml_min", "ml/min", True, "coater", 40.0)
    add("coater.flow_pv_ml_min", "ml/min", False, "coater", 39.9)
    add("drive.speed_sp_m_min", "m/min", True, None, 12.0)
    add("drive.speed_pv_m_min", "m/min", False, None, 11.5)
    vals.update(values or {})
    line = {
        "name": "L",
        "stations": [{"name": "unwind"}, {"name": "coater"}, {"name": "oven"}],
        "channels": chans,
    }
    return view_of(line=line, values=vals, bands={}, **over)


def test_the_overview_is_one_row_per_station_in_web_order_with_its_key_loops() -> None:
    """newuser 3: one row per station (the oven's zones as one, min..max), each loop a
    writable ``*_sp_*`` with its ``*_pv_*`` (PV/SP unit), a device with no loop its first
    measured value with a unit; a device on no station (the drive) its own row last."""
    rows = present.station_rows(line_view(), 0.0)
    assert [key for key, _ in rows] == ["unwind", "coater", "oven", "drive"]
    cells = {key: [c.text for c in row] for key, row in rows}
    assert cells["unwind"][1] == "no channels"
    assert cells["coater"][1:3] == ["flow 39.9/40.0 ml/min", "good"]
    assert cells["oven"][1] == "temp 179.5..181.2/180.0 °C  o2 35.0 ppm"
    assert cells["drive"][1] == "speed 11.5/12.0 m/min"
    detail = present.row_detail(line_view(), "oven", 0.0)
    assert detail == "oven: temp 179.5..181.2/180.0 °C  o2 35.0 ppm (enter: every channel)"
    assert [c for c, _ in present.group_channels(line_view(), "drive")] == [
        "drive.speed_sp_m_min",
        "drive.speed_pv_m_min",
    ]


def test_an_overview_row_shows_its_worst_quality_and_never_a_stale_number_as_good() -> None:
    view = line_view(
        {"zone_2.temp_pv_c": [181.0, "STALE", 1.0], "o2.o2_ppm": [None, "INVALID", 1.0]}
    )
    row = dict(present.station_rows(view, 0.0))["oven"]
    assert row[1].text == "temp 179.5..181.0?/180.0 °C  o2 INVALID ppm"
    assert row[2] == present.Cell("INVALID", present.QUALITY_STYLE["INVALID"])
    waiting = line_view({"coater.flow_pv_ml_min": [None, "WAITING", None]})
    assert dict(present.station_rows(waiting, 0.0))["coater"][1].text.startswith("flow WAITING/")
    lost = line_view()
    lost.disconnected("refused")
    oven = dict(present.station_rows(lost, 0.0))["oven"]
    assert "179.5" not in oven[1].text and oven[2].text == "STALE"


def test_an_overview_row_is_red_while_an_alarm_of_its_channels_is_unacknowledged() -> None:
    alarms = [
        {"name": "hot", "state": "UNACK", "priority": "high", "channel": "zone_1.temp_pv_c"},
        {"name": "o2", "state": "ACKED", "priority": "urgent", "channel": "o2.o2_ppm"},
        {"name": "calm", "state": "NORM", "priority": "high", "channel": "coater.flow_pv_ml_min"},
    ]
    rows = dict(present.station_rows(line_view(alarms=alarms), 0.0))
    assert rows["oven"][3] == present.Cell("2, 1 unack", "bold red")
    assert rows["oven"][0].style == "bold red"
    assert rows["coater"][3].text == ""


def test_many_loops_are_counted_in_the_row_and_all_shown_on_the_detail_line() -> None:
    chans = {
        f"press.{name}_{kind}_c": {"unit": "°C", "writable": kind == "sp", "station": "press"}
        for name in ("top_temp", "bottom_temp", "roll_temp")
        for kind in ("sp", "pv")
    }
    line = {"name": "L", "stations": [{"name": "press"}], "channels": chans}
    values = {c: [100.0, "GOOD", 1.0] for c in chans}
    view = view_of(line=line, values=values, bands={})
    row = dict(present.station_rows(view, 0.0))["press"]
    assert row[1].text == "top_temp 100.0/100.0 °C +2"  # a second would pass KEY_WIDTH
    assert "roll_temp 100.0/100.0 °C" in present.row_detail(view, "press", 0.0)


def test_waits_and_interlocks_are_one_line_of_counts_with_the_first() -> None:
    """newuser 2: the overview's waits were every name (10 of 24 lines); now one line."""
    waits = [f"zone_C{i:02d}.temp_pv_c" for i in range(12)]
    sup = {
        "state": "Starting",
        "waiting_for": waits,
        "interlocks": [f"comm_{i}" for i in range(31)],
        "first_out": "comm_zone_C01",
        "allowed": [],
    }
    view = view_of(supervisor=sup)
    summary = present.line_summary(view, 0.0)
    assert len(summary.split("\n")) == 3
    last = summary.split("\n")[2]
    assert last.startswith("waiting for 12, 31 interlocks (5: all)  first out: comm_zone_C01")
    assert len(last) <= 80
    assert "zone_C05" not in summary
    everything = present.waits_lines(view)
    assert len(everything) == 12 + 31 + 1


def test_a_stale_value_is_its_last_number_marked_never_a_plain_number() -> None:
    """newuser 4: value and quality read ``STALE STALE``; now the last value, marked."""
    cell = present.value_cell(Sample(212.34, "STALE", 1.0), "°C")
    assert cell == present.Cell("212.3? °C", "dim yellow")
    assert present.value_cell(Sample(None, "STALE", 1.0), "°C").text == "STALE"


def test_tiny_values_print_as_zero_and_status_words_as_integers() -> None:
    """newuser 4: ``flow_pv_ml_min 3.69e-33`` (and it widened the column), ``status 32.0``."""
    assert present.number(3.69e-33) == "0.00" and present.number(-1e-12) == "0.00"
    assert present.number(0.0001) == "0.0001"
    good = Sample(32.0, "GOOD", 1.0)
    assert present.value_cell(good, "", "zone_C01.status").text == "32 (0x20)"
    assert present.value_cell(good, "", "zone_C01.fault_code").text == "32.0"
    assert present.value_cell(Sample(3.69e-33, "GOOD", 1.0), "ml/min").text == "0.00 ml/min"
    # a negative "word" is no word of bits: a number, never "-1 (0x-1)"
    assert present.value_cell(Sample(-1.0, "GOOD", 1.0), "", "zone_C01.status").text == "-1.00"


def test_the_run_screen_log_size_says_it_is_as_of_connecting() -> None:
    view = view_of(run={"id": "r", "bytes": 123, "events": 1, "operator_actions": 0})
    assert "log size  123 bytes at connect (not updated live)" in present.run_lines(view)


def test_internal_events_are_not_shown_to_the_operator() -> None:
    """newuser 10: AlarmInputs, RowsSkipped, SupervisorStopped, AlarmStatesKept are noise."""
    view = view_of()
    for seq, kind in enumerate(["AlarmInputs", "StateChanged", "RowsSkipped", "AlarmStatesKept"]):
        view.apply({"type": "event", "seq": 2 + seq, "event": {"type": kind, "seq": seq}}, 0.0)
    assert [e["type"] for e in present.operator_events(view)] == ["StateChanged"]


def test_the_loaded_recipe_is_known_by_its_name_or_path() -> None:
    recipe = {"path": "/r/demo.toml", "name": "demo"}
    assert present.is_loaded(recipe, "demo.toml") and present.is_loaded(recipe, "/r/demo.toml")
    assert not present.is_loaded(recipe, "") and not present.is_loaded(recipe, "other")


def test_a_loop_found_by_its_band_and_by_its_names_is_one_loop() -> None:
    """A recipe band reads temp_pv_c and sets temp_sp_c, which the name rule finds too:
    one loop ``temp``, never a second ``temp_pv`` (it pushed the oven's O2 into ``+N``)."""
    chans: list[tuple[str, dict[str, Any]]] = [
        ("zone_D1-1.temp_sp_c", {"writable": True, "unit": "°C", "device": "zone_D1-1"}),
        ("zone_D1-1.temp_pv_c", {"unit": "°C", "device": "zone_D1-1"}),
        ("zone_D1-2.temp_pv_c", {"unit": "°C", "device": "zone_D1-2"}),
        ("zone_D1-2.temp_sp_c", {"writable": True, "unit": "°C", "device": "zone_D1-2"}),
    ]
    bands = {
        "zone_D1-1.temp_pv_c": {"sets": "zone_D1-1.temp_sp_c"},
        "zone_D1-2.temp_pv_c": {"sets": "zone_D1-2.temp_sp_c"},
    }
    loops = present.key_loops(chans, bands)
    assert [label for label, *_ in loops] == ["temp"]
    [(_, unit, pvs, sps)] = loops
    assert unit == "°C"
    assert sorted(pvs) == ["zone_D1-1.temp_pv_c", "zone_D1-2.temp_pv_c"]
    assert sorted(sps) == ["zone_D1-1.temp_sp_c", "zone_D1-2.temp_sp_c"]
