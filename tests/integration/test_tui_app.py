"""The TUI (linecontrol.tui) driven by Textual's Pilot against a real aiohttp server on a
Unix socket (tests/integration/tui_server.py) for its own behaviour: a key sends the
right command, a refusal shows its reason, a disabled command sends nothing, a lost
connection shows at once on every screen, STALE/INVALID never shown as numbers. The
same app against the real ``linecontrol serve``: test_tui_serve.py."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from textual.css.query import NoMatches
from textual.pilot import Pilot
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input

from linecontrol.api import Address, ApiClient
from linecontrol.tui.app import LineApp
from linecontrol.tui.screens import (
    AlarmsScreen,
    ConfirmDialog,
    LineScreen,
    OverviewScreen,
    StationScreen,
)
from linecontrol.tui.widgets import CommandBar, LineHeader, MessageLine
from tests.integration.tui_server import ProtoServer, Verdict, line_state, serving

pytestmark = pytest.mark.integration


async def until(pilot: Pilot[None], predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Let the app run until ``predicate()`` holds (a deadline, never a bare sleep)."""
    async with asyncio.timeout(timeout_s):
        while not predicate():
            await pilot.pause(0.02)


def text_of(app: LineApp, widget: type[Any]) -> str:
    """The widget's text on the active screen ('' while that screen is composing)."""
    try:
        return str(app.screen.query_one(widget).render())
    except NoMatches:
        return ""


@asynccontextmanager
async def tui(
    tmp_path: Path, size: tuple[int, int] = (80, 24), notifications: bool = False, **server_kw: Any
) -> AsyncIterator[tuple[ProtoServer, LineApp, Pilot[None]]]:
    path = tmp_path / "api.sock"
    async with serving(path, **server_kw) as server:
        client = ApiClient(Address(path=path), "tui-test", lost_after_s=0.5, retry_s=0.05)
        app = LineApp(client, repaint_s=0.05)
        async with app.run_test(size=size, notifications=notifications) as pilot:
            await until(pilot, lambda: app.view.connection(app.now()) == "live")
            await until(pilot, lambda: "connected" in text_of(app, LineHeader))
            yield server, app, pilot


def engineer() -> dict[str, Any]:
    """The test line with its caller an engineer: shelve and load need that role."""
    state = line_state()
    state["you"]["role"] = "engineer"
    return state


def allow(server: ProtoServer, *commands: str, state: str = "Idle") -> None:
    server.send(
        {
            "type": "status",
            "supervisor": {**server.state["supervisor"], "state": state, "allowed": list(commands)},
            "control": {"holder": "ana@tui-test"},
        }
    )


async def test_header_shows_state_mode_and_control(tmp_path: Path) -> None:
    async with tui(tmp_path) as (_, app, _pilot):
        header = text_of(app, LineHeader)
        assert "Stopped" in header and "production" in header
        assert "control: ana@tui-test" in header


async def test_a_key_sends_its_packml_command(tmp_path: Path) -> None:
    async with tui(tmp_path) as (server, app, pilot):
        allow(server, "start", "stop", "abort")
        await until(pilot, lambda: "start" in app.view.allowed)
        await pilot.press("s")
        commands = await server.until_commands(1)
        assert commands[0]["command"] == "start"
        await until(pilot, lambda: "start: accepted" in text_of(app, MessageLine))
        await pilot.press("A")
        commands = await server.until_commands(2)
        assert commands[1]["command"] == "abort"


async def test_a_command_not_allowed_now_sends_nothing_and_is_shown_disabled(
    tmp_path: Path,
) -> None:
    async with tui(tmp_path) as (server, app, pilot):
        # Stopped allows reset and abort only
        await pilot.press("s")
        await pilot.press("h")
        await pilot.press("r")
        commands = await server.until_commands(1)
        await pilot.pause(0.1)
        assert [c["command"] for c in server.commands] == ["reset"]
        assert commands[0]["command"] == "reset"
        bar = app.screen.query_one(CommandBar).render()
        assert "s Start" in str(bar)


async def test_a_rejected_command_shows_its_reason(tmp_path: Path) -> None:
    async with tui(tmp_path) as (server, app, pilot):
        server.verdicts["reset"] = Verdict(409, "rejected", "reset is not allowed now: E-stop")
        await pilot.press("r")
        await server.until_commands(1)
        await until(pilot, lambda: "E-stop" in text_of(app, MessageLine))
        assert "reset refused (rejected): reset is not allowed now: E-stop" in app.last_message


