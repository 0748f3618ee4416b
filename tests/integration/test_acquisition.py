"""Acquisition against the simulated line: quality transitions within their bounds,
counted in sampler rows (10 Hz) and poll cycles, while the other devices keep their rate."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from linecontrol.acquisition import (
    BACKOFF_CAP_S,
    Acquisition,
    LatestValue,
    Quality,
    Row,
    apply_address_map,
)
from linecontrol.config import DEFAULT_LINE, load_line
from linecontrol.model import DeviceFailed, DeviceRecovered, Event, QualityChanged
from linecontrol.runtime import SystemClock
from simulators.devices import LineDriveSim
from simulators.line import SimLine
from simulators.models.web import WebState
from tests.integration.simline import served_line

pytestmark = pytest.mark.integration
SAMPLE_S = 0.1


@asynccontextmanager
async def acquiring() -> AsyncIterator[tuple[SimLine, Acquisition, LatestValue, list[Event]]]:
    async with served_line() as line:
        cfg = apply_address_map(load_line(DEFAULT_LINE), line.address_map())
        events: list[Event] = []
        acq = Acquisition(cfg, SystemClock(), sample_hz=1 / SAMPLE_S, on_event=events.append)
        slot = acq.subscribe_latest()
        task = asyncio.create_task(acq.run())
        try:
            yield line, acq, slot, events
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def rows_until(
    acq: Acquisition, slot: LatestValue, cond: Callable[[Row], bool], limit: int
) -> tuple[int, Row]:
    """Sampler rows until ``cond`` holds (the bound, in rows, is ``limit``)."""
    for n in range(1, limit + 1):
        row = await slot.get()
        if cond(row):
            return n, row
    raise AssertionError(f"condition not met within {limit} sampler rows")


def q_of(acq: Acquisition, row: Row, ch: str) -> Quality:
    return Quality(int(row.quality[acq.snapshot.index[ch]]))


async def test_all_devices_good_and_web_position_on_every_row() -> None:
    async with acquiring() as (_line, acq, slot, _):
        # Every device has answered within its first poll period plus a few rows.
        _n, row = await rows_until(acq, slot, lambda r: bool((r.quality == 0).all()), 40)
        assert math.isfinite(row.web_position_m)
        assert row.values[acq.snapshot.index["zone_C01.temp_pv_c"]] == pytest.approx(25.0)


@pytest.mark.deadline(40)
async def test_a_silent_device_turns_stale_within_three_periods_others_keep_their_rate() -> None:
    async with acquiring() as (line, acq, slot, events):
        await rows_until(acq, slot, lambda r: bool((r.quality == 0).all()), 40)
        drive = acq.pollers["drive"]
        polls_before = drive.polls
        line.devices["press"].faults.no_reply = True
        # press: 10 Hz, so STALE 3 periods (0.3 s) after its last good value, on
        # our clock: at most 3 rows plus the row in flight and the poll in flight.
        n, row = await rows_until(
            acq, slot, lambda r: q_of(acq, r, "press.top_temp_pv_c") == Quality.STALE, 6
        )
        assert n <= 6
        assert q_of(acq, row, "drive.speed_pv_m_min") == Quality.GOOD
        # While the press stays silent (20 rows = 2 s), the 10 Hz drive keeps its rate.
        for _ in range(20):
            row = await slot.get()
            assert q_of(acq, row, "drive.speed_pv_m_min") == Quality.GOOD
            assert q_of(acq, row, "press.top_temp_pv_c") == Quality.STALE
        assert drive.polls - polls_before >= 18
        assert any(isinstance(e, DeviceFailed) and e.device == "press" for e in events)
        # Its channels aged into STALE together: one event for all of them.
        [aged] = [
            e
            for e in events
            if isinstance(e, QualityChanged) and e.device == "press" and e.new == "STALE"
        ]
        assert aged.old == "GOOD" and "press.top_temp_pv_c" in aged.channels
        assert all(c.startswith("press.") for c in aged.channels)
        # The press is retried with backoff, at most the cap apart: recovery is bounded.
        line.devices["press"].faults.no_reply = False
        limit = math.ceil((BACKOFF_CAP_S + 0.5 + 0.1) / SAMPLE_S) + 2
        await rows_until(
            acq, slot, lambda r: q_of(acq, r, "press.top_temp_pv_c") == Quality.GOOD, limit
        )
        assert any(isinstance(e, DeviceRecovered) and e.device == "press" for e in events)
        assert (
            QualityChanged(device="press", channels=aged.channels, old="STALE", new="GOOD")
            in events
        )


async def test_garbage_makes_a_device_invalid_and_never_a_value() -> None:
    async with acquiring() as (line, acq, slot, events):
        await rows_until(acq, slot, lambda r: bool((r.quality == 0).all()), 40)
        line.devices["coater_1"].faults.garbage = True
        # coater 5 Hz: the next poll (≤ 0.2 s) gets garbage, detected at its 0.5 s deadline.
        limit = math.ceil((0.2 + 0.5) / SAMPLE_S) + 2
        _n, row = await rows_until(
            acq,
            slot,
            lambda r: q_of(acq, r, "coater_1.flow_pv_ml_min") == Quality.INVALID,
            limit,
        )
        i = acq.snapshot.index["coater_1.flow_pv_ml_min"]
        assert math.isnan(row.values[i])
        assert any(isinstance(e, DeviceFailed) and e.state == "invalid" for e in events)
        assert any(
            isinstance(e, QualityChanged)
            and e.device == "coater_1"
            and "coater_1.flow_pv_ml_min" in e.channels
            and (e.old, e.new) == ("GOOD", "INVALID")
            for e in events
        )


async def test_dropped_connection_then_reconnect() -> None:
    async with acquiring() as (line, acq, slot, _):
        await rows_until(acq, slot, lambda r: bool((r.quality == 0).all()), 40)
        line.devices["drive"].faults.drop_connection = True
        await rows_until(
            acq, slot, lambda r: q_of(acq, r, "drive.speed_pv_m_min") != Quality.GOOD, 10
        )
        line.devices["drive"].faults.drop_connection = False
        limit = math.ceil((BACKOFF_CAP_S + 0.5 + 0.1) / SAMPLE_S) + 2
        await rows_until(
            acq, slot, lambda r: q_of(acq, r, "drive.speed_pv_m_min") == Quality.GOOD, limit
        )


@pytest.mark.deadline(40)
async def test_dead_unit_on_the_bus_goes_stale_other_units_stay_good() -> None:
    async with acquiring() as (line, acq, slot, _):
        await rows_until(acq, slot, lambda r: bool((r.quality == 0).all()), 40)
        line.devices["zone_C01"].faults.no_reply = True
        zone = acq.pollers["zone_C02"]
        before = zone.polls
        # 1 Hz zone: STALE 3 s after its last good value: at most 30 rows + in flight.
        await rows_until(
            acq, slot, lambda r: q_of(acq, r, "zone_C01.temp_pv_c") == Quality.STALE, 42
        )
        row = await slot.get()
        others = [
            c for c in acq.snapshot.index if c.startswith("zone_") and not c.startswith("zone_C01.")
        ]
        assert all(q_of(acq, row, c) == Quality.GOOD for c in others)
        assert zone.polls - before >= 2  # its 1 Hz rate went on


async def test_which_metre_is_at_which_station() -> None:
    async with acquiring() as (line, acq, slot, _):
        drive = line.devices["drive"]
        assert isinstance(drive, LineDriveSim)
        drive.state = WebState(position_m=120.0)
        drive.publish()
        await rows_until(acq, slot, lambda r: r.web_position_m == 120.0, 20)
        at = acq.metres_at_stations()
        assert at["unwind"] == 120.0 and at["press"] == 70.0  # the press is 50 m along
        assert at["rewind"] == 67.0
