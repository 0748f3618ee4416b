"""The TUI driven by Textual's Pilot against the real ``linecontrol serve --sim`` (a child
process with the simulated line; always killed): keys send the commands that move the line
through Reset, Start, Hold, Unhold and Stop over the real API; a command the supervisor
rejects shows its reason; a viewer cannot Start."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
from textual.css.query import NoMatches
from textual.pilot import Pilot

from linecontrol.api import Address, ApiClient
from linecontrol.config import DEFAULT_LINE, RECIPES
from linecontrol.tui.app import LineApp
from linecontrol.tui.screens import AlarmsScreen
from linecontrol.tui.widgets import CellTable, CommandBar, LineHeader, MessageLine

pytestmark = [pytest.mark.integration, pytest.mark.deadline(240)]

RECIPE = RECIPES / "001-ex1.toml"


@contextmanager
def serve(tmp_path: Path, *extra: str) -> Iterator[tuple[Path, subprocess.Popen[bytes]]]:
    """``linecontrol serve --sim --speedup 300`` in its own session; killed whatever happens."""
    sock = tmp_path / "api.sock"
    proc = subprocess.Popen(
        [sys.executable, "-m", "linecontrol", "serve", "--sim", "--speedup", "300",
         "--data-dir", str(tmp_path / "data"), "--socket", str(sock), *extra],
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "serve.err", "wb"),  # noqa: SIM115 (closed with the process)
        start_new_session=True,
    )  # fmt: skip
    try:
        yield sock, proc
    finally:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


async def until(
    pilot: Pilot[None], predicate: Callable[[], bool], timeout_s: float, what: str
) -> None:
    try:
        async with asyncio.timeout(timeout_s):
            while not predicate():
                await pilot.pause(0.05)
    except TimeoutError:
        raise AssertionError(f"not within {timeout_s} s: {what}") from None


def text_of(app: LineApp, widget: type[Any]) -> str:
    try:
        return str(app.screen.query_one(widget).render())
    except NoMatches:
        return ""


@asynccontextmanager
async def tui_on(
    tmp_path: Path, *extra: str
) -> AsyncIterator[tuple[LineApp, Pilot[None], subprocess.Popen[bytes]]]:
    with serve(tmp_path, *extra) as (sock, proc):
        async with asyncio.timeout(90):
            while not sock.exists():
                assert proc.poll() is None, (tmp_path / "serve.err").read_text()
                await asyncio.sleep(0.05)  # polling interval; the condition decides
        app = LineApp(ApiClient(Address(path=sock), "tui-e2e"), repaint_s=0.1)
        async with app.run_test(size=(100, 30)) as pilot:
            await until(
                pilot, lambda: app.view.connection(app.now()) == "live", 30, "the stream is live"
            )
            yield app, pilot, proc


def state(app: LineApp) -> str:
    return str(app.view.supervisor.get("state"))


async def press_when_allowed(app: LineApp, pilot: Pilot[None], key: str, command: str) -> None:
    await until(pilot, lambda: command in app.view.allowed, 60, f"{command} allowed")
    await pilot.press(key)


async def test_load_reset_start_hold_unhold_stop_through_the_keys(tmp_path: Path) -> None:
    async with tui_on(tmp_path, "--recipe", str(RECIPE)) as (app, pilot, _):
        await until(pilot, lambda: state(app) == "Stopped", 60, "booted Stopped")
        await pilot.press("t")
        await until(pilot, lambda: app.view.control.get("holder") == "root@tui-e2e"
                    or str(app.view.control.get("holder", "")).endswith("@tui-e2e"),
                    30, "control taken")  # fmt: skip
        await press_when_allowed(app, pilot, "r", "reset")
        await until(pilot, lambda: state(app) == "Idle", 90, "Idle after Reset")
        await press_when_allowed(app, pilot, "s", "start")
        await until(pilot, lambda: state(app) == "Execute", 150, "Execute after Start")
        await until(pilot, lambda: "│ Execute │" in text_of(app, LineHeader), 5, "header repainted")
        await press_when_allowed(app, pilot, "h", "hold")
        await until(pilot, lambda: state(app) == "Held", 60, "Held after Hold")
        await press_when_allowed(app, pilot, "u", "unhold")
        await until(pilot, lambda: state(app) == "Execute", 90, "Execute after Unhold")
        await press_when_allowed(app, pilot, "x", "stop")
        await until(pilot, lambda: state(app) == "Stopped", 90, "Stopped after Stop")
        sent = [c for c, _ in app.sent]
        assert sent == ["take_control", "reset", "start", "hold", "unhold", "stop"]
        kinds = [e.get("type") for e in app.view.events]
        assert "StateChanged" in kinds


async def test_a_rejected_command_shows_the_supervisors_reason(tmp_path: Path) -> None:
    """With no recipe loaded Reset is not offered; with one, a setpoint change in
    Stopped is sent and the supervisor's refusal, with its reason, is shown on the
    message line."""
    async with tui_on(tmp_path) as (app, pilot, _):
        await pilot.press("t")
        await until(pilot, lambda: bool(app.view.control.get("holder")), 30, "control taken")
        assert "reset" not in app.view.allowed  # no recipe loaded: nothing to reset to
        app.send("load_recipe", path=str(RECIPE))
        await until(pilot, lambda: "load_recipe: accepted" in app.last_message, 60, "loaded")

        def band() -> dict[str, Any] | None:
            bands = (app.view.state or {}).get("bands") or {}
            return next((b for b in bands.values() if b.get("high") is not None), None)

        await until(
            pilot,
            lambda: band() is not None and app.view.connection(app.now()) == "live",
            30,
            "the recipe's bands",
        )
        found = band()
        assert found is not None
        app.send("change_setpoint", field=found["field"], value=float(found["high"]) + 1000.0)
        await until(
            pilot, lambda: "refused (rejected)" in app.last_message, 30, "the refusal shown"
        )
        assert "not in Stopped" in app.last_message, app.last_message
        assert "not in Stopped" in text_of(app, MessageLine)


async def test_a_viewer_cannot_start(tmp_path: Path) -> None:
    config = tmp_path / "line.toml"
    text = DEFAULT_LINE.read_text(encoding="utf-8")
    if "\n[api]\n" in text:  # the shipped config has the table: make its owner a viewer
        text = text.replace("\n[api]\n", '\n[api]\nowner_role = "viewer"\n', 1)
        lines = text.split("\n")
        first = lines.index('owner_role = "viewer"')
        text = "\n".join(
            line
            for i, line in enumerate(lines)
            if i == first or not line.replace(" ", "").startswith("owner_role=")
        )
    else:
        text += '\n[api]\nowner_role = "viewer"\n'
    config.write_text(text, encoding="utf-8")
    async with tui_on(tmp_path, "--config", str(config), "--recipe", str(RECIPE)) as (
        app,
        pilot,
        _,
    ):
        assert app.view.state is not None and app.view.state["you"]["role"] == "viewer"
        await until(
            pilot, lambda: "viewer: watching only" in text_of(app, CommandBar), 10, "viewer bar"
        )
        # the keys are off for a viewer: nothing is sent, each press says why. Once the
        # recipe is in and the view live (its load makes the view fetch a fresh full
        # state: while it resyncs the keys are off for that reason first)
        await until(
            pilot,
            lambda: app.view.supervisor.get("recipe") == RECIPE.stem
            and app.view.connection(app.now()) == "live",
            30,
            "recipe loaded, live",
        )
        for key in ("r", "s", "t"):
            app.last_message = ""
            await pilot.press(key)
            await until(pilot, lambda: "not sent" in app.last_message, 10, f"{key} said why")
            assert "viewer" in app.last_message
        assert app.sent == []
        # and the server refuses a viewer what the keys would have sent
        for command in ("take_control", "start"):
            result = await app.client.command(command)
            assert not result.ok and result.code == "forbidden", (command, result)
        assert state(app) == "Stopped"


WARM_ALARM = """
[alarms.tui_test_warm]
channel = "zone_C01.temp_pv_c"
kind = "high"
limit = -100.0        # any temperature: raised at boot, in every state
priority = "low"
guidance = "a test alarm: acknowledge it"
"""


async def test_an_alarm_acknowledged_changes_state(tmp_path: Path) -> None:
    config = tmp_path / "line.toml"
    config.write_text(DEFAULT_LINE.read_text(encoding="utf-8") + WARM_ALARM, encoding="utf-8")
    async with tui_on(tmp_path, "--config", str(config)) as (app, pilot, _):
        await pilot.press("t")
        await until(pilot, lambda: bool(app.view.control.get("holder")), 30, "control taken")
        await pilot.press("2")
        await until(pilot, lambda: isinstance(app.screen, AlarmsScreen), 10, "alarms screen")

        def row_of_alarm() -> int:
            keys = app.screen.query_one(CellTable).row_keys()
            return keys.index("tui_test_warm") if "tui_test_warm" in keys else -1

        await until(pilot, lambda: row_of_alarm() >= 0, 30, "the alarm listed")
        assert app.view.alarms["tui_test_warm"]["state"] == "UNACK"
        app.screen.query_one(CellTable).move_cursor(row=row_of_alarm())
        await pilot.press("k")
        await until(
            pilot,
            lambda: app.view.alarms["tui_test_warm"].get("state") == "ACKED",
            30,
            "the alarm acknowledged",
        )
        assert ("acknowledge_alarm", {"alarm": "tui_test_warm"}) in app.sent


async def test_a_killed_server_is_shown_lost_and_a_new_one_picked_up(tmp_path: Path) -> None:
    async with tui_on(tmp_path) as (app, pilot, proc):
        first_run = app.view.state["run"]["id"] if app.view.state else None
        os.killpg(proc.pid, signal.SIGKILL)  # a crash: no goodbye on the stream
        await until(pilot, lambda: "CONNECTION LOST" in text_of(app, LineHeader), 10, "lost")
        assert app.view.allowed == frozenset()
        # a new server on the same socket (the dead one's file is stale: serve replaces it)
        with serve(tmp_path):

            def new_run() -> bool:
                run = app.view.state.get("run", {}) if app.view.state else {}
                return app.view.connection(app.now()) == "live" and run.get("id") != first_run

            await until(pilot, new_run, 90, "the new server's stream")
            await until(pilot, lambda: "connected" in text_of(app, LineHeader), 10, "shown")
            # the killed one did not end cleanly: the new one boots Aborted
            assert state(app) == "Aborted"


async def test_a_latched_alarm_is_acknowledged_then_reset_through_the_keys(tmp_path: Path) -> None:
    """A web break flagged in an earlier run on the data root leaves web_break latched
    (kept on disk); on the served normal line the Alarms screen's R refuses to reset it
    while unacknowledged (the server's reason shown), k acknowledges it, R resets it."""
    text = DEFAULT_LINE.read_text(encoding="utf-8")
    head = '[devices.drive]\nmodel = "line_drive"\n'
    assert head in text
    broken = tmp_path / "broken.toml"
    broken.write_text(text.replace(head, head + "faults = { web_break = true }\n", 1), "utf-8")
    first = subprocess.run(
        [sys.executable, "-m", "linecontrol", "run", "--sim", "--speedup", "1000",
         "--config", str(broken), "--data-dir", str(tmp_path / "data")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert first.returncode == 6 and "alarm: web_break" in first.stderr, first.stderr
    async with tui_on(tmp_path) as (app, pilot, _):
        await pilot.press("t")
        await until(pilot, lambda: bool(app.view.control.get("holder")), 30, "control taken")
        await pilot.press("2")
        await until(pilot, lambda: isinstance(app.screen, AlarmsScreen), 10, "alarms screen")

        def row_of_alarm() -> int:
            keys = app.screen.query_one(CellTable).row_keys()
            return keys.index("web_break") if "web_break" in keys else -1

        await until(pilot, lambda: row_of_alarm() >= 0, 30, "the latched alarm listed")
        app.screen.query_one(CellTable).move_cursor(row=row_of_alarm())
        await pilot.press("R")
        await until(pilot, lambda: "reset_alarm refused" in app.last_message, 30, "refused")
        await pilot.press("k")
        await until(pilot, lambda: app.last_message == "acknowledge_alarm: accepted", 30, "ack")
        await until(pilot, lambda: row_of_alarm() >= 0, 10, "still listed: latched")
        app.screen.query_one(CellTable).move_cursor(row=row_of_alarm())
        await pilot.press("R")
        await until(pilot, lambda: app.last_message == "reset_alarm: accepted", 30, "reset")
        await until(pilot, lambda: row_of_alarm() < 0, 30, "the alarm back to normal, unlisted")
        assert app.view.alarms["web_break"]["state"] == "NORM"
        assert [c for c, _ in app.sent] == [
            "take_control", "reset_alarm", "acknowledge_alarm", "reset_alarm"
        ]  # fmt: skip
