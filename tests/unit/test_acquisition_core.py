"""Pure pieces of acquisition: quality ageing, retry backoff, material tracking."""

from __future__ import annotations

import random

import numpy as np
import pytest

from drivers.device import PollResult
from linecontrol.acquisition import (
    BACKOFF_CAP_S,
    LatestValue,
    Quality,
    Row,
    apply_address_map,
    backoff_s,
    refresh,
)
from linecontrol.config import DEFAULT_LINE, AsciiDevice, TcpDevice, load_line
from linecontrol.process import metre_at_station, when_metre_at_station


def test_good_values_turn_stale_after_three_periods() -> None:
    q = np.array([Quality.GOOD, Quality.GOOD, Quality.INVALID, Quality.STALE], np.uint8)
    t_good = np.array([10.0, 10.0, 0.0, 0.0])
    stale_after = np.array([0.3, 3.0, 0.3, 0.3])  # 3 x 0.1 s and 3 x 1 s periods
    changed = refresh(q, t_good, stale_after, now=10.29)
    assert list(q) == [Quality.GOOD, Quality.GOOD, Quality.INVALID, Quality.STALE]
    assert not changed.any()
    changed = refresh(q, t_good, stale_after, now=10.31)
    assert list(q) == [Quality.STALE, Quality.GOOD, Quality.INVALID, Quality.STALE]
    assert list(changed) == [True, False, False, False]  # INVALID is not downgraded to STALE


def test_backoff_doubles_is_capped_and_jittered() -> None:
    rng = random.Random(1)
    for failures in range(1, 12):
        step = min(BACKOFF_CAP_S, 0.1 * 2 ** (failures - 1))
        for _ in range(50):
            d = backoff_s(failures, 0.1, rng)
            assert 0.5 * step <= d <= step
    assert max(backoff_s(30, 0.1, rng) for _ in range(100)) <= BACKOFF_CAP_S
    spread = {round(backoff_s(5, 0.1, rng), 6) for _ in range(20)}
    assert len(spread) > 10  # jitter: devices failing together do not retry together


def test_material_tracking() -> None:
    # The press is 50 m from the unwind: at web position 120 m it presses metre 70.
    assert metre_at_station(120.0, 50.0) == 70.0
    t = np.array([0.0, 60.0, 120.0])
    pos = np.array([0.0, 30.0, 60.0])  # 0.5 m/s
    assert when_metre_at_station(5.0, 50.0, t, pos) == pytest.approx(110.0)
    assert when_metre_at_station(20.0, 50.0, t, pos) is None


def test_latest_value_wins() -> None:
    slot = LatestValue()
    r1 = Row(1.0, 1.0, 0.0, np.zeros(1), np.zeros(1, np.uint8))
    r2 = Row(2.0, 2.0, 0.0, np.ones(1), np.zeros(1, np.uint8))
    slot.put(r1)
    slot.put(r2)
    assert slot.row is r2 and slot.dropped == 1


def test_address_map_overlay_and_missing_devices() -> None:
    line = load_line(DEFAULT_LINE)
    devices: dict[str, dict[str, object]] = {
        n: {"host": "127.0.0.1", "port": 40000 + i} for i, n in enumerate(line.devices)
    }
    amap = {"devices": devices, "buses": {"oven_bus": {"port": "/dev/pts/9", "parity": "N"}}}
    devices["sputter_psu"]["port"] = "/dev/pts/8"
    new = apply_address_map(line, amap)
    press, psu = new.devices["press"], new.devices["sputter_psu"]
    assert isinstance(press, TcpDevice) and isinstance(psu, AsciiDevice)
    assert press.port == 40000 + list(line.devices).index("press")
    assert psu.serial_port == "/dev/pts/8"
    assert new.buses["oven_bus"].port == "/dev/pts/9"
    del devices["press"]
    with pytest.raises(ValueError, match="does not serve device 'press'"):
        apply_address_map(line, amap)


class _ManualClock:
    def __init__(self) -> None:
        self.t = 100.0

    def monotonic(self) -> float:
        return self.t

    def wall(self) -> float:
        return 1.7e9 + self.t

    async def sleep_until(self, t_mono: float) -> None:
        self.t = max(self.t, t_mono)


