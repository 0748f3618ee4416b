"""The TUI's layout at 80x24 and its presentation of a line that changes, driven by Pilot
against the in-test server (tests/integration/tui_server.py): the verdict line above the
footer, the header's connection never cut, a notice below 80x24, every footer binding
shown, the Run screen's counters following the stream, the Station screen's band, trend
and scale, and the Recipes screen's violations in full."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable

from linecontrol.api import Address, ApiClient
from linecontrol.tui.app import LineApp
from linecontrol.tui.screens import AlarmsScreen, LineScreen, StationScreen
from tests.integration.tui_server import ProtoServer, Verdict, line_state, serving

pytestmark = pytest.mark.integration


async def until(pilot: Pilot[None], predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not predicate():
            await pilot.pause(0.02)


def screen_lines(app: LineApp) -> list[str]:
    return [strip.text.rstrip() for strip in app.screen._compositor.render_strips()]


def shown(app: LineApp) -> str:
    return "\n".join(screen_lines(app))


@asynccontextmanager
async def tui(
    tmp_path: Path, size: tuple[int, int] = (80, 24), **server_kw: Any
) -> AsyncIterator[tuple[ProtoServer, LineApp, Pilot[None]]]:
    path = tmp_path / "api.sock"
    async with serving(path, **server_kw) as server:
        client = ApiClient(Address(path=path), "tui-test", lost_after_s=0.5, retry_s=0.05)
        app = LineApp(client, repaint_s=0.05)
        async with app.run_test(size=size) as pilot:
            await until(pilot, lambda: app.view.connection(app.now()) == "live")
            yield server, app, pilot


def oven_state(channels: int = 2) -> dict[str, Any]:
    """A line shaped like the real one: an unwind with no channels, an oven station of
    two zone devices (each a measured temperature and its setpoint), bands keyed by the
    measured value with the setpoint channel they set, one with no band."""
    state = line_state()
    state["line"]["stations"] = [
        {"name": "unwind", "kind": "unwind", "distance_m": 0.0, "devices": []},
        {"name": "oven", "kind": "oven", "distance_m": 12.0, "devices": ["zone_C01", "zone_C02"]},
    ]
    chans: dict[str, Any] = {}
    values: dict[str, Any] = {}
    for zone in ("zone_C01", "zone_C02"):
        for ch, writable in (("temp_c", False), ("setpoint_c", True)):
            name = f"{zone}.{ch}"
            chans[name] = {"unit": "°C", "writable": writable, "station": "oven", "device": zone}
            values[name] = [180.0, "GOOD", 999.0]
    for i in range(channels - 2):
        name = f"zone_C02.extra_{i:02d}"
        chans[name] = {"unit": "", "writable": False, "station": "oven", "device": "zone_C02"}
        values[name] = [float(i), "GOOD", 999.0]
    state["line"]["channels"] = chans
    state["values"] = values
    state["bands"] = {
        "zone_C01.temp_c": {
            "field": "oven.zones.zone_C01.setpoint_c",
            "setpoint": 180.0,
            "low": 170.0,
            "high": 190.0,
            "sets": "zone_C01.setpoint_c",
            "limits": [0.0, 250.0],
        },
        "zone_C02.temp_c": {
            "field": "oven.zones.zone_C02.setpoint_c",
            "setpoint": 175.0,
            "low": None,
            "high": None,
            "sets": "zone_C02.setpoint_c",
            "limits": [0.0, 250.0],
        },
    }
    state["alarms"] = []
    return state


async def test_an_accepted_verdict_is_seen_above_the_footer_on_every_screen(
    tmp_path: Path,
) -> None:
    async with tui(tmp_path) as (server, app, pilot):
        for n, key in enumerate(("1", "2", "4", "5", "3"), start=1):
            await pilot.press(key)
            await until(pilot, lambda: isinstance(app.screen, LineScreen))
            await pilot.press("t")
            await server.until_commands(n)
            await until(pilot, lambda: "take_control: accepted" in shown(app))
            lines = screen_lines(app)
            assert lines[-2] == "take_control: accepted" and "q Quit" in lines[-1]
            app.say("")


async def test_a_long_holder_never_pushes_the_connection_out_of_the_header(
    tmp_path: Path,
) -> None:
    state = line_state()
    state["control"]["holder"] = "a-very-long-holder-name-of-someone@" + "c" * 80
    async with tui(tmp_path, state=state) as (server, app, pilot):
        await until(pilot, lambda: screen_lines(app)[1].startswith("connected"))
        first = screen_lines(app)[0]
        assert "Stopped │ production │ control: a-very-long" in first and first.endswith("…")
        assert screen_lines(app)[2].startswith("speed")  # the header kept its two lines
        await pilot.resize_terminal(120, 30)  # cut again to the new width
        await until(pilot, lambda: len(screen_lines(app)[0]) == 120)
        assert screen_lines(app)[1].startswith("connected")
        server.refuse_streams = True
        server.close_streams()
        await until(pilot, lambda: screen_lines(app)[1].startswith("CONNECTION LOST"))


async def test_below_80x24_a_notice_says_so_and_q_still_quits(tmp_path: Path) -> None:
    async with tui(tmp_path, size=(40, 12)) as (_, app, pilot):
        await until(pilot, lambda: "terminal too small" in shown(app))
        assert "need 80x24, have 40x12" in shown(app).replace("\n", " ")
        assert "speed" not in shown(app)
        await pilot.resize_terminal(80, 24)
        await until(pilot, lambda: "speed" in shown(app) and "too small" not in shown(app))
        await pilot.resize_terminal(79, 24)
        await until(pilot, lambda: "too small" in shown(app))
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running)


async def test_every_screen_footer_shows_every_binding_at_80_columns(tmp_path: Path) -> None:
    async with tui(tmp_path, state=oven_state()) as (_, app, pilot):
        for key in ("1", "2", "3", "4", "5"):
            await pilot.press(key)
            await until(pilot, lambda: isinstance(app.screen, LineScreen))
            await pilot.pause(0.1)
            footer = screen_lines(app)[-1]
            labels = [
                b.binding.description
                for b in app.screen.active_bindings.values()
                if b.binding.show and b.enabled
            ]
            assert "q Quit" in footer
            for label in labels:
                assert label in footer, (type(app.screen).__name__, label, footer)


async def test_run_counters_follow_the_stream(tmp_path: Path) -> None:
    async with tui(tmp_path) as (server, app, pilot):
        await pilot.press("5")
        await until(pilot, lambda: "events    5" in shown(app))
        assert "operator actions 1" in shown(app) and "duration  100 s line time" in shown(app)
        given = {"command": "start", "by": "ana@tui-test"}
        server.send(
            {
                "type": "event",
                "event": {"seq": 6, "t_wall": 1005.0, "type": "CommandGiven", "data": given},
            }
        )
        server.send({"type": "heartbeat", "t": 1130.0})
        await until(pilot, lambda: "events    6" in shown(app))
        await until(pilot, lambda: "duration  230 s line time" in shown(app))
        assert "operator actions 2" in shown(app)
        assert "recent events (line time, UTC):" in shown(app)
        await until(pilot, lambda: "00:16:45 CommandGiven start by=ana@tui-test" in shown(app))


def default_like_state() -> dict[str, Any]:
    """A line shaped like the default one (as its serve sends it): stations in web order,
    an unwind and a rewind with no channels, coaters (flow loop), dryers and a cure oven
    of zones (temp_sp_c/temp_pv_c) with an N2 flow and an O2 analyser, a sputter (a power
    loop and a gauge), a press (three loops), and a drive on no station."""
    state = line_state()
    stations: list[dict[str, Any]] = []
    chans: dict[str, Any] = {}
    values: dict[str, Any] = {}

    def add(device: str, station: str | None, short: str, unit: str, w: bool, v: float) -> None:
        name = f"{device}.{short}"
        chans[name] = {"unit": unit, "writable": w, "station": station, "device": device}
        values[name] = [v, "GOOD", 999.0]

    def loop(device: str, station: str | None, name: str, unit: str, pv: float, sp: float) -> None:
        suffix = "".join(c for c in unit.lower() if c.isalnum())
        add(device, station, f"{name}_sp_{suffix}", unit, True, sp)
        add(device, station, f"{name}_pv_{suffix}", unit, False, pv)
        add(device, station, "status", "", False, 32.0)

    stations.append({"name": "unwind", "devices": []})
    for n in (1, 2, 3):
        stations.append({"name": f"coater_{n}", "devices": [f"coater_{n}"]})
        add(f"coater_{n}", f"coater_{n}", "pump_run_cmd", "", True, 1.0)
        loop(f"coater_{n}", f"coater_{n}", "flow", "ml/min", 39.9, 40.0)
        stations.append({"name": f"dryer_{n}", "devices": []})
        for z in (1, 2):
            loop(f"zone_D{n}-{z}", f"dryer_{n}", "temp", "°C", 99.5 + z, 100.0)
        loop(f"n2_dryer_{n}", f"dryer_{n}", "flow", "slm", 20.0, 20.0)
    stations.append({"name": "cure_oven", "devices": []})
    for z in range(1, 11):
        loop(f"zone_C{z:02d}", "cure_oven", "temp", "°C", 179.0 + z / 10, 180.0)
    loop("n2_cure_oven", "cure_oven", "flow", "slm", 50.0, 50.0)
    add("o2_cure", "cure_oven", "o2_ppm", "ppm", False, 35.0)
    stations.append({"name": "sputter", "devices": []})
    loop("sputter_psu", "sputter", "power", "kW", 3.0, 3.0)
    add("sputter_gauge", "sputter", "pressure_pa", "Pa", False, 0.4)
    stations.append({"name": "press", "devices": []})
    for name in ("top_temp", "bottom_temp"):
        loop("press", "press", name, "°C", 120.0, 120.0)
    loop("press", "press", "roll_load", "kg", 800.0, 800.0)
    stations.append({"name": "rewind", "devices": []})
    loop("drive", None, "speed", "m/min", 11.9, 12.0)
    loop("drive", None, "unwind_tension", "N", 100.0, 100.0)
    state["line"]["stations"] = stations
    state["line"]["channels"] = chans
    state["values"] = values
    state["bands"] = {}
    state["alarms"] = [
        {
            "name": "o2_cure_trip",
            "state": "UNACK",
            "priority": "urgent",
            "channel": "o2_cure.o2_ppm",
            "value": 35.0,
            "since": 990.0,
        }
    ]
    state["supervisor"]["waiting_for"] = [f"zone_C{z:02d}.temp_pv_c" for z in range(1, 11)]
    state["supervisor"]["interlocks"] = [f"comm_{i}" for i in range(31)]
    state["supervisor"]["first_out"] = "comm_zone_C01"
    return state


async def test_the_overview_of_a_default_like_line_is_one_row_per_station_at_80x24(
    tmp_path: Path,
) -> None:
    """newuser 3 and 2: a row per station in web order (the oven's ten zones one row,
    min..max), the drive's row too, all on screen at 80x24 with the command bar, the waits
    and interlocks as one line of counts, and enter opens the station with every channel."""
    async with tui(tmp_path, state=default_like_state()) as (_, app, pilot):
        await until(pilot, lambda: "rewind" in shown(app) and "drive" in shown(app))
        lines = screen_lines(app)
        assert len(lines) == 24 and all(len(line) <= 80 for line in lines)
        text = shown(app)
        names = ["unwind", "coater_1", "dryer_1", "coater_2", "dryer_2", "coater_3"]
        names += ["dryer_3", "cure_oven", "sputter", "press", "rewind", "drive"]
        rows = [next(i for i, line in enumerate(lines) if line.split()[:1] == [n]) for n in names]
        assert rows == sorted(rows)  # web order, every one on screen
        oven = lines[rows[7]]
        assert "temp 179.1..180.0/180.0 °C" in oven and "1, 1 unack" in oven
        assert "flow 39.9/40.0 ml/min" in lines[rows[1]]
        assert "waiting for 10, 31 interlocks (5: all)  first out: comm_zone_C01" in text
        assert "comm_5" not in text and "[r Reset]" in text and "q Quit" in lines[-1]
        await pilot.press(*["down"] * 7)
        await until(pilot, lambda: "cure_oven: temp 179.1..180.0/180.0 °C  flow" in shown(app))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, StationScreen))
        assert isinstance(app.screen, StationScreen) and app.screen.station == "cure_oven"
        await until(pilot, lambda: "zone_C01.temp_pv_c" in shown(app))
        await pilot.press("5")
        await until(pilot, lambda: "interlock   comm_30" in shown(app) or "comm_0" in shown(app))


async def test_station_at_80x24_shows_trend_with_its_scale_and_the_full_band(
    tmp_path: Path,
) -> None:
    async with tui(tmp_path, state=oven_state(channels=30)) as (server, app, pilot):
        await pilot.press("2")  # from another screen: the first station with channels
        await until(pilot, lambda: isinstance(app.screen, AlarmsScreen))
        await pilot.press("3")
        await until(pilot, lambda: isinstance(app.screen, StationScreen))
        assert isinstance(app.screen, StationScreen) and app.screen.station == "oven"
        for t, v in ((1000.0, 179.0), (1010.0, 181.5), (1030.0, 180.0)):
            server.send({"type": "values", "t": t, "values": {"zone_C01.temp_c": [v, "GOOD", t]}})
            await until(pilot, lambda v=v: app.view.sample("zone_C01.temp_c").value == v)  # type: ignore[misc]
            await pilot.pause(0.1)
        await until(pilot, lambda: "max 181.5 °C" in shown(app))
        text = shown(app)
        assert "trend zone_C01.temp_c: min 179.0 max 181.5 °C, last 31 s line time" in text
        spark = app.screen.query_one("#trend")
        assert spark.region.height >= 2 and spark.region.bottom <= 22
        joined = " ".join(text.splitlines())
        assert "equipment limits 0.00..250.0" in joined  # the selected row's band in full
        assert "[no band]: none, limits apply" in text  # the band column's legend
        assert "extra_27" not in text  # more rows than fit
        await pilot.press("down", "down")
        await until(pilot, lambda: "zone_C02.temp_c: oven.zones.zone_C02" in shown(app))
        assert "175.0 [no band]" in shown(app)
        await pilot.press("e")  # the dialog shows the band as it is (no markup)
        await until(pilot, lambda: "now 175.0 [no band]" in shown(app))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, StationScreen))
        await pilot.press(*["down"] * 40)  # the table scrolls; the trend stays
        await until(pilot, lambda: "zone_C02.extra_27" in shown(app))
        assert "trend zone_C02.extra_27" in shown(app)


async def test_e_from_the_setpoint_row_and_the_setpoint_follows_the_stream(
    tmp_path: Path,
) -> None:
    state = oven_state()
    state["run"]["events"] = 5
    async with tui(tmp_path, state=state) as (server, app, pilot):
        await pilot.press("2")
        await until(pilot, lambda: isinstance(app.screen, AlarmsScreen))
        await pilot.press("3")
        await until(pilot, lambda: isinstance(app.screen, StationScreen))
        await until(pilot, lambda: "zone_C01.setpoint_c ✎" in shown(app))
        await pilot.press("down", "e")  # zone_C01.setpoint_c: the row that sets the loop
        await pilot.press(*"185", "enter")
        commands = await server.until_commands(1)
        assert commands[0]["field"] == "oven.zones.zone_C01.setpoint_c"
        given = {"command": "change_setpoint", "field": commands[0]["field"], "value": 185.0}
        server.send({"type": "event", "event": {"seq": 6, "type": "CommandGiven", "data": given}})
        table = app.screen.query_one("#channels", DataTable)

        def bands() -> list[str]:
            return [str(table.get_row_at(i)[3]) for i in range(2)]

        await until(pilot, lambda: bands() == ["185.0 [170.0..190.0]"] * 2)
        assert "180.0 [170.0..190.0]" not in shown(app)


async def test_a_station_with_no_channels_says_so(tmp_path: Path) -> None:
    async with tui(tmp_path, state=oven_state()) as (_, app, pilot):
        await until(pilot, lambda: "unwind" in shown(app))
        await pilot.press("enter")  # the overview's first row: the unwind, no channels
        await until(pilot, lambda: isinstance(app.screen, StationScreen))
        await until(pilot, lambda: "Station unwind: no channels" in shown(app))


async def test_a_long_violation_is_readable_at_80x24(tmp_path: Path) -> None:
    async with tui(tmp_path) as (server, app, pilot):
        long = "zone_C01 setpoint 260 °C is above the oven's rating of 250 °C by 10 °C; " * 2
        server.recipes = [
            {"path": "/r/b.toml", "name": "b", "ok": False, "violations": [long, "last one"]},
        ]
        await pilot.press("4")

        def joined() -> str:
            return " ".join(line.strip() for line in screen_lines(app))

        await until(pilot, lambda: "last one" in joined())
        assert "rating of 250 °C by 10 °C; zone_C01 setpoint" in joined()


async def test_markup_in_a_server_text_is_shown_as_it_is(tmp_path: Path) -> None:
    state = copy.deepcopy(line_state())
    state["run"]["dir"] = "/tmp/[bold]x[/bold]"
    async with tui(tmp_path, state=state) as (_, app, pilot):
        await pilot.press("5")
        await until(pilot, lambda: "/tmp/[bold]x[/bold]" in shown(app))


async def test_a_recipe_loaded_after_connecting_brings_its_bands(tmp_path: Path) -> None:
    """The stream sends bands only in a full state: a RecipeLoaded after it makes the
    view resync, so the new recipe's bands show (they stayed empty until a reconnect)."""
    state = oven_state()
    bands = state["bands"]
    state["bands"] = {}
    state["run"]["events"] = 5
    async with tui(tmp_path, state=state) as (server, app, pilot):
        await until(pilot, lambda: "temp 180.0 °C" in shown(app))  # no band: no SP
        server.state = {**state, "bands": bands, "run": {**state["run"], "events": 6}}
        loaded = {"seq": 6, "type": "RecipeLoaded", "data": {"recipe": "b", "path": "/r/b"}}
        server.send({"type": "event", "event": loaded})
        await server.until_streams(2)
        await until(pilot, lambda: "temp 180.0/180.0 °C" in shown(app))  # the band: a loop
        assert app.view.connection(app.now()) == "live"


