"""Checks of a finished run, read back from its run log with the project's reader.

What "within its band per metre of web" means here. Material tracking
(``linecontrol.process``) gives, from the logged web position, the time at which a
point of the web (roll metre ``m``) passed a station at ``distance_m`` from the
unwind. Metre ``k`` of the web is the stretch ``[k, k + 1]``: it is inside a zone
that spans ``[start, end]`` metres of the web path from the moment its point ``k``
reaches ``start`` until its point ``k + 1`` has passed ``end``. The metres checked
at a zone (or the press's nip, a line across the web) are those whose whole passage
through it happened while the line was in Execute: the web processed in production.
(A run's length counts metres unwound in Execute, so at a station far down the line
most of what passed in Execute is web that was already threaded when it started:
that web is checked too, it was processed under the recipe.)

For each such metre, every reading of the zone's process value that the line had
while the metre was in it is within the recipe band: the reading in force when the
metre entered (the last sample row at or before that time) and every row until it
left, GOOD rows only (a STALE or INVALID value is no reading; a metre with no GOOD
reading at all fails). The run log holds the latest reading of each channel per
sample row, and each device is polled at its configured rate in real time, so at a
speed-up N a zone (1 Hz) gives a fresh reading every N seconds of process time
(300 s at 300): a deviation shorter than that between two polls is not seen, as at
speed-up 1 one shorter than a second is not. With 2 m zones that is still at least
one reading per metre at the seed speeds (10 min per zone at 0.2 m/min, 4 min at
0.5 m/min, 2 min at 1 m/min: the reading in force at entry), so no metre goes
unchecked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from linecontrol.config import LineConfig, OvenStation, PressStation, Recipe
from linecontrol.model import Quality, StateChanged
from linecontrol.process import bind, when_metre_at_station
from linecontrol.runlog import Samples, load_events, load_samples

# An event of any of these types means the run went wrong whatever the recipe.
NEVER = ("InterlockTripped", "SetpointFailed", "CommandRejected", "SafeStateApplied", "BandLeft")


@dataclass
class Window:
    """One place on the web path and what is watched there."""

    what: str  # "zone C01", "press nip"
    start_m: float  # distance from the unwind where a point of the web enters it
    end_m: float  # ... and leaves it (the same for a line, such as the nip)
    channel: str
    band: tuple[float, float]
    scale: float = 1.0  # the reading divided by this is what the band is in


@dataclass
class Report:
    states: list[str]
    execute: tuple[float, float]
    metres: dict[str, int] = field(default_factory=dict)  # window -> metres checked
    failures: list[str] = field(default_factory=list)
    unwanted: list[str] = field(default_factory=list)  # events the run should not have
    extremes: dict[str, tuple[float, float]] = field(default_factory=dict)


def windows(recipe: Recipe, line: LineConfig) -> list[Window]:
    """The zones of the recipe's ovens in web order, and the press's nip (linear
    pressure in kg per cm of bonded width, and its roll temperatures)."""
    bands = bind(recipe, line).bands()
    out: list[Window] = []
    for oven in recipe.ovens:
        st = line.station(oven.station)
        assert isinstance(st, OvenStation)
        at = st.distance_m
        for z in st.zones:
            dev = next(n for n, d in line.devices.items() if d.model == "oven_zone"
                       and d.station == st.name and d.zone == z.name)  # fmt: skip
            ch = f"{dev}.temp_pv_c"
            if ch in bands:  # a zone the recipe sets
                out.append(Window(f"zone {z.name}", at, at + z.length_m, ch, bands[ch]))
            at += z.length_m
    if recipe.press is not None:
        st = line.station(recipe.press.station)
        assert isinstance(st, PressStation)
        dev = next(n for n, d in line.devices.items() if d.model == "press"
                   and d.station == st.name)  # fmt: skip
        width_cm = recipe.web.width_mm / 10.0  # the bonded width: the web's
        load = f"{dev}.roll_load_pv_kg"
        lo, hi = bands[load]
        out.append(Window("press nip linear pressure (kg/cm)", st.distance_m, st.distance_m,
                          load, (lo / width_cm, hi / width_cm), scale=width_cm))  # fmt: skip
        for ch in (f"{dev}.top_temp_pv_c", f"{dev}.bottom_temp_pv_c"):
            if ch in bands:
                out.append(Window(f"press {ch}", st.distance_m, st.distance_m, ch, bands[ch]))
    return out


def _execute_span(states: Sequence[tuple[float, str]]) -> tuple[float, float]:
    starts = [t for t, s in states if s == "Execute"]
    assert len(starts) == 1, f"Execute entered {len(starts)} times: {states}"
    after = [t for t, s in states if t >= starts[0] and s != "Execute"]
    assert after, "the run never left Execute"
    return starts[0], after[0]


def check_run(run_dir: Path, recipe: Recipe, line: LineConfig) -> Report:
    """Read ``run_dir`` back and check it against the recipe (see the module doc)."""
    ev = load_events(run_dir)
    assert ev.torn is None and not ev.corrupt, (ev.torn, ev.corrupt)
    changes = [(e.t_mono, e.event.new) for e in ev.events if isinstance(e.event, StateChanged)]
    report = Report(states=[s for _, s in changes], execute=_execute_span(changes))
    for e in ev.events:
        if e.type in NEVER or e.event.is_alarm:
            report.unwanted.append(f"t={e.t_mono:.0f}: {e.type} {e.event.model_dump_json()}")
    samples = load_samples(run_dir)
    assert not samples.torn and not samples.corrupt, (samples.torn, samples.corrupt)
    t0, t1 = report.execute
    for w in windows(recipe, line):
        _check_window(w, samples, t0, t1, report)
    return report


def _check_window(w: Window, s: Samples, t0: float, t1: float, report: Report) -> None:
    names = [c.name for c in s.channels]
    col = names.index(w.channel)
    values = s.values[:, col] / w.scale
    good = s.quality[:, col] == int(Quality.GOOD)
    pos = s.web_position_m
    ok = np.isfinite(pos)
    t_pos, p = s.t_mono[ok], pos[ok]
    # The metres whose passage through the window lies in Execute: point k at the
    # start no earlier than t0, point k + 1 past the end no later than t1.
    first = int(np.ceil(float(np.interp(t0, t_pos, p)) - w.start_m))
    last = int(np.floor(float(np.interp(t1, t_pos, p)) - w.end_m)) - 1
    checked = 0
    lo_seen, hi_seen = np.inf, -np.inf
    for k in range(first, last + 1):
        t_in = when_metre_at_station(float(k), w.start_m, t_pos, p)
        t_out = when_metre_at_station(float(k + 1), w.end_m, t_pos, p)
        assert t_in is not None and t_out is not None
        if t_in < t0 or t_out > t1:
            continue
        i0 = max(0, int(np.searchsorted(s.t_mono, t_in, side="right")) - 1)
        i1 = int(np.searchsorted(s.t_mono, t_out, side="left"))  # the last before it left
        sel = good[i0:i1]
        v = values[i0:i1][sel]
        checked += 1
        if len(v) == 0:
            report.failures.append(f"{w.what}, metre {k}: no GOOD reading of {w.channel} "
                                   f"from t={t_in:.0f} to {t_out:.0f} s")  # fmt: skip
            continue
        lo_seen, hi_seen = min(lo_seen, float(v.min())), max(hi_seen, float(v.max()))
        outside = v[(v < w.band[0]) | (v > w.band[1])]
        if len(outside):
            report.failures.append(
                f"{w.what}, metre {k} (t={t_in:.0f}..{t_out:.0f} s): {w.channel} "
                f"{outside.tolist()} outside {w.band[0]:g}..{w.band[1]:g}"
            )
    report.metres[w.what] = checked
    report.extremes[w.what] = (lo_seen, hi_seen)


def notable(run_dir: Path) -> list[str]:
    """What a run that did not complete shows of why (for a failure's message): its
    state changes, interlocks, failed writes, alarms and device failures, in order."""
    keep = ("StateChanged", "SequenceStepped", "DeviceRecovered", *NEVER)
    return [
        f"t={e.t_mono:.1f} (wall {e.t_wall:.3f}): {e.type} {e.event.model_dump_json()[:300]}"
        for e in load_events(run_dir).events
        if e.type in keep or e.event.is_alarm
    ]
