"""The simulators as a child process on a shared clock, with faults injected at run
time through their lifeline (``python -m simulators --lifeline``: JSON fault lines on
standard input, one JSON answer line each on standard output), seen by a driver over
real Modbus TCP on loopback. Every wait has a deadline; nothing sleeps to synchronise
(the polls below wait for a condition)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from drivers.device import ModbusDevice
from drivers.devices import MODBUS_MAPS
from drivers.links.modbus_tcp import ModbusTcpLink
from linecontrol.acquisition import STALE_PERIODS, Acquisition, Quality, apply_address_map
from linecontrol.config import DEFAULT_LINE, load_line
from linecontrol.runtime import (
    ChildGone,
    ChildNoAnswer,
    ChildRefused,
    ChildRequestError,
    ChildRequests,
    ScaledClock,
    clear_faults,
    inject_faults,
    start_child,
    stop_child,
)

pytestmark = pytest.mark.integration

SIM = [sys.executable, "-m", "simulators", "--lifeline", "--config", str(DEFAULT_LINE)]
WEB_BREAK_BIT = 1 << 2  # drivers/devices/line_drive.py STATUS_BITS


@asynccontextmanager
async def sim_child(*extra: str) -> AsyncIterator[tuple[asyncio.subprocess.Process, Any]]:
    proc = await start_child([*SIM, *extra], stderr=asyncio.subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        amap = json.loads(await asyncio.wait_for(proc.stdout.readline(), 10))
        yield proc, amap
    finally:
        await stop_child(proc, 5)


def drive_of(amap: Any) -> ModbusDevice:
    d = amap["devices"]["drive"]
    link = ModbusTcpLink(d["host"], d["port"], timeout_s=1.0, name="drive")
    return ModbusDevice("drive", MODBUS_MAPS[d["model"]], link, d["unit"])


async def status_until(drive: ModbusDevice, broken: bool, deadline_s: float) -> int:
    """Poll the drive's status word until its web-break bit is ``broken``."""
    async with asyncio.timeout(deadline_s):
        while True:
            status = int(await drive.read("status"))
            if bool(status & WEB_BREAK_BIT) == broken:
                return status
            await asyncio.sleep(0.01)  # polling interval: the condition decides


async def test_a_web_break_injected_mid_run_shows_in_the_drives_status_over_modbus() -> None:
    async with sim_child("--speedup", "10") as (proc, amap):
        drive = drive_of(amap)
        try:
            await status_until(drive, False, 5)
            req = ChildRequests(proc)
            await inject_faults(req, "drive", {"web_break": True}, deadline_s=5)
            await status_until(drive, True, 5)
            assert await drive.read("fault_code") == 1
            # Cleared with the line stopped (run_cmd 0): the web is re-threaded.
            await clear_faults(req, "drive", deadline_s=5)
            await status_until(drive, False, 5)
            assert await drive.read("fault_code") == 0
        finally:
            await drive.link.close()


async def test_a_bad_fault_line_is_refused_with_its_reason_and_changes_nothing() -> None:
    async with sim_child() as (proc, amap):
        req = ChildRequests(proc)
        cases: list[tuple[dict[str, Any], str]] = [
            ({"device": "nope", "faults": {"web_break": True}}, "no device 'nope'"),
            ({"device": "drive", "faults": {"melt": True}}, "unknown fault 'melt'"),
            ({"device": "drive", "faults": {"web_break": "yes"}}, "true or false"),
            ({"device": "drive", "faults": {"delay_s": -1}}, "finite number >= 0"),
            (
                {"device": "drive", "faults": {"web_break": True, "delay_s": "x"}},
                "delay_s = 'x'",
            ),
            ({"device": "drive"}, '"clear": true'),
            ({"device": "drive", "clear": True, "faults": {}}, "not both"),
            ({"device": "drive", "colour": "red"}, "unknown field"),
        ]
        for message, reason in cases:
            with pytest.raises(ChildRefused, match=reason) as err:
                await req.request(message, deadline_s=5)
            assert isinstance(err.value, ValueError) and isinstance(err.value, ChildRequestError)
        # Lines that are not JSON objects, written raw: refused, answered, no crash.
        assert proc.stdin is not None and proc.stdout is not None
        for raw in (b"not json\n", b"[1, 2]\n", b'{"device": "drive", "faults": NaN}\n', b"\xff\n"):
            proc.stdin.write(raw)
            await proc.stdin.drain()
            answer = json.loads(await asyncio.wait_for(proc.stdout.readline(), 5))
            assert answer["ok"] is False and answer["error"]
        # A line longer than the limit is refused whole, once.
        proc.stdin.write(b'{"device": "' + b"x" * 70_000 + b'"}\n')
        await proc.stdin.drain()
        answer = json.loads(await asyncio.wait_for(proc.stdout.readline(), 5))
        assert answer == {"ok": False, "error": "a request line longer than 65536 bytes"}
        # The half-valid request above set nothing: delay_s was wrong, so web_break was
        # not set either; the drive still answers without a break.
        drive = drive_of(amap)
        try:
            status = int(await drive.read("status"))
            assert not status & WEB_BREAK_BIT
        finally:
            await drive.link.close()
        assert proc.returncode is None
        await req.request({"device": "drive", "clear": True}, deadline_s=5)