async def test_a_viewer_cannot_start(tmp_path: Path) -> None:
    async with tui(tmp_path) as (server, app, pilot):
        state = {**server.state, "you": {"user": "bob", "role": "viewer", "client": "tui-test"}}
        server.send({"type": "full", "state": state})
        allow(server, "start", "reset")
        await until(pilot, lambda: "start" in app.view.allowed)
        await until(pilot, lambda: "viewer: watching only" in text_of(app, CommandBar))
        await pilot.press("s")
        await pilot.press("r")
        await pilot.pause(0.1)
        assert server.commands == []


async def test_control_held_elsewhere_disables_the_commands(tmp_path: Path) -> None:
    async with tui(tmp_path) as (server, app, pilot):
        server.send(
            {
                "type": "status",
                "supervisor": server.state["supervisor"],
                "control": {"holder": "bob@x"},
            }
        )
        await until(pilot, lambda: "control held by bob@x" in text_of(app, CommandBar))
        await pilot.press("r")
        await pilot.press("t")
        commands = await server.until_commands(1)
        assert commands[0]["command"] == "take_control"
        assert commands[0]["force"] is False


async def test_connection_lost_is_shown_at_once_on_every_screen(tmp_path: Path) -> None:
    async with tui(tmp_path) as (server, app, pilot):
        server.refuse_streams = True
        server.close_streams()
        await until(pilot, lambda: "CONNECTION LOST" in text_of(app, LineHeader))
        for key in ("2", "4", "5", "1"):
            await pilot.press(key)
            await until(pilot, lambda: "CONNECTION LOST" in text_of(app, LineHeader), 1.0)
        # and every command is disabled while lost
        await pilot.press("r")
        await pilot.pause(0.05)
        assert all(c["command"] != "reset" for c in server.commands)


async def test_heartbeat_loss_is_shown(tmp_path: Path) -> None:
    async with tui(tmp_path, heartbeat_s=None) as (_, app, pilot):
        await until(pilot, lambda: "CONNECTION LOST" in text_of(app, LineHeader))


def cells(app: LineApp, table_id: str) -> list[list[str]]:
    table: DataTable[Any] = app.screen.query_one(f"#{table_id}", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_overview_stations_in_web_order_with_quality_never_as_numbers(
    tmp_path: Path,
) -> None:
    async with tui(tmp_path) as (_, app, pilot):
        await until(pilot, lambda: len(cells(app, "stations")) == 3)
        rows = cells(app, "stations")
        assert [r[0] for r in rows] == ["unwind", "zone_C01", "press"]
        by_station = {r[0]: r for r in rows}
        assert by_station["unwind"][1:3] == ["tension 120.5 N", "good"]
        assert by_station["zone_C01"][1:4] == ["temp STALE °C", "STALE", "1, 1 unack"]
        assert by_station["press"][2] == "INVALID"  # 812.0 sent, INVALID: no number
        assert "812" not in " ".join(by_station["press"])


async def test_values_repaint_on_the_timer(tmp_path: Path) -> None:
    async with tui(tmp_path) as (server, app, pilot):
        server.send(
            {"type": "values", "t": 1.0, "values": {"zone_C01.temp_c": [181.5, "GOOD", 1.0]}}
        )
        await until(pilot, lambda: any("temp 181.5 °C" in r for r in cells(app, "stations")))


async def test_alarms_acknowledge_and_shelve_with_a_reason(tmp_path: Path) -> None:
    async with tui(tmp_path, state=engineer()) as (server, app, pilot):
        await pilot.press("2")
        await until(pilot, lambda: isinstance(app.screen, AlarmsScreen))
        await until(pilot, lambda: len(cells(app, "alarms")) == 1)
        assert cells(app, "alarms")[0][:3] == ["UNACK", "high", "zone_C01_high"]
        await pilot.press("k")
        commands = await server.until_commands(1)
        assert commands[0]["command"] == "acknowledge_alarm"
        assert commands[0]["alarm"] == "zone_C01_high"
        await pilot.press("v")
        await pilot.press("enter")  # no reason: refused in the dialog
        await pilot.press("enter")
        await pilot.pause(0.05)
        assert len(server.commands) == 1
        await pilot.press("escape")
        await pilot.press("v")
        await pilot.press(*"sensor swap", "enter")
        await pilot.press("backspace", "backspace", "3", "0", "enter")
        commands = await server.until_commands(2)
        assert commands[1]["command"] == "shelve_alarm"
        assert commands[1]["reason"] == "sensor swap"
        assert commands[1]["duration_s"] == 1800.0


async def test_alarms_reset_a_latched_alarm_and_a_refusal_shows_why(tmp_path: Path) -> None:
    async with tui(tmp_path) as (server, app, pilot):
        server.verdicts["reset_alarm"] = Verdict(409, "rejected", "zone_C01_high: not acknowledged")
        await pilot.press("2")
        await until(pilot, lambda: isinstance(app.screen, AlarmsScreen))
        await until(pilot, lambda: len(cells(app, "alarms")) == 1)
        shown = "\n".join(s.text for s in app.screen._compositor.render_strips())
        assert "R reset" in shown  # the binding is shown (the screen's key line)
        assert "q Quit" in shown  # and the footer still has room for the app's keys
        await pilot.press("R")
        commands = await server.until_commands(1)
        assert commands[0]["command"] == "reset_alarm"
        assert commands[0]["alarm"] == "zone_C01_high"
        await until(pilot, lambda: "not acknowledged" in text_of(app, MessageLine))
        assert "reset_alarm refused" in app.last_message
        assert not any(c["command"] == "reset" for c in server.commands)


async def test_station_detail_and_a_setpoint_change(tmp_path: Path) -> None:
    async with tui(tmp_path) as (server, app, pilot):
        await until(pilot, lambda: len(cells(app, "stations")) == 3)
        await pilot.press("down", "enter")  # zone_C01's row
        await until(pilot, lambda: isinstance(app.screen, StationScreen))
        assert isinstance(app.screen, StationScreen) and app.screen.station == "zone_C01"
        await until(pilot, lambda: len(cells(app, "channels")) == 2)
        await pilot.press("down", "e")
        await pilot.press(*"185", "enter")
        commands = await server.until_commands(1)
        assert commands[0]["command"] == "change_setpoint"
        assert commands[0]["field"] == "oven.zones.zone_C01.setpoint_c"
        assert commands[0]["value"] == 185.0
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, OverviewScreen))


