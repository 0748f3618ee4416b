"""The TUI against a lying server (tests/integration/tui_server.py, real aiohttp), driven
by Pilot at 80x24: a server's text with escapes, newlines and double-width characters,
a trend across a float's range, duplicate stations and recipe paths, an unbounded name.
Each of these killed the TUI or broke its layout before."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from rich.cells import cell_len
from textual.app import App, ComposeResult

from linecontrol.api import Address, ApiClient
from linecontrol.tui.app import LineApp
from linecontrol.tui.present import Cell
from linecontrol.tui.screens import AlarmsScreen, RecipesScreen, StationScreen
from linecontrol.tui.widgets import CellTable
from tests.integration.test_tui_layout import oven_state, screen_lines, shown, tui, until
from tests.integration.tui_server import line_state, serving

pytestmark = pytest.mark.integration


def raw_segments(app: object) -> list[str]:
    """The text of every segment the screen would write to the terminal."""
    strips = app.screen._compositor.render_strips()  # type: ignore[attr-defined]
    return [segment.text for strip in strips for segment in strip]


async def test_escapes_and_newlines_of_a_server_are_shown_never_written(tmp_path: Path) -> None:
    """ESC reached the terminal as is (a holder could clear the screen or set the title)
    and a newline in the holder pushed the connection out of the header."""
    state = line_state()
    state["control"]["holder"] = "ana\x1b[2J\nmallory"
    state["line"]["name"] = "L\x1b]0;pwned\x07"
    state["alarms"][0]["guidance"] = "call\x1b[31m the shift lead"
    async with tui(tmp_path, state=state) as (_, app, pilot):
        await until(pilot, lambda: "mallory" in shown(app))
        lines = screen_lines(app)
        assert lines[1].startswith("connected") and lines[2].startswith("speed")
        assert "control: ana\ufffd[2J\ufffdmallory" in lines[0]
        assert not [s for s in raw_segments(app) if "\x1b" in s or "\x07" in s]
        await pilot.press("2")
        await until(pilot, lambda: isinstance(app.screen, AlarmsScreen))
        await until(pilot, lambda: "call\ufffd[31m" in shown(app))
        assert not [s for s in raw_segments(app) if "\x1b" in s]


async def test_double_width_names_keep_the_header_to_its_two_lines(tmp_path: Path) -> None:
    """A CJK holder was cut by characters, not cells: its line wrapped and the
    connection's word went out of the 2-line header."""
    state = line_state()
    state["control"]["holder"] = "操作员" * 30 + "@客户端"
    state["you"]["user"] = "操作员😀" * 20
    async with tui(tmp_path, state=state) as (server, app, pilot):
        await until(pilot, lambda: "操作员" in shown(app))
        lines = screen_lines(app)
        assert lines[0].startswith("test line │ Stopped │ production │ control: 操作员")
        assert lines[0].endswith("…") and cell_len(lines[0]) <= 80
        assert lines[1].startswith("connected") and lines[2].startswith("speed")
        server.refuse_streams = True
        server.close_streams()
        await until(pilot, lambda: screen_lines(app)[1].startswith("CONNECTION LOST"))


async def test_a_trend_across_a_floats_range_is_drawn(tmp_path: Path) -> None:
    """1e308 then -1e308: the Sparkline's max - min was infinite and the repaint raised
    (int of NaN); the TUI died."""
    async with tui(tmp_path, state=oven_state()) as (server, app, pilot):
        await pilot.press("2")
        await until(pilot, lambda: isinstance(app.screen, AlarmsScreen))
        await pilot.press("3")
        await until(pilot, lambda: isinstance(app.screen, StationScreen))
        for t, v in ((1000.0, 1e308), (1010.0, -1e308)):
            server.send({"type": "values", "t": t, "values": {"zone_C01.temp_c": [v, "GOOD", t]}})
            await until(pilot, lambda v=v: app.view.sample("zone_C01.temp_c").value == v)  # type: ignore[misc]
            await until(pilot, lambda v=v: app.history["zone_C01.temp_c"][-1][1] == v)  # type: ignore[misc]
        await until(pilot, lambda: "min -1e+308 max 1e+308 °C" in shown(app))
        assert app.is_running


async def test_two_stations_of_one_name_and_two_recipes_of_one_path(tmp_path: Path) -> None:
    """A key given twice made DataTable raise DuplicateKey in the repaint: the TUI died."""
    state = line_state()
    state["line"]["stations"].append(dict(state["line"]["stations"][2]))
    async with tui(tmp_path, state=state) as (server, app, pilot):
        await until(pilot, lambda: "press" in shown(app))
        rows = [line for line in shown(app).splitlines() if line.split()[:1] == ["press"]]
        assert len(rows) == 1
        server.recipes = [
            {"path": "/r/a.toml", "name": "a", "ok": True, "violations": []},
            {"path": "/r/a.toml", "name": "a again", "ok": False, "violations": ["x"]},
        ]
        await pilot.press("4")
        await until(pilot, lambda: isinstance(app.screen, RecipesScreen))
        await until(pilot, lambda: "/r/a.toml" in shown(app))
        assert "a again" not in shown(app) and app.is_running


async def test_a_recipe_name_of_any_length_leaves_the_overview_its_table(tmp_path: Path) -> None:
    """A 3000-character recipe name wrapped over the whole body: no channel was shown."""
    state = line_state()
    state["supervisor"]["recipe"] = "r" * 3000
    state["supervisor"]["waiting_for"] = ["w" * 200] * 20
    async with tui(tmp_path, state=state) as (_, app, pilot):
        await until(pilot, lambda: "press" in shown(app))
        assert "tension 120.5 N" in shown(app) and "[r Reset]" in shown(app)