async def test_end_of_file_on_the_lifeline_still_stops_the_simulators_cleanly() -> None:
    proc = await start_child([*SIM, "--speedup", "50"])
    try:
        assert proc.stdout is not None and proc.stdin is not None and proc.stderr is not None
        json.loads(await asyncio.wait_for(proc.stdout.readline(), 10))
        req = ChildRequests(proc)
        await inject_faults(req, "press", {"press_overload": True}, deadline_s=5)
        proc.stdin.write(b'{"device": "press", "clear": true}')  # no newline: never a request
        await proc.stdin.drain()
        proc.stdin.close()
        assert await asyncio.wait_for(proc.wait(), 10) == 0
        assert b"simulators stopped" in await asyncio.wait_for(proc.stderr.read(), 5)
        with pytest.raises(ChildGone):
            await req.request({"device": "press", "clear": True}, deadline_s=5)
    finally:
        await stop_child(proc, 5)


async def test_a_child_that_never_answers_or_has_ended_is_a_typed_error() -> None:
    silent = await start_child([sys.executable, "-c", "import sys; sys.stdin.read()"])
    try:
        req = ChildRequests(silent)
        with pytest.raises(ChildNoAnswer) as err:
            await req.request({"device": "drive", "clear": True}, deadline_s=0.3)
        assert isinstance(err.value, TimeoutError)
    finally:
        await stop_child(silent, 5)
    chatty = await start_child([sys.executable, "-c", "print('hello')"])
    try:
        with pytest.raises(ChildGone, match="not JSON"):
            await ChildRequests(chatty).request({"device": "d", "clear": True}, deadline_s=5)
    finally:
        await stop_child(chatty, 5)


async def test_the_simulators_run_on_the_parents_scaled_clock() -> None:
    """Given the parent's epoch and speed-up, the child's physics follow the parent's
    ScaledClock: the web position advances at the drive's speed by the simulated time
    that clock says has passed (bounded by the simulators' tick, in simulated time)."""
    speedup = 200.0
    clock = ScaledClock(speedup, time.monotonic() - 0.5)
    async with sim_child(*clock.simulator_args()) as (_proc, amap):
        assert amap["speedup"] == speedup and amap["epoch"] == clock.epoch
        drive = drive_of(amap)
        try:
            await drive.write_setpoint("speed_sp_m_min", 10.0)
            await drive.write_setpoint("run_cmd", 1)
            async with asyncio.timeout(10):
                while await drive.read("speed_pv_m_min") < 10.0:  # 20 s of simulated ramp
                    await asyncio.sleep(0.01)
            samples = []
            for _ in range(2):
                before = clock.monotonic()
                pos = float(await drive.read("web_position_m"))
                samples.append((before, pos, clock.monotonic()))
                await clock.sleep_until(clock.monotonic() + 300.0)  # 5 simulated minutes
        finally:
            await drive.link.close()
    (b1, p1, a1), (b2, p2, a2) = samples
    moved_s = (p2 - p1) / 10.0 * 60.0  # simulated seconds at 10 m/min
    # The simulators step every 50 ms of real time; under load a step may come late.
    slack = 0.05 * speedup * 8  # eight ticks, in simulated time: 80 s of the 300 s
    assert moved_s > 0.5 * 300.0
    assert (b2 - a1) - slack <= moved_s <= (a2 - b1) + slack


async def test_time_scale_is_the_older_name_of_speedup() -> None:
    async with sim_child("--time-scale", "7.5") as (_proc, amap):
        assert amap["speedup"] == 7.5 and amap["time_scale"] == 7.5
        assert amap["epoch"] <= time.monotonic()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--epoch", "nan"], "--epoch nan: a reading of the monotonic clock"),
        (["--epoch", "1e12"], "not after now"),
        (["--speedup", "0"], "--speedup (--time-scale) must be a positive number"),
        (["--speedup", "2", "--time-scale", "3"], "not allowed with argument"),
    ],
)
def test_a_bad_speedup_or_epoch_is_refused_before_anything_starts(
    args: list[str], message: str
) -> None:
    done = subprocess.run([*SIM, *args], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and message in done.stderr
    assert done.stdout == ""


@pytest.mark.deadline(40)
async def test_acquisition_at_speedup_300_on_the_shared_clock_counts_a_lost_device_in_polls() -> (
    None
):
    """End to end at speed-up 300: acquisition and the simulators on one ScaledClock;
    no device is polled faster than its configured rate in real time; a no-reply fault
    injected mid-run turns the press's channels STALE after three of its (stretched)
    poll periods, never before, and within two more."""
    speedup = 300.0
    clock = ScaledClock(speedup)
    async with sim_child(*clock.simulator_args()) as (proc, amap):
        cfg = apply_address_map(load_line(DEFAULT_LINE), amap)
        acq = Acquisition(cfg, clock, sample_hz=10.0)
        press = acq.pollers["press"]
        period = press.period_s
        assert period == pytest.approx(speedup * cfg.devices["press"].period_s)
        slot = acq.subscribe_latest()
        col = acq.snapshot.index["press.top_temp_pv_c"]
        real_start = time.monotonic()
        task = asyncio.create_task(acq.run())
        try:
            async with asyncio.timeout(15):
                while (await slot.get()).quality[col] != Quality.GOOD:
                    pass
                await inject_faults(ChildRequests(proc), "press", {"no_reply": True}, 5)
                while (row := await slot.get()).quality[col] == Quality.GOOD:
                    pass
            assert row.quality[col] == Quality.STALE
            aged = row.t_mono - acq.snapshot.t_good[col]
            assert STALE_PERIODS * period < aged <= (STALE_PERIODS + 2) * period
            real_s = time.monotonic() - real_start
            for name, p in acq.pollers.items():
                configured = cfg.devices[name].period_s
                assert p.polls <= real_s / configured + 1, name
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