async def test_recipes_listed_and_loaded(tmp_path: Path) -> None:
    async with tui(tmp_path, state=engineer()) as (server, app, pilot):
        server.recipes = [
            {"path": "/r/a.toml", "name": "a", "ok": True, "violations": [], "derived": {}},
            {"path": "/r/b.toml", "name": "b", "ok": False, "violations": ["too hot"]},
        ]
        await pilot.press("4")
        await until(pilot, lambda: len(cells(app, "recipes")) == 2)
        assert cells(app, "recipes")[1][:3] == ["b", "VIOLATES", "too hot"]
        await pilot.press("l")
        await until(pilot, lambda: "Load the recipe" in str(app.screen.query_one("Label").render()))
        await pilot.press("y")
        commands = await server.until_commands(1)
        assert commands[0] == {**commands[0], "command": "load_recipe", "path": "/r/a.toml"}


async def test_run_screen(tmp_path: Path) -> None:
    async with tui(tmp_path) as (_, app, pilot):
        await pilot.press("5")
        await until(
            pilot, lambda: "20261202-000000-abcd" in str(app.screen.query_one("#run").render())
        )


async def test_every_screen_fits_80x24(tmp_path: Path) -> None:
    async with tui(tmp_path) as (_, app, pilot):
        for key in ("1", "2", "4", "5"):
            await pilot.press(key)
            await pilot.pause(0.05)
            assert isinstance(app.screen, LineScreen)
            assert app.screen.query_one(LineHeader).region.y == 0
            footer = app.screen.query_one("Footer")
            assert footer.region.bottom == 24


async def test_typing_in_a_dialog_sends_no_command(tmp_path: Path) -> None:
    async with tui(tmp_path, state=engineer()) as (server, app, pilot):
        allow(server, "start", "stop", "hold", "abort", "clear", "reset")
        await until(pilot, lambda: "start" in app.view.allowed)
        await pilot.press("2")
        await until(pilot, lambda: len(cells(app, "alarms")) == 1)
        await pilot.press("v")
        await pilot.press(*"sxhArc", "enter", "enter")  # every PackML key, as text
        commands = await server.until_commands(1)
        await pilot.pause(0.1)
        assert [c["command"] for c in server.commands] == ["shelve_alarm"]
        assert commands[0]["reason"] == "sxhArc"


