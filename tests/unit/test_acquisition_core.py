"""Pure pieces of acquisition: quality ageing, retry backoff, material tracking."""

from __future__ import annotations

import random

import numpy as np
import pytest

from linecontrol.acquisition import LatestValue, Row, apply_address_map
from linecontrol.line import load_line
from linecontrol.paths import DEFAULT_LINE
from linecontrol.quality import BACKOFF_CAP_S, Quality, backoff_s, refresh
from linecontrol.tracking import metre_at_station, when_metre_at_station


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
    amap = {
        "devices": {
            n: {"host": "127.0.0.1", "port": 40000 + i} for i, n in enumerate(line.devices)
        },
        "buses": {"oven_bus": {"port": "/dev/pts/9", "parity": "N"}},
    }
    amap["devices"]["sputter_psu"]["port"] = "/dev/pts/8"
    new = apply_address_map(line, amap)
    assert new.devices["press"].port == 40000 + list(line.devices).index("press")
    assert new.devices["sputter_psu"].serial_port == "/dev/pts/8"
    assert new.buses["oven_bus"].port == "/dev/pts/9"
    del amap["devices"]["press"]
    with pytest.raises(ValueError, match="does not serve device 'press'"):
        apply_address_map(line, amap)