def many_alarms_state() -> dict[str, Any]:
    """The demo's alarms after a comm loss: 25 comm alarms returned to normal but not
    acknowledged (RTNUN, high), an urgent latched O2 trip, and one acknowledged."""
    state = line_state()
    alarms: list[dict[str, Any]] = [
        {"name": f"comm_{i:02d}", "state": "RTNUN", "priority": "high", "since": 900.0 + i}
        for i in range(25)
    ]
    alarms.append(
        {
            "name": "o2_cure_trip",
            "state": "LATCHED_UNACK",
            "priority": "urgent",
            "value": 170.4,
            "since": 950.0,
            "guidance": "O2 above the trip in the cure oven: find the leak, purge, then "
            "acknowledge and reset (it blocks Unhold while latched)",
        }
    )
    alarms.append({"name": "calm_low", "state": "ACKED", "priority": "low", "since": 800.0})
    state["alarms"] = alarms
    state["run"]["events"] = 5
    return state


async def test_alarms_at_80x24_cursor_on_screen_follows_its_alarm_and_ack_all(
    tmp_path: Path,
) -> None:
    """newuser 1: the latched urgent trip first, the cursor's row always on screen and
    following its alarm when a re-sort moves it, the selected alarm in full, the recent
    events kept on screen, K acknowledging all unacknowledged (after a confirmation)."""
    async with tui(tmp_path, state=many_alarms_state()) as (server, app, pilot):
        await pilot.press("2")
        await until(pilot, lambda: isinstance(app.screen, AlarmsScreen))
        table = app.screen.query_one("#alarms", DataTable)
        await until(pilot, lambda: table.row_count == 27)
        assert str(table.get_row_at(0)[2]) == "o2_cure_trip"  # unacked and urgent
        assert str(table.get_row_at(26)[2]) == "calm_low"  # acknowledged last
        await until(
            pilot,
            lambda: (
                "find the leak, purge, then acknowledge and reset" in " ".join(screen_lines(app))
            ),
        )
        await pilot.press(*["down"] * 40)
        await until(pilot, lambda: "calm_low: ACKED low" in shown(app))
        assert any(line.split()[2:3] == ["calm_low"] for line in screen_lines(app))
        await pilot.press("up", "up")  # comm_23 (25 comm rows after the trip)
        await until(pilot, lambda: "comm_23: RTNUN" in shown(app))
        changed = {
            "seq": 6, "type": "AlarmChanged", "t_wall": 1001.0,
            "data": {"alarm": "comm_00", "old": "RTNUN", "new": "ACKED"},
        }  # fmt: skip
        server.send({"type": "event", "event": changed})  # re-sorted: comm_00 goes down
        await until(pilot, lambda: str(table.get_row_at(25)[2]) == "comm_00")
        await until(pilot, lambda: "comm_23: RTNUN" in shown(app))
        assert str(table.get_row_at(table.cursor_row)[2]) == "comm_23"
        assert "recent events" in shown(app) and "AlarmChanged" in shown(app)
        assert "q Quit" in screen_lines(app)[-1]
        await pilot.press("K")
        await until(pilot, lambda: "Acknowledge all 25 unacknowledged alarms?" in shown(app))
        await pilot.press("y")
        commands = await server.until_commands(25)
        assert {c["command"] for c in commands} == {"acknowledge_alarm"}
        assert {c["alarm"] for c in commands} == {f"comm_{i:02d}" for i in range(1, 25)} | {
            "o2_cure_trip"
        }


async def test_a_long_refusal_wraps_to_two_lines_above_the_footer(tmp_path: Path) -> None:
    """newuser 5: the verdict line cut a refusal at 80 columns ('... refused (rejected): set')."""
    reason = "setpoint 300.0 outside the recipe band 170.0..190.0 of oven.zones.zone_C01.sp"
    async with tui(tmp_path) as (server, app, pilot):
        server.verdicts["take_control"] = Verdict(409, "rejected", reason)
        await pilot.press("t")
        await until(pilot, lambda: "zone_C01" in " ".join(screen_lines(app)[-3:-1]))
        joined = " ".join(line.strip() for line in screen_lines(app)[-3:-1])
        assert f"take_control refused (rejected): {reason}" in joined
        assert "q Quit" in screen_lines(app)[-1]
