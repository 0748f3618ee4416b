"""The replay player (pure): recorded order and its tie rule, pace and speed, pause,
resume, seek to a time or a metre, step. Time is injected: every call takes ``now``."""

from __future__ import annotations

import math

import numpy as np
import pytest

from linecontrol.errors import InvalidArgument
from linecontrol.model import LoggedEvent, UnknownEvent
from linecontrol.replay import (
    ArrayRows,
    ArraySource,
    Due,
    InvalidSpeed,
    Player,
    RowsDue,
    SeekOutOfRange,
)

ROWS = 80
DT = 0.125  # exact in binary: times compare exactly
T0 = 100.0


def _source(web: np.ndarray | None = None) -> ArraySource:
    t = T0 + DT * np.arange(ROWS)
    w = 0.5 * np.arange(ROWS) if web is None else web
    values = np.arange(ROWS * 3, dtype=float).reshape(ROWS, 3)
    quality = (np.arange(ROWS * 3) % 4).astype(np.uint8).reshape(ROWS, 3)
    return ArraySource(ArrayRows(t, t + 1.7e9, w, values, quality))


def _events(times: list[float]) -> list[LoggedEvent]:
    return [
        LoggedEvent(i + 1, t, t + 1.7e9, UnknownEvent(name=f"E{i + 1}", v=1, data={}, problem=""))
        for i, t in enumerate(times)
    ]


# Before the first row, at a row's time (a tie), between rows, two at one time, after
# the last row; and one whose time goes back (logged later than its time says).
EVENT_TIMES = [99.0, T0 + 2 * DT, T0 + 2.5 * DT, T0 + 7 * DT, T0 + 7 * DT, T0 + 5 * DT, 200.0]


def _flat(items: list[Due]) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for it in items:
        if isinstance(it, RowsDue):
            n = len(it.rows.t_mono)
            assert np.array_equal(it.rows.t_mono, T0 + DT * np.arange(it.first, it.first + n))
            assert np.array_equal(
                it.rows.values[:, 0], 3.0 * np.arange(it.first, it.first + n)
            )  # the row's own values
            out += [("row", it.first + i) for i in range(n)]
        else:
            out.append(("ev", it.seq))
    return out


def _expected(times: list[float]) -> list[tuple[str, int]]:
    """The rule, written out: a stable merge by time, rows before events at a tie,
    the events' log order kept."""
    t = T0 + DT * np.arange(ROWS)
    out: list[tuple[str, int]] = []
    k = 0
    for seq, et in enumerate(times, 1):
        while k < ROWS and t[k] <= et:
            out.append(("row", k))
            k += 1
        out.append(("ev", seq))
    out += [("row", i) for i in range(k, ROWS)]
    return out


def _drain(p: Player, now: float) -> list[tuple[str, int]]:
    return _flat(p.due(now))


FULL = _expected(EVENT_TIMES)


def test_the_whole_run_comes_back_in_recorded_order_with_rows_before_events_at_a_tie() -> None:
    p = Player(_source(), _events(EVENT_TIMES), now=0.0, speed=1000.0)
    assert _drain(p, 1.0) == FULL and p.finished
    # The tie: the event at row 2's time comes after row 2, before row 3 (and so
    # does E3, between the two rows' times).
    i = FULL.index(("ev", 2))
    assert FULL[i - 1 : i + 3] == [("row", 2), ("ev", 2), ("ev", 3), ("row", 3)]
    # The event whose time goes back stays in its place in the log, after E5.
    assert FULL.index(("ev", 6)) == FULL.index(("ev", 5)) + 1
    assert p.due(2.0) == []


def test_items_come_due_at_their_recorded_pace_times_the_speed() -> None:
    p = Player(_source(), [], now=50.0)
    assert _drain(p, 50.0) == [("row", 0)]  # the start is due at once
    assert _drain(p, 50.0 + 2 * DT) == [("row", 1), ("row", 2)]
    assert _drain(p, 50.0 + 2 * DT) == []
    p.set_speed(4.0, 50.0 + 2 * DT)
    assert _drain(p, 50.0 + 3 * DT) == [("row", i) for i in range(3, 7)]  # 4 rows a row-time
    p.set_speed(0.5, 50.0 + 3 * DT)
    assert _drain(p, 50.0 + 4 * DT) == []  # half a row's time
    assert _drain(p, 50.0 + 5 * DT) == [("row", 7)]
    assert p.replay_time(50.0 + 5 * DT) == T0 + 7 * DT


@pytest.mark.parametrize("speed", [0.1, 1000.0, 1, 999.99])
def test_speeds_at_the_edges_are_accepted(speed: float) -> None:
    p = Player(_source(), [], now=0.0, speed=speed)
    assert p.speed == speed
    p.set_speed(speed, 1.0)
    assert p.speed == speed