class _Driver:
    """An in-memory driver: answers ``values`` or raises ``exc``."""

    def __init__(self, values: dict[str, float] | None = None, exc: Exception | None = None):
        self.values = values or {}
        self.exc = exc

    async def poll(self) -> PollResult:
        if self.exc is not None:
            raise self.exc
        return PollResult(values=dict(self.values))


async def test_a_channel_never_polled_is_waiting_not_stale_and_a_silent_device_is_reported() -> (
    None
):

    from drivers.errors import DeviceTimeout
    from linecontrol.acquisition import Acquisition

    line = load_line(DEFAULT_LINE)
    clock = _ManualClock()
    acq = Acquisition(line, clock, rng=random.Random(1))
    row = acq.sample()
    assert set(row.quality.tolist()) == {Quality.WAITING}  # nothing polled yet: no fault
    fresh = acq.device_report()  # a run stopped before any poll failed no device
    assert not fresh.failed and len(fresh.not_polled) == len(acq.pollers)
    press, drive = acq.pollers["press"], acq.pollers["drive"]
    press.driver = _Driver(exc=DeviceTimeout("no reply"))
    drive.driver = _Driver({n: 1.0 for n in drive.names})

    async def polls() -> None:
        for _ in range(5):
            await acq.poll_once(press)
            await acq.poll_once(drive)
            clock.t += 1.0

    await polls()
    row = acq.sample()
    # A device that never answered stays WAITING (never had a value), never GOOD.
    assert {int(row.quality[c]) for c in press.cols} == {Quality.WAITING}
    assert {int(row.quality[c]) for c in drive.cols} == {Quality.STALE}  # 1 s > 3 x 0.1 s
    report = acq.device_report()
    assert report.devices["press"]["answered"] is False
    assert report.devices["press"]["kinds"] == {"DeviceTimeout": 5}
    assert report.devices["drive"]["answered"] is True and report.devices["drive"]["errors"] == 0
    assert report.failed and "press" in report.never_answered
    line1 = report.line()
    assert "\n" not in line1 and "press never answered (DeviceTimeout 5)" in line1
    assert "drive" not in line1
    assert f"{len(acq.pollers) - 2} not polled before the stop" in line1


async def test_a_device_that_stops_answering_mid_run_fails_the_run() -> None:

    from drivers.errors import DeviceUnreachable
    from linecontrol.acquisition import Acquisition

    clock = _ManualClock()
    acq = Acquisition(load_line(DEFAULT_LINE), clock, rng=random.Random(2))
    for p in acq.pollers.values():
        p.driver = _Driver({n: 1.0 for n in p.names})

    async def polls() -> None:
        for p in acq.pollers.values():
            await acq.poll_once(p)
        assert not acq.device_report().failed
        # The simulator is killed: the drive's connection is refused from now on.
        acq.pollers["drive"].driver = _Driver(exc=DeviceUnreachable("refused"))
        for _ in range(3):
            await acq.poll_once(acq.pollers["drive"])

    await polls()
    report = acq.device_report()
    n = len(acq.pollers)
    assert report.failed and report.never_answered == [] and report.failing_at_end == ["drive"]
    assert report.status() == f"devices failed: 1 of {n} failing at the end"
    assert f"devices: {n} of {n} answered; drive 3 errors, failing at the end" in report.line()
    assert "(DeviceUnreachable 3)" in report.line()


async def test_a_poll_cut_short_by_the_stop_is_no_failure() -> None:
    # A very short run (record --duration 0.001) stops while the first polls are in
    # flight: a poll cancelled before its device could answer is not "never answered".
    import asyncio

    from linecontrol.acquisition import Acquisition

    class _Hangs:
        async def poll(self) -> PollResult:
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

    clock = _ManualClock()
    acq = Acquisition(load_line(DEFAULT_LINE), clock, rng=random.Random(3))
    press = acq.pollers["press"]
    press.driver = _Hangs()

    async def cut() -> None:
        task = asyncio.create_task(acq.poll_once(press))
        await asyncio.sleep(0)  # the request is on its way
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    await cut()
    report = acq.device_report()
    assert not report.failed and report.never_answered == []
    assert "press" in report.not_polled and report.status() == ""
