"""``linecontrol replay`` (a real child process on a Unix socket, always killed) serving
a run recorded from the simulated line (``linecontrol run --sim --speedup 1000``): what
the API client reads from its stream at 1000x is the run log, event for event (every
envelope, in order, no gap) and value for value (after each values message the latest
value of every channel is the row of that message's time); seeks to a time, back and to
a metre give a fresh full state at that position, rebuilt from the run log; every
command that acts on a line is refused with its reason, a speed outside 0.1x-1000x or
not finite with the window named."""

from __future__ import annotations

import asyncio
import math
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from linecontrol import api as p
from linecontrol.api import Address, ApiClient, LineView, api_schema
from linecontrol.model import AlarmChanged, AlarmRaised, LoggedEvent, StateChanged
from linecontrol.runlog import load_meta, read_events, read_samples
from tests.integration.test_replay_run import run_dir
from tests.unit.test_api_schema import validator

pytestmark = [pytest.mark.integration, pytest.mark.deadline(300)]

__all__ = ["run_dir"]  # the recorded run (module scope), shared with test_replay_run


@contextmanager
def replaying(run: Path, sock: Path, *extra: str) -> Iterator[subprocess.Popen[bytes]]:
    """``linecontrol replay RUN`` in its own session; killed whatever happens."""
    err = sock.with_suffix(".err")
    proc = subprocess.Popen(
        [sys.executable, "-m", "linecontrol", "replay", str(run), "--socket", str(sock),
         *extra],
        stdout=subprocess.DEVNULL,
        stderr=open(err, "wb"),  # noqa: SIM115 (closed with the process)
        start_new_session=True,
    )  # fmt: skip
    try:
        yield proc
    finally:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