async def test_a_lost_connection_shows_under_an_open_dialog(tmp_path: Path) -> None:
    async with tui(tmp_path, state=engineer()) as (server, app, pilot):
        await pilot.press("2")
        await until(pilot, lambda: len(cells(app, "alarms")) == 1)
        await pilot.press("v")
        await until(pilot, lambda: not isinstance(app.screen, LineScreen))
        server.refuse_streams = True
        server.close_streams()
        under = app.screen_stack[-2]
        await until(pilot, lambda: "CONNECTION LOST" in str(under.query_one(LineHeader).render()))


async def test_a_shelve_too_long_to_be_finite_is_refused_in_the_dialog(tmp_path: Path) -> None:
    async with tui(tmp_path, state=engineer()) as (server, app, pilot):
        await pilot.press("2")
        await until(pilot, lambda: len(cells(app, "alarms")) == 1)
        await pilot.press("v", *"why", "enter", "backspace", "backspace", *"1e308", "enter")
        await pilot.pause(0.1)
        assert server.commands == []
        assert not isinstance(app.screen, LineScreen)  # the dialog stays, saying why
        await pilot.press("escape")


async def test_a_command_the_client_refuses_is_shown_not_a_crash(tmp_path: Path) -> None:
    async with tui(tmp_path) as (server, app, pilot):
        app.send("change_setpoint", field="press.roll_load_kg", value=float("nan"))
        await until(pilot, lambda: "not sent" in app.last_message)
        assert "not finite" in app.last_message
        assert app.is_running and server.commands == []


async def test_force_take_and_release_control(tmp_path: Path) -> None:
    """T takes by force only once confirmed (newuser 10): n sends nothing, y sends it."""
    async with tui(tmp_path) as (server, app, pilot):
        await pilot.press("T")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("n")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmDialog))
        assert server.commands == []
        await pilot.press("T")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmDialog))
        await pilot.press("ctrl+r")
        commands = await server.until_commands(2)
        assert [(c["command"], c.get("force")) for c in commands] == [
            ("take_control", True),
            ("release_control", None),
        ]


async def lose(server: ProtoServer, app: LineApp, pilot: Pilot[None]) -> None:
    server.refuse_streams = True
    server.close_streams()
    await until(pilot, lambda: app.view.connection(app.now()) == "lost")


async def test_while_lost_every_key_that_acts_sends_nothing_and_says_why(tmp_path: Path) -> None:
    """Not only the PackML keys: take and release control, acknowledge, reset alarm,
    shelve, setpoint and recipe load are disabled while the connection is lost (shown so,
    and a press says why); navigating and quitting still work."""
    async with tui(tmp_path) as (server, app, pilot):
        server.recipes = [{"path": "/r/a.toml", "name": "a", "ok": True, "violations": []}]
        await pilot.press("4")  # the recipes are listed while live
        await until(pilot, lambda: len(cells(app, "recipes")) == 1)
        await pilot.press("1")
        await until(pilot, lambda: len(cells(app, "stations")) == 3)
        await lose(server, app, pilot)
        screens = {
            "1": ("r", "t", "T", "ctrl+r"),
            "2": ("k", "R", "v"),
            "4": ("l",),
        }
        for screen_key, keys in screens.items():
            await pilot.press(screen_key)
            await until(pilot, lambda: isinstance(app.screen, LineScreen))
            for key in keys:
                app.last_message = ""
                assert not app.active_bindings[key].enabled, key
                await pilot.press(key)
                await until(pilot, lambda: "not sent: connection lost" in app.last_message)
        await pilot.press("1")
        await pilot.press("down", "enter")  # navigating still works: zone_C01's detail
        await until(pilot, lambda: isinstance(app.screen, StationScreen))
        await until(pilot, lambda: len(cells(app, "channels")) == 2)
        await pilot.press("down")
        assert not app.active_bindings["e"].enabled
        await pilot.press("e")
        await until(pilot, lambda: "Set: not sent: connection lost" in app.last_message)
        assert not isinstance(app.screen, ModalScreen)  # no setpoint dialog opened
        assert server.commands == [] and app.sent == []
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running)


