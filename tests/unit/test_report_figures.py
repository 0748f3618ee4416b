"""The report's figures (``linecontrol.report.figures``, pure) on hand-built data: bands
inclusive at their edges, NaN and non-GOOD samples never values, excursions where they
are, capability only from enough segments, the stops with their causes, the operator's
actions, and a whole run of the real line and recipe put on product metres."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from linecontrol.config import DEFAULT_LINE, load_line, load_recipe
from linecontrol.model import (
    AlarmChanged,
    AlarmRaised,
    CommandGiven,
    CommandRejected,
    Event,
    LoggedEvent,
    Start,
    StateChanged,
    Stop,
)
from linecontrol.report.figures import (
    MIN_SEGMENTS,
    MetreRanges,
    ReportInputError,
    RunData,
    capability,
    compute,
    in_band,
    inside,
    metre_ranges,
    metre_status,
    state_spans,
    stops_of,
    trace,
)
from linecontrol.report.windows import process_windows

RECIPE = Path(__file__).parents[1] / "integration" / "data" / "fault-run.toml"


def ranges(n: int, per: int = 4) -> tuple[np.ndarray, MetreRanges]:
    """A web moving 1/per m a sample from 0: ``n`` whole metres at a point station."""
    pos = np.arange(n * per + 1) / per
    return pos, metre_ranges(pos, 0, n, 0.0, 0.0)


def test_a_value_exactly_on_a_band_edge_is_in_band_and_nan_never_is() -> None:
    v = np.array([1.0, 2.0, math.nan])
    assert list(inside(v, 1.0, 2.0)) == [True, True, False]
    _, r = ranges(2, per=2)
    vals = np.array([10.0, 12.0, 12.0, 10.0, 11.0])
    good = np.ones(5, bool)
    assert list(metre_status(vals, good, 10.0, 12.0, r)) == [1, 1]
    assert list(metre_status(vals, good, 10.0, 11.9, r)) == [0, 0]


def test_a_metre_with_a_sample_that_is_not_good_is_unknown_not_in_band() -> None:
    _, r = ranges(3, per=2)
    vals = np.array([5.0, 5.0, math.nan, 5.0, 5.0, 9.0, 5.0])
    good = np.array([True, True, False, True, True, True, True])
    st = metre_status(vals, good, 4.0, 6.0, r)
    # Samples at 0, 0.5, 1.0, ... m: metre 0 is samples 0-1, metre 1 is 2-3 (2 not GOOD),
    # metre 2 is 4-5 (5 outside: definite, not unknown).
    assert list(st) == [1, -1, 0]
    # A NaN flagged GOOD by a bug upstream is still no value (never compared as one).
    ib, _ = in_band(vals, np.ones(7, bool) & np.isfinite(vals), np.ones(7, bool),
                      np.ones(7), 4.0, 6.0, r, 0)  # fmt: skip
    assert ib.unknown_s == 1.0 and ib.out_s == 1.0 and ib.in_s == 5.0


def test_the_longest_excursion_says_where_on_the_roll() -> None:
    pos, r = ranges(10, per=2)
    vals = np.full(len(pos), 5.0)
    vals[6:10] = 8.0  # positions 3.0..4.5: metres 3 and 4 (and 2, whose last sample is 6's)
    vals[16] = 8.0  # position 8.0: metres 7 (its end) and 8
    ib, _ = in_band(vals, np.ones(len(pos), bool), np.ones(len(pos), bool), np.ones(len(pos)),
                     4.0, 6.0, r, 0)  # fmt: skip
    assert ib.longest is not None
    assert (ib.longest.metre_from, ib.longest.metre_to, ib.longest.metres) == (3.0, 5.0, 2)
    assert ib.longest.worst == 8.0 and ib.longest.duration_s == 4.0
    assert ib.metres_out == 3 and ib.metres_in == 7


def test_capability_needs_enough_segments_and_says_why_not() -> None:
    pos, r = ranges(10, per=2)
    v = np.full(len(pos), 5.0)
    one = capability(v, np.ones(len(pos), bool), 4.0, 6.0, r, np.ones(10, bool), 10.0)
    assert one.cpk is None and one.segments == 1 and "at least" in one.why_none
    rng = np.random.default_rng(1)
    n = 60
    pos, r = ranges(n, per=2)
    v = 5.0 + rng.normal(0, 0.1, len(pos))
    cap = capability(v, np.ones(len(pos), bool), 4.0, 6.0, r, np.ones(n, bool), 2.0)
    assert cap.segments == n // 2 >= MIN_SEGMENTS and cap.cpk is not None and cap.ppk is not None
    means = [v[int(r.lo[2 * j]) : int(r.hi[2 * j + 1])].mean() for j in range(n // 2)]
    m, s = float(np.mean(means)), float(np.std(means, ddof=1))
    assert cap.ppk == pytest.approx(min(6.0 - m, m - 4.0) / (3 * s))
    s_in = float(np.abs(np.diff(means)).mean() / 1.128)
    assert cap.cpk == pytest.approx(min(6.0 - m, m - 4.0) / (3 * s_in))
    # A segment with a metre not usable is left out, not averaged over.
    ok = np.ones(n, bool)
    ok[: 2 * (n // 2 - MIN_SEGMENTS + 1)] = False
    few = capability(v, np.ones(len(pos), bool), 4.0, 6.0, r, ok, 2.0)
    assert few.cpk is None and few.segments == MIN_SEGMENTS - 1


def ev(seq: int, t: float, event: Event) -> LoggedEvent:
    return LoggedEvent(seq, t, 1.8e9 + t, event)


def sc(old: str, new: str, cause: str, by: str = "") -> StateChanged:
    return StateChanged.model_validate(
        {"old": old, "new": new, "mode": "production", "cause": cause, "by": by}
    )


def test_stops_carry_the_cause_that_entered_them_with_their_durations() -> None:
    events = [
        ev(1, 0.0, sc("Undefined", "Stopped", "boot")),
        ev(2, 10.0, sc("Stopped", "Execute", "start", "ana")),
        ev(3, 50.0, sc("Execute", "Holding", "heater_failed: zone_C07")),
        ev(4, 55.0, sc("Holding", "Held", "state complete")),
        ev(5, 80.0, sc("Held", "Execute", "unhold", "ana")),
    ]
    stops = stops_of(state_spans(events, 0.0, 100.0))
    assert [(s.state, s.cause, s.duration_s) for s in stops] == [
        ("Stopped", "boot", 10.0),
        ("Held", "heater_failed: zone_C07", 30.0),
    ]


def synthetic_run(fault_metres: tuple[float, float] | None = None) -> RunData:
    """The real line and the fault run's recipe, every critical channel at its setpoint,
    the web at 0.5 m/min from 0 to 120 m sampled every 0.25 m, in Execute throughout;
    optionally zone C07 (34..36 m down the path) 20 °C low while the line reads positions
    between ``fault_metres`` + 34."""
    line = load_line(DEFAULT_LINE)
    recipe = load_recipe(RECIPE)
    from linecontrol.process import bind

    b = bind(recipe, line, strict=False)
    chans = sorted({x.reads for x in b} | {"o2_cure.o2_ppm"})
    pos = np.arange(0, 120.0001, 0.25)
    t = pos / 0.5 * 60.0 + 100.0
    vals = np.zeros((len(pos), len(chans)))
    for x in b:
        vals[:, chans.index(x.reads)] = x.value
    vals[:, chans.index("o2_cure.o2_ppm")] = 20.0
    if fault_metres is not None:
        c = chans.index("zone_C07.temp_pv_c")
        a, z = fault_metres
        vals[(pos >= a + 34.0) & (pos < z + 34.0), c] -= 20.0
    quality = np.zeros(vals.shape, np.uint8)
    events = [ev(1, 0.0, sc("Stopped", "Execute", "start", "ana")),
              ev(2, t[-1] + 1.0, sc("Execute", "Stopping", "stop", "ana"))]  # fmt: skip
    return RunData(
        run_id="synthetic", channels=chans, units=[""] * len(chans), t=t, t_wall=t + 1.8e9,
        position=pos, values=vals, quality=quality, events=events, line=line, recipe=recipe,
        recipe_data=recipe.model_dump(),
    )  # fmt: skip


def test_a_clean_run_is_fit_where_every_station_saw_it_and_unknown_beyond() -> None:
    rep = compute(synthetic_run())
    # 120 m left the unwind; the rewind (53 m down) saw metres 0..66 whole.
    assert rep.produced_m == 120.0 and len(rep.metre_status) == 120
    assert rep.fit_m == 120 - 53 and rep.not_fit_m == 0 and rep.unknown_m == 53
    assert all(r == "" for r in rep.metre_reasons[:67])


def test_a_zone_out_of_its_window_is_an_excursion_at_its_metres_and_they_are_not_fit() -> None:
    rep = compute(synthetic_run(fault_metres=(20.0, 30.0)))
    c07 = next(p for p in rep.params if p.param.channel == "zone_C07.temp_pv_c")
    assert c07.window is not None and c07.window.longest is not None
    ex = c07.window.longest
    # Product at C07 (34..36 m) while the encoder read 54..64: metres 18..29 saw it
    # (each metre is 3 m of encoder travel in the 2 m zone, and one sample holds).
    assert (ex.metre_from, ex.metre_to) == (18.0, 30.0)
    assert ex.worst == 330.0
    assert rep.fit_m == 120 - 53 - 12
    assert all("zone_C07.temp_pv_c" in rep.metre_reasons[k] for k in range(18, 30))
    tr = trace(rep, 25.5)
    row = next(r for r in tr.rows if r.param.channel == "zone_C07.temp_pv_c")
    assert tr.status == 0 and row.in_window == 0 and row.high == 330.0
    assert row.residence_s == pytest.approx(240.0)  # 2 m at 0.5 m/min
    with pytest.raises(ReportInputError, match=r"0\.000 to 120\.000"):
        trace(rep, 130.0)


def test_actions_and_critical_alarms_from_the_events() -> None:
    run = synthetic_run()
    t = float(run.t[40])  # encoder at 10 m
    raised = AlarmRaised(alarm="o2_cure_trip", alarm_class="process", old="NORM", new="UNACK",
                         value=250.0, priority="urgent", consequence="hold",
                         cause="condition")  # fmt: skip
    events = [
        *run.events,
        ev(3, t, CommandGiven(command=Start(by="ana", request_id="r1", at=1.8e9))),
        ev(
            4,
            t,
            CommandRejected(
                command=Stop(by="bo", request_id="r2", at=1.8e9),
                reason="stop is not allowed in Idle",
            ),
        ),
        ev(5, t, raised),
    ]
    rep = compute(RunData(**{**run.__dict__, "events": events}))
    assert [(a.by, a.command, a.result) for a in rep.actions] == [
        ("ana", "start", "accepted"),
        ("bo", "stop", "rejected: stop is not allowed in Idle"),
    ]
    (mark,) = rep.alarms
    assert mark.critical and mark.metre == pytest.approx(10.0 - 22.0)
    # Active from 10 m on, never cleared: no metre reached the cure oven (22 m) before; those
    # that reached it by the end (the encoder at 120 m: metres 0..98) are not fit for it.
    assert rep.fit_m == 0
    reached = rep.metre_reasons[:99]
    assert all("a critical alarm active: o2_cure at cure_oven" in r for r in reached)
    # Cleared when the encoder reads 40 m: only the metres in the oven (22..42 m) before then.
    cleared = AlarmChanged(**{**raised.model_dump(), "old": "UNACK", "new": "RTNUN",
                              "cause": "cleared"})  # fmt: skip
    ended = [*events, ev(6, float(run.t[160]), cleared)]
    rep = compute(RunData(**{**run.__dict__, "events": ended}))
    assert list(rep.metre_status[:18]) == [0] * 18 and rep.fit_m == 67 - 18
    # An alarm of low priority with no consequence is not critical: no metre lost.
    assert run.line is not None
    alarms = dict(run.line.alarms)
    alarms["o2_cure_high"] = alarms["o2_cure_high"].model_copy(update={"priority": "low"})
    line = run.line.model_copy(update={"alarms": alarms})
    low = AlarmRaised(**{**raised.model_dump(), "alarm": "o2_cure_high", "priority": "low"})
    events = [*run.events, ev(3, t, low)]
    rep = compute(RunData(**{**run.__dict__, "events": events, "line": line}))
    assert rep.fit_m == 67 and not rep.alarms[0].critical


def test_a_run_without_samples_or_recipe_is_reported_with_no_metres_and_says_why() -> None:
    empty = RunData(
        run_id="empty", channels=["a.b"], units=["°C"], t=np.zeros(0), t_wall=np.zeros(0),
        position=np.zeros(0), values=np.zeros((0, 1)), quality=np.zeros((0, 1), np.uint8),
    )  # fmt: skip
    rep = compute(empty)
    assert rep.produced_m == 0.0 and len(rep.metre_status) == 0 and rep.params == []
    assert any("no recipe" in n for n in rep.notes) and any("web position" in n for n in rep.notes)
    with pytest.raises(ReportInputError, match="not produced"):
        trace(rep, 0.0)
    # No recipe, samples all WAITING: every metre unknown, none fit.
    pos = np.arange(0.0, 10.01, 0.5)
    waiting = RunData(
        run_id="w", channels=["a.b"], units=[""], t=pos * 10, t_wall=pos * 10 + 1.8e9,
        position=pos, values=np.full((len(pos), 1), np.nan),
        quality=np.full((len(pos), 1), 3, np.uint8),
    )  # fmt: skip
    rep = compute(waiting)
    assert rep.fit_m == 0 and rep.unknown_m == 10


def test_a_sputter_recipe_maps_the_sputter_power_with_its_window_from_the_rules() -> None:
    line = load_line(DEFAULT_LINE)
    recipe = load_recipe(
        Path(__file__).parents[2] / "configs" / "recipes" / "000-sputter-fusion.toml"
    )
    from linecontrol.process import bind
    from linecontrol.report.figures import critical_params

    chans = sorted({b.reads for b in bind(recipe, line, strict=False)})
    run = RunData(
        run_id="s", channels=chans, units=[""] * len(chans), t=np.zeros(0), t_wall=np.zeros(0),
        position=np.zeros(0), values=np.zeros((0, len(chans))),
        quality=np.zeros((0, len(chans)), np.uint8), line=line, recipe=recipe,
    )  # fmt: skip
    params, _ = critical_params(run)
    power = next(p for p in params if p.channel == "sputter_psu.power_pv_kw")
    assert power.station == "sputter" and power.distance_m == 45.0 and power.unit == "kW"
    assert power.window is not None and power.window.contains(recipe.sputter.power_kw)  # type: ignore[union-attr]
    assert "sputter" in power.window.source
    assert {p.key for p in params} >= {"drive.speed_pv_m_min", "press.linear_pressure_kg_cm"}


def test_process_windows_come_from_the_rules_and_their_edges_are_inside() -> None:
    line = load_line(DEFAULT_LINE)
    recipe = load_recipe(RECIPE)
    w = process_windows(recipe, line, ["press.temperature_c", "press.roll_load_kg"])
    t = w["press.temperature_c"]
    assert not isinstance(t, str)
    assert t.low == pytest.approx(300.0, abs=0.06) and t.high == pytest.approx(350.0, abs=0.06)
    assert "press.temp_window_tpi" in t.source
    assert t.contains(350.0) and t.contains(300.0) and not t.contains(math.nan)
    load = w["press.roll_load_kg"]
    assert not isinstance(load, str)
    assert load.low == pytest.approx(5.0 * 50.0, rel=1e-3)  # 5 kg/cm over 50 cm
    assert "press.linear_pressure" in load.source