class RecordingView(LineView):
    """A ``LineView`` that keeps every message it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[dict[str, Any]] = []

    def apply(self, message: Any, now: float) -> None:
        if isinstance(message, dict):
            self.received.append(message)
        super().apply(message, now)


@asynccontextmanager
async def client_of(
    run: Path, tmp_path: Path, *extra: str
) -> AsyncIterator[tuple[ApiClient, RecordingView]]:
    sock = tmp_path / "replay.sock"
    with replaying(run, sock, *extra) as proc:
        async with asyncio.timeout(60):
            while not sock.exists():
                assert proc.poll() is None, sock.with_suffix(".err").read_text()
                await asyncio.sleep(0.05)  # polling interval; the condition decides
        async with ApiClient(Address(path=sock), "rs-test") as client:
            view = RecordingView()
            task = asyncio.create_task(client.follow(view))
            try:
                await client.until(lambda: view.state is not None, 30)
                yield client, view
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)


def source(view: LineView) -> dict[str, Any]:
    assert view.state is not None
    src = view.state["source"]
    assert isinstance(src, dict)
    return src


def fulls(view: RecordingView) -> list[dict[str, Any]]:
    return [m["state"] for m in view.received if m.get("type") == "full"]


def envelope(e: LoggedEvent) -> dict[str, Any]:
    return p.event_envelope(e.event, e.seq, e.t_mono, e.t_wall)


def same(value: Any, logged: float) -> bool:
    return value is None if not math.isfinite(logged) else value == logged


async def test_the_stream_is_the_run_log_event_for_event_and_value_for_value(
    run_dir: Path, tmp_path: Path
) -> None:
    logged = read_events(run_dir / "events.jsonl").events
    rows = read_samples(run_dir / "samples")
    names = [c.name for c in load_meta(run_dir).channels]
    quality = {int(q): q.name for q in p_quality()}
    async with client_of(run_dir, tmp_path, "--speed", "1000", "--paused") as (client, view):
        first = source(view)
        assert first["kind"] == "replay" and first["paused"] and first["run"] == run_dir.name
        assert view.state is not None and view.state["mode"] == "replay"
        assert view.state["control"] == {"holder": None}
        result = await client.command("replay_resume")
        assert result.ok, result
        await client.until(lambda: bool(source(view).get("finished")), 120)
        assert client.streams_opened == 1  # one stream throughout: nothing was missed

    events = [m["event"] for m in view.received if m.get("type") == "event"]
    # the first full counts what is due at the very start (the items of the first instant)
    base = fulls(view)[0]["run"]["events"]
    assert base == sum(1 for e in logged if e.t_mono <= logged[0].t_mono)
    assert events == [envelope(e) for e in logged if e.seq > base]
    # after each values message, every channel's latest value is the row of its time
    latest: dict[str, list[Any]] = {}
    by_time = {float(t): i for i, t in enumerate(rows.t_wall)}
    checked = 0
    for m in view.received:
        if m.get("type") == "full":
            latest = {k: list(v) for k, v in m["state"]["values"].items()}
        if m.get("type") != "values" or not m["values"]:
            continue
        latest.update({k: list(v) for k, v in m["values"].items()})
        times = {v[2] for v in m["values"].values()}
        assert len(times) == 1, times  # one row's values
        (t,) = times
        assert t <= m["t"]
        i = by_time[t]
        for j, name in enumerate(names):
            value, q, _ = latest[name]
            assert same(value, float(rows.values[i, j])), (name, value, rows.values[i, j])
            assert q == quality[int(rows.quality[i, j])]
        checked += 1
    assert checked >= 5
    last = fulls(view)[-1]  # the end of the run: the last row, every event
    assert last["run"]["events"] == logged[-1].seq
    for j, name in enumerate(names):
        assert same(last["values"][name][0], float(rows.values[-1, j]))


def p_quality() -> Any:
    from linecontrol.model import Quality

    return Quality


def expected_at(logged: list[LoggedEvent], t: float) -> tuple[str, dict[str, str], int]:
    """The PackML state, every alarm's label and the last seq from the events up to ``t``
    (at or before it, in log order)."""
    state, seq = "Undefined", 0
    alarms: dict[str, str] = {}
    for e in logged:
        if e.t_mono > t:
            break
        seq = e.seq
        if isinstance(e.event, StateChanged):
            state = e.event.new
        elif isinstance(e.event, AlarmRaised | AlarmChanged):
            alarms[e.event.alarm] = e.event.new
    return state, alarms, seq


async def test_seek_forward_back_and_to_a_metre_sends_a_fresh_full_state_there(
    run_dir: Path, tmp_path: Path
) -> None:
    logged = list(read_events(run_dir / "events.jsonl").events)
    rows = read_samples(run_dir / "samples")
    meta = load_meta(run_dir)
    names = [c.name for c in meta.channels]
    async with client_of(run_dir, tmp_path, "--paused") as (client, view):
        span = float(source(view)["span"]["t_s"])
        for frac in (0.7, 0.2, 0.5):
            target = frac * span
            before = len(fulls(view))
            result = await client.command("replay_seek", t_s=target)
            assert result.ok, result
            await client.until(lambda: len(fulls(view)) > before, 10)  # noqa: B023
            state = fulls(view)[-1]
            doc = api_schema()  # the replay's full state is valid in the API's schema
            validator(doc, doc["messages"]["full"]).validate(
                {"type": "full", "seq": 1, "state": state}
            )
            src = state["source"]
            assert src["paused"] and src["position"]["t_s"] == pytest.approx(target, abs=1e-6)
            t = meta.start_mono + target
            pack, alarms, seq = expected_at(logged, t)
            assert state["supervisor"]["state"] == pack
            assert state["run"]["events"] == seq
            got = {a["name"]: a["state"] for a in state["alarms"]}
            assert {k: got[k] for k in alarms} == alarms
            k = int(np.searchsorted(rows.t_mono, t, "right"))  # rows up to the position
            assert k > 0
            for j, name in enumerate(names):
                assert same(state["values"][name][0], float(rows.values[k - 1, j]))
            trend = src["trend"]
            assert trend["t_wall"] and max(trend["t_wall"]) == float(rows.t_wall[k - 1])
        web = np.nan_to_num(np.asarray(rows.web_position_m), nan=-np.inf)
        metre = float(np.max(web)) / 2
        before = len(fulls(view))
        assert (await client.command("replay_seek", metre=metre)).ok
        await client.until(lambda: len(fulls(view)) > before, 10)
        k = int(np.flatnonzero(web >= metre)[0])
        src = fulls(view)[-1]["source"]
        assert src["position"]["t_mono"] == float(rows.t_mono[k])
        assert src["position"]["row"] == k + 1  # the row at the metre is the state's
        for j, name in enumerate(names):
            assert same(fulls(view)[-1]["values"][name][0], float(rows.values[k, j]))
        # seek and step, paused: one sample on
        before = len(fulls(view))
        assert (await client.command("replay_step")).ok
        await client.until(lambda: len(fulls(view)) > before, 10)
        assert fulls(view)[-1]["source"]["position"]["row"] == k + 2
        # past the end: refused, naming what the run spans
        far = await client.command("replay_seek", t_s=span * 10)
        assert not far.ok and far.code == "bad_request" and "the run spans" in far.message


async def test_every_command_that_acts_on_a_line_is_refused_with_its_reason(
    run_dir: Path, tmp_path: Path
) -> None:
    async with client_of(run_dir, tmp_path, "--paused") as (client, view):
        for name in sorted(p.API_COMMANDS):
            result = await client.command(name)
            assert not result.ok and result.status == 409 and result.code == "replay", result
            assert name in result.message and f"replay of run {run_dir.name}" in result.message
        for speed in (0.05, 1000.5):
            bad = await client.command("replay_speed", speed=speed)
            assert bad.status == 400 and "0.1x to 1000x" in bad.message, bad
        ok = await client.command("replay_speed", speed=250)
        assert ok.ok
        await client.until(lambda: source(view)["speed"] == 250, 10)
        assert (await client.command("replay_resume")).ok
        await client.until(lambda: not source(view)["paused"], 10)
        assert (await client.command("replay_pause")).ok
        await client.until(lambda: source(view)["paused"], 10)
        assert view.state is not None and view.state["supervisor"]["allowed"] == []
        # a speed that JSON reads as infinite (1e400): refused before any command is
        session = client.session()
        body = '{"command": "replay_speed", "request_id": "inf-1", "speed": 1e400}'
        async with session.post("/v1/commands", data=body) as reply:
            assert reply.status == 400
            text = await reply.text()
        assert "non-finite numbers are refused" in text
        assert source(view)["speed"] == 250


@pytest.mark.parametrize("speed", ["inf", "nan", "0.05", "1001"])
def test_a_speed_outside_the_window_or_not_finite_is_refused_at_start(
    run_dir: Path, tmp_path: Path, speed: str
) -> None:
    sock = tmp_path / "never.sock"
    proc = subprocess.run(
        [sys.executable, "-m", "linecontrol", "replay", str(run_dir), "--speed", speed,
         "--socket", str(sock)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "0.1x to 1000x" in proc.stderr and not sock.exists()


async def test_the_tui_shows_the_replay_banner_on_every_screen_and_its_keys_act(
    run_dir: Path, tmp_path: Path
) -> None:
    from linecontrol.tui.app import LineApp
    from linecontrol.tui.widgets import LineHeader
    from tests.integration.test_tui_serve import text_of, until

    sock = tmp_path / "replay.sock"
    with replaying(run_dir, sock, "--paused", "--speed", "10") as proc:
        async with asyncio.timeout(60):
            while not sock.exists():
                assert proc.poll() is None, sock.with_suffix(".err").read_text()
                await asyncio.sleep(0.05)  # polling interval; the condition decides
        app = LineApp(ApiClient(Address(path=sock), "tui-replay"), repaint_s=0.1)
        async with app.run_test(size=(120, 30)) as pilot:
            live = lambda: app.view.connection(app.now()) == "live"  # noqa: E731
            await until(pilot, live, 30, "the stream is live")

            def header() -> str:
                return text_of(app, LineHeader)

            def src() -> dict[str, Any]:
                return source(app.view)

            banner = f"REPLAY {run_dir.name}"
            for key in ("1", "2", "3", "4", "5", "1"):
                await pilot.press(key)
                await until(pilot, lambda: banner in header(), 10, f"the banner after {key}")
            await until(pilot, lambda: "10x paused" in header(), 10, "10x paused shown")
            await pilot.press("space")
            await until(pilot, lambda: not src()["paused"], 10, "resumed by space")
            await until(pilot, lambda: "paused" not in header(), 10, "the banner not paused")
            await pilot.press("space")
            await until(pilot, lambda: src()["paused"] is True, 10, "paused by space")
            await pilot.press("g")
            await pilot.press(*"300", "enter")
            await until(
                pilot, lambda: src()["position"]["t_s"] == pytest.approx(300.0), 10, "g 300"
            )
            await until(pilot, lambda: "t+300.0 s" in header(), 10, "the banner at 300 s")
            assert app.history  # the trends rebuilt from the full state's window
            await pilot.press("right_square_bracket")
            await until(pilot, lambda: src()["position"]["t_s"] == pytest.approx(360.0), 10, "]")
            await pilot.press("left_square_bracket")
            await until(pilot, lambda: src()["position"]["t_s"] == pytest.approx(300.0), 10, "[")
            row = src()["position"]["row"]
            await pilot.press("n")
            await until(pilot, lambda: src()["position"]["row"] == row + 1, 10, "n steps")
            await pilot.press("plus")
            await until(pilot, lambda: src()["speed"] == 20, 10, "+ faster")
            await pilot.press("minus", "minus")
            await until(pilot, lambda: src()["speed"] == 5, 10, "- slower")
            assert not [c for c, _ in app.sent if c not in rp_commands()]  # nothing else sent


def rp_commands() -> set[str]:
    from linecontrol.server.replay_hub import REPLAY_COMMANDS

    return set(REPLAY_COMMANDS)