async def test_a_recipe_load_is_never_shown_as_a_lost_connection(tmp_path: Path) -> None:
    """The view resyncs for a new recipe's bands; the header said CONNECTION LOST (and
    every key was off as for a loss) for the client's retry_s at every recipe load."""
    state = oven_state()
    bands, state["bands"] = state["bands"], {}
    state["run"]["events"] = 5
    path = tmp_path / "api.sock"
    async with serving(path, state=state) as server:
        client = ApiClient(Address(path=path), "tui-test", retry_s=0.5)
        app = LineApp(client, repaint_s=0.05)
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.view.connection(app.now()) == "live")
            server.state = {**state, "bands": bands, "run": {**state["run"], "events": 6}}
            loaded = {"seq": 6, "type": "RecipeLoaded", "data": {"recipe": "b"}}
            server.send({"type": "event", "event": loaded})
            seen: set[str] = set()

            def banded() -> bool:
                connection = app.view.connection(app.now())
                seen.add(connection)
                state = app.view.state or {}
                return connection == "live" and bool(state.get("bands"))

            async with asyncio.timeout(10.0):
                while not banded():
                    await pilot.pause(0.01)  # polled, with the deadline above
            assert "resyncing" in seen and "lost" not in seen
            assert server.streams == 2
            await until(pilot, lambda: "temp 180.0/180.0 °C" in shown(app))


async def test_a_long_event_keeps_to_its_line_and_the_events_after_it_show(
    tmp_path: Path,
) -> None:
    """An event with a 400-character field wrapped over six lines of the Run screen, and
    the newest events went below the screen."""
    async with tui(tmp_path) as (server, app, pilot):
        await pilot.press("5")
        long = {"old": "Stopped", "new": "Idle" * 100}
        server.send({"type": "event", "event": {"seq": 6, "type": "StateChanged", "data": long}})
        for seq in range(7, 16):
            given = {"command": "start", "by": f"op{seq}"}
            event = {"seq": seq, "type": "CommandGiven", "data": given}
            server.send({"type": "event", "event": event})
        await until(pilot, lambda: "events    15" in shown(app))
        await until(pilot, lambda: "by=op15" in shown(app))
        lines = screen_lines(app)
        assert len([line for line in lines if "IdleIdle" in line]) == 1
        assert all(cell_len(line) <= 80 for line in lines)


async def test_a_cell_of_control_characters_gets_its_full_width() -> None:
    """The table sized a changed cell by its raw text, where an escape takes no cell;
    it is shown as '�', one cell each, so the cell was cut ('�����e…' in 6 cells)."""

    class TableApp(App[None]):
        def compose(self) -> ComposeResult:
            yield CellTable(("name", "text"), id="t")

    app = TableApp()
    async with app.run_test(size=(60, 10)) as pilot:
        table = app.query_one(CellTable)
        table.sync([("a", (Cell("a"), Cell("abcdef")))])
        await pilot.pause()
        table.sync([("a", (Cell("a"), Cell("\x1b" * 5 + "end")))])
        await until(pilot, lambda: "\ufffd" * 5 + "end" in shown(app))  # type: ignore[arg-type]


async def test_a_wider_cell_rendered_before_the_tables_idle_is_shown_in_full() -> None:
    """The rebuild for a wider cell left its width to DataTable's next idle; a render
    before it (the screen's update may come first) cached the row at the old width,
    and the idle measure clears no cache: the cell stayed cut ('abcdef') for good."""

    class TableApp(App[None]):
        def compose(self) -> ComposeResult:
            yield CellTable(("name", "text"), id="t")

    app = TableApp()
    async with app.run_test(size=(60, 10)) as pilot:
        table = app.query_one(CellTable)
        table.sync([("a", (Cell("a"), Cell("abcdef")))])
        await pilot.pause()
        table.sync([("a", (Cell("a"), Cell("abcdefghijkl")))])
        assert "abcdefghijkl" in shown(app)  # type: ignore[arg-type]
        await pilot.pause()
        assert "abcdefghijkl" in shown(app)  # type: ignore[arg-type]


async def test_enter_on_a_device_of_no_station_opens_its_channels(tmp_path: Path) -> None:
    """Enter (or 3) on a channel of no station did nothing at all; the drive (a device on
    no station) is now a row of its own, and enter opens its channels."""
    state = line_state()
    state["line"]["channels"]["drive.speed"] = {"unit": "m/min", "station": None}
    async with tui(tmp_path, state=state) as (_, app, pilot):
        await until(pilot, lambda: "drive" in shown(app))
        await pilot.press(*["down"] * 3)
        await until(pilot, lambda: "drive: speed" in shown(app))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, StationScreen))
        await until(pilot, lambda: "drive.speed" in shown(app))


async def test_a_recipe_load_the_full_state_counts_already_needs_no_resync(
    tmp_path: Path,
) -> None:
    """A server that sends its last RecipeLoaded again after each full state (seq 5, the
    state's run.events 5: a replay) had the view resync for ever, a fresh stream and
    full state every retry_s."""
    async with tui(tmp_path, state=oven_state()) as (server, app, pilot):
        assert app.view.state is not None and app.view.state["run"]["events"] == 5
        again = {"seq": 5, "type": "RecipeLoaded", "data": {"recipe": "demo"}}
        server.send({"type": "event", "event": again})
        marker = {"seq": 6, "type": "StateChanged", "data": {"old": "Stopped", "new": "Idle"}}
        server.send({"type": "event", "event": marker})
        await until(pilot, lambda: any(e.get("seq") == 6 for e in app.view.events))
        assert server.streams == 1 and app.view.connection(app.now()) == "live"