@pytest.mark.parametrize("speed", [0.099, 1000.1, 0.0, -1.0, 1e9])
def test_speeds_outside_the_window_are_refused_naming_it(speed: float) -> None:
    with pytest.raises(InvalidSpeed, match=r"outside 0\.1x to 1000x"):
        Player(_source(), [], now=0.0, speed=speed)
    p = Player(_source(), [], now=0.0, speed=2.0)
    with pytest.raises(InvalidSpeed, match=r"outside 0\.1x to 1000x"):
        p.set_speed(speed, 1.0)
    assert p.speed == 2.0 and p.replay_time(1.0) == T0 + 2.0  # nothing changed


@pytest.mark.parametrize("speed", [math.nan, math.inf, -math.inf])
def test_a_speed_that_is_not_finite_is_refused(speed: float) -> None:
    p = Player(_source(), [], now=0.0)
    with pytest.raises(InvalidSpeed, match="finite"):
        p.set_speed(speed, 0.0)
    assert issubclass(InvalidSpeed, ValueError)


def test_pause_and_resume_keep_the_position() -> None:
    p = Player(_source(), _events(EVENT_TIMES), now=0.0)
    got = _drain(p, 1.0)  # about 8 rows
    p.pause(1.0)
    t = p.replay_time(1.0)
    assert p.due(500.0) == [] and p.replay_time(500.0) == t and p.paused
    p.resume(500.0)
    got += _drain(p, 500.5)
    p.pause(500.5)
    p.resume(900.0)
    got += _drain(p, 10_000.0)
    assert got == FULL  # nothing lost, nothing twice


def test_seek_forward_and_back_then_play_gives_the_logged_items_from_there() -> None:
    times = EVENT_TIMES
    p = Player(_source(), _events(times), now=0.0, speed=1000.0)
    now = 0.0
    row_t = T0 + DT * np.arange(ROWS)
    targets = [T0 + 40 * DT, T0 + 3 * DT, T0 + 60.5 * DT, 0.0, T0 + 2 * DT, T0 + 7 * DT, 150.0]
    for target in targets:
        now += 1.0
        p.seek_time(target, now)
        # The first item at or after the target, in recorded order, and all after it.
        first = next(
            i
            for i, (kind, n) in enumerate(FULL)
            if (row_t[n] if kind == "row" else times[n - 1]) >= target
        )
        now += 1.0
        assert _drain(p, now) == FULL[first:], target


def test_seek_to_a_metre_starts_at_the_first_row_at_or_past_it() -> None:
    # Forward to row 30, a stand, a jog back, forward again.
    web = np.concatenate([np.arange(30.0), np.full(10, 29.0), np.arange(29.0, 19.0, -1)])
    web = np.concatenate([web, np.arange(20.0, 20.0 + ROWS - len(web))])
    assert len(web) == ROWS
    p = Player(_source(web), _events(EVENT_TIMES), now=0.0, speed=1000.0)
    now = 0.0
    for metre, row in [(29.0, 29), (28.5, 29), (0.0, 0), (41.0, 71), (12.0, 12)]:
        now += 1.0
        p.seek_metre(metre, now)
        assert p.replay_time(now) == T0 + row * DT
        now += 1.0
        got = _drain(p, now)
        assert got[0] == ("row", row) and got == FULL[FULL.index(("row", row)) :], metre
    with pytest.raises(SeekOutOfRange, match=r"never reached 49\.5 m"):
        p.seek_metre(49.5, now)


def test_step_gives_one_sample_at_a_time_with_the_events_before_it() -> None:
    p = Player(_source(), _events(EVENT_TIMES), now=0.0)
    first = p.step(0.0)
    assert _flat(first) == [("ev", 1), ("row", 0)] and p.paused
    got = _flat(first)
    for _ in range(ROWS + 3):
        got += _flat(p.step(0.0))
        got += _drain(p, 0.0)  # what is due at the stepped time (events at a tie)
    assert got == FULL and p.finished
    assert p.step(0.0) == []


def test_a_seek_past_the_run_and_bad_times_are_refused() -> None:
    p = Player(_source(), _events([99.0]), now=10.0)
    with pytest.raises(SeekOutOfRange, match="nothing of the run at or after"):
        p.seek_time(T0 + ROWS * DT, 11.0)
    with pytest.raises(InvalidArgument, match="finite"):
        p.seek_time(math.nan, 11.0)
    with pytest.raises(InvalidArgument, match="finite"):
        p.seek_metre(math.inf, 11.0)
    with pytest.raises(InvalidArgument, match="went back"):
        p.due(9.0)
    with pytest.raises(InvalidArgument, match="finite"):
        p.due(math.nan)
    assert _drain(p, 11.0) == [("ev", 1), ("row", 0)]  # the position did not move


def test_after_a_seek_the_trend_window_is_the_rows_before_the_new_position() -> None:
    p = Player(_source(), [], now=0.0)
    p.seek_time(T0 + 50 * DT, 1.0)
    w = p.trend_window(10 * DT, 1.0)
    assert np.array_equal(w.t_mono, T0 + DT * np.arange(40, 50))
    with pytest.raises(InvalidArgument):
        p.trend_window(-1.0, 1.0)
