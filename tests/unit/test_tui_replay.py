"""The TUI's replay helpers (pure): the banner, the speeds of + and -, the seek targets
of [ ] and the seek dialog's entry, the trend window of a full state."""

from __future__ import annotations

from typing import Any

import pytest

from linecontrol.api import LineView
from linecontrol.tui import replay as rp


def view_of(source: dict[str, Any] | None) -> LineView:
    view = LineView()
    state: dict[str, Any] = {"api": 1, "supervisor": {"state": "Execute"}, "values": {}}
    if source is not None:
        state["source"] = source
    view.apply({"type": "full", "seq": 1, "state": state}, 0.0)
    return view


SRC = {
    "kind": "replay", "run": "r-1", "speed": 2.5, "paused": True, "finished": False,
    "position": {"t_s": 120.25, "metre": 40.0}, "span": {"t_s": 600.0},
    "trend": {"t_wall": [1.0, 2.0, 3.0], "values": {"a": [1.5, None, 2.5], "b": "lie"}},
}  # fmt: skip


def test_the_banner_says_replay_run_position_speed_and_paused() -> None:
    assert rp.banner(view_of(SRC)) == "REPLAY r-1 t+120.2 s 40.0 m 2.5x paused"
    assert rp.banner(view_of({**SRC, "paused": False, "finished": True})).endswith("2.5x (end)")
    assert rp.banner(view_of({"kind": "live"})) == ""
    assert rp.banner(view_of(None)) == ""
    assert rp.banner(view_of(SRC), 10) == "REPLAY r-…"


def test_speeds_step_through_the_window_and_stop_at_its_ends() -> None:
    assert rp.next_speed(10, True) == 20 and rp.next_speed(10, False) == 5
    assert rp.next_speed(1000, True) == 1000 and rp.next_speed(0.1, False) == 0.1
    assert rp.next_speed(3, True) == 5 and rp.next_speed(3, False) == 2


def test_seeks_stay_within_the_run() -> None:
    view = view_of(SRC)
    assert rp.seek_by(view, 60) == pytest.approx(180.25)
    assert rp.seek_by(view, -600) == 0.0 and rp.seek_by(view, 6000) == 600.0
    assert rp.seek_by(view_of({"kind": "live"}), 60) is None


@pytest.mark.parametrize(
    ("entry", "fields"),
    [("120", {"t_s": 120.0}), ("120s", {"t_s": 120.0}), (" 45m ", {"metre": 45.0})],
)
def test_the_seek_entry_is_seconds_or_a_metre(entry: str, fields: dict[str, float]) -> None:
    assert rp.parse_seek(entry) == fields


@pytest.mark.parametrize("entry", ["", "abc", "nan", "infm", "1e400"])
def test_a_seek_entry_not_a_finite_number_is_refused(entry: str) -> None:
    with pytest.raises(ValueError):
        rp.parse_seek(entry)


def test_the_trend_window_keeps_good_values_only() -> None:
    assert rp.trend_points(view_of(SRC)) == {"a": [(1.0, 1.5), (3.0, 2.5)]}