async def test_a_dialog_confirmed_after_the_connection_went_sends_nothing(tmp_path: Path) -> None:
    async with tui(tmp_path, state=engineer()) as (server, app, pilot):
        await pilot.press("2")
        await until(pilot, lambda: len(cells(app, "alarms")) == 1)
        await pilot.press("v")
        await until(pilot, lambda: isinstance(app.focused, Input))
        await lose(server, app, pilot)
        await pilot.press(*"sensor swap", "enter", "enter")
        await until(pilot, lambda: "shelve_alarm: not sent: connection lost" in app.last_message)
        assert server.commands == []


async def test_ctrl_c_quits_as_q_does(tmp_path: Path) -> None:
    async with tui(tmp_path) as (_, app, pilot):
        await pilot.press("ctrl+c")
        await until(pilot, lambda: not app.is_running)
    assert app.return_code == 0


async def test_ctrl_c_quits_from_a_dialog_too(tmp_path: Path) -> None:
    async with tui(tmp_path, state=engineer()) as (_, app, pilot):
        await pilot.press("2")
        await until(pilot, lambda: len(cells(app, "alarms")) == 1)
        await pilot.press("v")
        await until(pilot, lambda: isinstance(app.focused, Input))
        await pilot.press(*"abc", "ctrl+c")  # in an Input, whose ctrl+c would copy
        await until(pilot, lambda: not app.is_running)
    assert app.return_code == 0


async def test_control_taken_by_another_client_is_said_and_its_keys_go_off(
    tmp_path: Path,
) -> None:
    """Two clients on one server: this TUI (ana@tui-test) holds control, another client
    (ana@tui-2) force-takes it. The TUI says so on the message line and as a
    notification, and the keys that need control are disabled (take stays on)."""
    async with tui(tmp_path, notifications=True, control_rules=True) as (server, app, pilot):
        assert app.active_bindings["ctrl+r"].enabled and app.active_bindings["r"].enabled
        async with ApiClient(Address(path=tmp_path / "api.sock"), "tui-2") as other:
            assert (await other.command("take_control")).code == "no_control"
            assert (await other.command("take_control", force=True)).ok
        await until(pilot, lambda: "control taken by ana@tui-2" in text_of(app, MessageLine))
        await until(
            pilot,
            lambda: any(
                "control taken by ana@tui-2" in str(t.render()) for t in app.screen.query("Toast")
            ),
        )
        assert not app.active_bindings["ctrl+r"].enabled
        assert not app.active_bindings["r"].enabled
        assert app.active_bindings["t"].enabled and app.active_bindings["T"].enabled
        await pilot.press("r")
        await until(pilot, lambda: "control held by ana@tui-2" in app.last_message)
        await pilot.press("T")  # and take it back, once confirmed
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await until(pilot, lambda: app.view.control.get("holder") == "ana@tui-test")
        await until(pilot, lambda: app.active_bindings["ctrl+r"].enabled)
        assert [c["command"] for c in server.commands] == ["take_control"] * 3


async def test_a_reconnect_to_a_new_session_says_control_ended_and_clears_verdicts(
    tmp_path: Path,
) -> None:
    """newuser 6: after serve restarted, a TUI still showed 'start: accepted' (or
    'control taken by ...'); a new run id in the full state says a new session."""
    async with tui(tmp_path) as (server, app, pilot):
        await pilot.press("t")
        await server.until_commands(1)
        await until(pilot, lambda: "take_control: accepted" in text_of(app, MessageLine))
        state = copy.deepcopy(server.state)
        state["run"]["id"] = "20261202-010000-beef"
        state["control"] = {"holder": None}
        server.state = state
        server.close_streams()
        await server.until_streams(2)
        text = "new session 20261202-010000-beef: control ended; take it again (t)"
        await until(pilot, lambda: text in text_of(app, MessageLine))
        assert "accepted" not in text_of(app, MessageLine)
        assert "control taken" not in app.last_message


async def test_shelve_and_load_are_disabled_for_an_operator(tmp_path: Path) -> None:
    """newuser 9: the Shelve dialog opened for an operator and the server refused it."""
    async with tui(tmp_path) as (server, app, pilot):
        await pilot.press("2")
        await until(pilot, lambda: isinstance(app.screen, AlarmsScreen))
        await until(pilot, lambda: len(cells(app, "alarms")) == 1)
        assert not app.active_bindings["v"].enabled
        await pilot.press("v")
        await until(
            pilot, lambda: "needs the engineer role (you are an operator)" in app.last_message
        )
        assert not isinstance(app.screen, ModalScreen) and server.commands == []
