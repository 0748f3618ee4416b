"""The end-to-end checks themselves, on samples made here: a reading out of band while
a metre is in the zone fails that metre (and only the metres it was in the zone for),
a reading that is not GOOD is no reading, a metre without any GOOD reading fails, and
only metres whose whole passage fell in Execute are judged."""

from __future__ import annotations

import numpy as np

from linecontrol.model import Channel, Quality
from linecontrol.runlog import Samples
from tests.e2e.runcheck import Report, Window, _check_window

CH = "zone_C01.temp_pv_c"
ZONE = Window("zone C01", 22.0, 24.0, CH, (145.0, 155.0))
ROW_S = 10.0
SPEED_M_S = 1.0 / 60.0  # 1 m/min


def _samples(values: np.ndarray, quality: np.ndarray | None = None) -> Samples:
    t = np.arange(len(values)) * ROW_S
    q = np.full(len(values), int(Quality.GOOD), np.uint8) if quality is None else quality
    return Samples(
        channels=[Channel(CH)],
        t_mono=t,
        t_wall=t,
        web_position_m=t * SPEED_M_S,
        values=values.reshape(-1, 1).astype(float),
        quality=q.reshape(-1, 1),
    )


def _check(s: Samples, t0: float, t1: float) -> Report:
    report = Report(states=[], execute=(t0, t1))
    _check_window(ZONE, s, t0, t1, report)
    return report


def _row_at(position_m: float) -> int:
    return round(position_m / SPEED_M_S / ROW_S)


def test_every_metre_in_band_passes_and_is_counted() -> None:
    s = _samples(np.full(400, 150.0))  # 400 rows: 66 m of web
    t0, t1 = 0.0, float(s.t_mono[-1])
    report = _check(s, t0, t1)
    assert report.failures == []
    # Metres -22 .. 41 pass the whole zone (22..24 m from the unwind) between t0 and t1
    # (the web moves from 0 to 66.5 m).
    assert report.metres["zone C01"] == 64


def test_one_reading_out_of_band_fails_the_metres_in_the_zone_then() -> None:
    v = np.full(400, 150.0)
    v[_row_at(40.5)] = 160.0  # web at 40.5 m: metres 16, 17 and 18 are (partly) in C01
    report = _check(_samples(v), 0.0, 3990.0)
    failed = sorted(int(f.split("metre ")[1].split(" ")[0]) for f in report.failures)
    assert failed == [16, 17, 18]


def test_a_reading_not_good_is_no_reading() -> None:
    v = np.full(400, 150.0)
    q = np.full(400, int(Quality.GOOD), np.uint8)
    i = _row_at(40.5)
    v[i], q[i] = 999.0, int(Quality.STALE)
    assert _check(_samples(v, q), 0.0, 3990.0).failures == []
    # A metre in the zone with no GOOD reading at all (the one in force at entry too) fails.
    q[_row_at(30.0) - 1 : _row_at(36.0)] = int(Quality.INVALID)
    report = _check(_samples(v, q), 0.0, 3990.0)
    assert any("metre 9: no GOOD reading" in f for f in report.failures)


def test_only_metres_through_the_zone_in_execute_are_judged() -> None:
    v = np.full(400, 150.0)
    v[: _row_at(30.0)] = 25.0  # cold before Execute began (at the web's 30 m)
    v[_row_at(60.0) :] = 50.0  # standby after it ended (at 60 m)
    report = _check(_samples(v), _row_at(30.0) * ROW_S, _row_at(60.0) * ROW_S)
    assert report.failures == []
    assert report.metres["zone C01"] == 28  # metres 8 .. 35: in at 30 m or later, out by 60 m
