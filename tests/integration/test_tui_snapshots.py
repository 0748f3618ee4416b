"""Snapshots of the TUI at 80x24 in frozen states (running normally, an alarm active, a
device stale, the connection lost): the screen's text compared with a golden file in
tests/integration/data/tui_snapshots/. Textual is pinned to its minor (8.2) in
pyproject.toml, as its rendering may change between minors; the text comes from the
screen's compositor (``_compositor.render_strips``, a private API of that minor).

To accept a changed screen after looking at it: ``LINECONTROL_UPDATE_SNAPSHOTS=1``."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from linecontrol.api import Address, ApiClient
from linecontrol.tui.app import LineApp
from tests.integration.tui_server import ProtoServer, line_state, serving

pytestmark = pytest.mark.integration

SNAPSHOTS = Path(__file__).parent / "data" / "tui_snapshots"


def screen_text(app: LineApp) -> str:
    strips = app.screen._compositor.render_strips()
    return "\n".join(strip.text.rstrip() for strip in strips) + "\n"


async def until(pilot: Pilot[None], predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not predicate():
            await pilot.pause(0.02)


def check(name: str, text: str) -> None:
    path = SNAPSHOTS / f"{name}.txt"
    if os.environ.get("LINECONTROL_UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no snapshot {path}: run with LINECONTROL_UPDATE_SNAPSHOTS=1"
    assert text == path.read_text(encoding="utf-8")


def running_state() -> dict[str, Any]:
    state = line_state()
    state["supervisor"].update(
        state="Execute",
        state_number=6,
        allowed=["hold", "stop", "suspend", "abort"],
        step="run",
        line_speed=12.0,
        web_position_m=340.5,
        metres_done=340.5,
        metres_to_go=659.5,
    )
    state["values"] = {
        "unwind.tension_n": [120.5, "GOOD", 999.0],
        "zone_C01.temp_c": [179.8, "GOOD", 999.0],
        "zone_C01.setpoint_c": [180.0, "GOOD", 999.0],
        "press.roll_load_kg": [812.0, "GOOD", 999.0],
    }
    for alarm in state["alarms"]:
        alarm["state"] = "NORM"
    return state


async def frozen(
    tmp_path: Path, state: dict[str, Any], keys: tuple[str, ...], marker: str, **kw: Any
) -> str:
    path = tmp_path / "api.sock"
    async with serving(path, state=state, **kw) as server:
        client = ApiClient(Address(path=path), "tui-test", lost_after_s=0.5, retry_s=0.05)
        app = LineApp(client, repaint_s=0.05)
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.view.connection(app.now()) == "live")
            for key in keys:
                await pilot.press(key)
            await after(server, pilot, app)
            await until(pilot, lambda: marker in screen_text(app))
            await pilot.pause(0.2)  # repaints of a frozen view change nothing
            return screen_text(app)


async def after(server: ProtoServer, pilot: Pilot[None], app: LineApp) -> None:
    """Hook for a state change after start (the connection-lost snapshot)."""


async def test_snapshot_running_normally(tmp_path: Path) -> None:
    text = await frozen(tmp_path, running_state(), (), "179.8 °C")
    assert "Execute" in text and "STALE" not in text
    check("running", text)


async def test_snapshot_alarm_active(tmp_path: Path) -> None:
    text = await frozen(tmp_path, line_state(), ("2",), "zone_C01_high")
    assert "UNACK" in text
    check("alarm_active", text)


async def test_snapshot_device_stale(tmp_path: Path) -> None:
    text = await frozen(tmp_path, line_state(), (), "STALE")
    assert "INVALID" in text and "812" not in text
    check("device_stale", text)


async def test_snapshot_connection_lost(tmp_path: Path) -> None:
    path = tmp_path / "api.sock"
    async with serving(path, state=running_state()) as server:
        client = ApiClient(Address(path=path), "tui-test", lost_after_s=0.5, retry_s=0.05)
        app = LineApp(client, repaint_s=0.05)
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: "179.8 °C" in screen_text(app))
            server.refuse_streams = True
            server.close_streams()
            # past the closed stream, at the refused new one (the state that lasts)
            await until(pilot, lambda: "cannot reach the server: 503" in screen_text(app))
            await pilot.pause(0.2)
            text = screen_text(app)
    check("connection_lost", text)
