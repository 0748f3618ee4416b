"""The figures of a run report, from loaded data (pure: no I/O).

Product coordinates. The drive's encoder gives the web position at the reference point,
the unwind (distance 0 on the web path: stations' ``distance_m`` are measured from it).
A point of the web that is at a station ``d`` metres down the path when the encoder
reads ``p`` is metre ``p - d`` of the roll (``linecontrol.process.metre_at_station``):
so every station's samples are put on one axis of product metres, each shifted by its
own transport delay (path length ÷ line speed, whatever the speed did). The encoder's
running maximum is used, so a web moved back (a jog) is not counted twice.

Sample and hold. A sample stands for the web (and the time) until the next sample, as
the run log's time in band takes it (``runlog`` ``sample_spans``). Metre ``m`` at a
station ``[d, d + L]`` (an oven zone is ``L`` long, a nip or a cathode 0) is judged on
every sample that stood while any part of it was there: from the one in force when the
metre's leading edge reached ``d`` to the last one before its trailing edge left
``d + L``. Only GOOD samples are values: a metre at a station with a STALE, INVALID or
WAITING sample, or that had not passed the station by the end of the run, is
*unknown* there (never in band, never fit). NaN is never compared.

Bands. The control band is the recipe setpoint ± tolerance the supervisor enforces
(``linecontrol.process.bind``); the process window is the seed's (``windows``: the
process rules). Both inclusive: a value on an edge is inside.

Fit for use: a metre (a whole metre of the produced range) is fit when, at every
station the recipe uses, every critical parameter was inside its process window, the
line was in Execute, and no critical alarm (priority high or urgent, or a consequence
other than none) on a channel of that station was active (UNACK, ACKED, latched,
shelved or out of service: the condition not known to be clear). Any of those failing
makes it not fit; else a parameter unknown there makes it unknown.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from linecontrol.config import LineConfig, OvenStation, Recipe
from linecontrol.errors import InvalidArgument, LinecontrolError
from linecontrol.model import (
    AlarmChanged,
    AlarmRaised,
    CommandGiven,
    CommandRejected,
    LoggedEvent,
    StateChanged,
)
from linecontrol.process import bind, check, violation_text
from linecontrol.report.windows import Window, process_windows

GOOD = 0
REFERENCE = "the unwind (web path distance 0; the drive's encoder reads the web there)"
DEFAULT_SEGMENT_M = 10.0
MIN_SEGMENTS = 5  # fewer segment means: no capability figure
INDICATIVE_BELOW = 25  # fewer: the figure is shown as indicative only
D2 = 1.128  # d2 of a moving range of 2: sigma within = mean moving range / d2
STOP_STATES = ("Held", "Stopped", "Aborted", "Suspended")
INTO = {"Holding": "Held", "Stopping": "Stopped", "Aborting": "Aborted", "Suspending": "Suspended"}
ACTIVE_LABELS = ("UNACK", "ACKED", "LATCHED_UNACK", "LATCHED_ACK", "SHLVD", "OOSRV")
CAPABILITY_CAVEAT = (
    "Web samples are autocorrelated (a zone or a roll moves slowly, and one sample is "
    "close to the next), so Cpk/Ppk of raw samples overstate capability. These figures "
    "are computed on the means of consecutive {n:g} m segments of product, which are "
    "closer to independent but not exactly: slow drifts still correlate neighbouring "
    "segments. Sigma within is the mean moving range of consecutive segment means / "
    "1.128, sigma overall their standard deviation. Only segments whose every metre has "
    "GOOD data in Execute are used; with fewer than {min} segments there is no figure, "
    "and with fewer than {ind} it is indicative only."
)


class ReportInputError(LinecontrolError, LookupError):
    """What a report or a trace is asked for is not in the run (a metre not produced)."""


# ------------------------------------------------------------------ input
@dataclass(frozen=True)
class RunData:
    """A run as loaded: ``values``/``quality`` are rows x channels."""

    run_id: str
    channels: list[str]
    units: list[str]
    t: np.ndarray  # the line's monotonic clock, s
    t_wall: np.ndarray
    position: np.ndarray  # the drive's web position at the reference, m
    values: np.ndarray
    quality: np.ndarray
    events: Sequence[LoggedEvent] = ()
    line: LineConfig | None = None
    recipe: Recipe | None = None
    recipe_data: dict[str, Any] | None = None  # as meta.json holds it
    recipe_sha256: str = ""  # of the recipe file, as RecipeLoaded logged it
    operator: str = ""
    roll_id: str = ""
    lot_id: str = ""
    start_wall: float = 0.0
    speedup: float = 1.0
    exit_status: str = ""
    problems: list[str] = field(default_factory=list)

    def col(self, name: str) -> int:
        return self.channels.index(name)


@dataclass(frozen=True)
class Param:
    """A critical parameter: a channel (times ``scale``) at a place on the web path."""

    key: str
    label: str
    unit: str
    channel: str
    station: str
    distance_m: float  # where it starts acting, from the reference
    length_m: float = 0.0  # an oven zone's length; 0 at a nip or a cathode
    scale: float = 1.0
    band: tuple[float, float] | None = None
    window: Window | None = None
    no_window: str = ""  # why there is no process window
    field: str = ""  # the recipe field it reads back


# ------------------------------------------------------------------ output
@dataclass(frozen=True)
class Excursion:
    metre_from: float
    metre_to: float
    metres: int
    duration_s: float  # the time its out-of-band samples stood for
    worst: float  # the value furthest outside


@dataclass(frozen=True)
class InBand:
    execute_s: float
    in_s: float
    out_s: float
    unknown_s: float  # no GOOD value
    metres_in: int
    metres_out: int
    metres_unknown: int
    longest: Excursion | None

    @property
    def in_pct(self) -> float:
        return 100.0 * self.in_s / self.execute_s if self.execute_s > 0 else 0.0


@dataclass(frozen=True)
class Capability:
    segments: int
    segment_m: float
    mean: float | None = None
    sigma_within: float | None = None
    sigma_overall: float | None = None
    cpk: float | None = None
    ppk: float | None = None
    indicative: bool = False
    why_none: str = ""


@dataclass(frozen=True)
class ParamFigures:
    param: Param
    band: InBand | None
    window: InBand | None
    capability_band: Capability | None
    capability_window: Capability | None


@dataclass(frozen=True)
class StateSpan:
    state: str
    t_from: float
    t_to: float
    cause: str
    by: str
    first_out: str


@dataclass(frozen=True)
class Stop:
    state: str
    t_from: float
    t_to: float
    cause: str
    by: str
    first_out: str

    @property
    def duration_s(self) -> float:
        return self.t_to - self.t_from


@dataclass(frozen=True)
class Action:
    t: float
    t_wall: float
    by: str
    command: str
    detail: str
    reason: str
    result: str


@dataclass(frozen=True)
class AlarmMark:
    t: float
    alarm: str
    priority: str
    critical: bool
    value: float | None
    station: str
    metre: float | None  # the product metre at its station then


@dataclass(frozen=True)
class Report:
    run: RunData
    reference: str
    params: list[ParamFigures]
    notes: list[str]
    metre_first: int  # the first whole metre of the produced range
    metre_status: np.ndarray  # per whole metre: 1 fit, 0 not fit, -1 unknown
    metre_reasons: list[str]  # per whole metre: why not fit / unknown ("" if fit)
    produced_m: float
    states: list[StateSpan]
    stops: list[Stop]
    actions: list[Action]
    alarms: list[AlarmMark]
    recipe_name: str
    recipe_hash: str
    recipe_hash_of: str
    rule_check: list[str]
    segment_m: float
    caveat: str
    pos: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))

    @property
    def fit_m(self) -> int:
        return int((self.metre_status == 1).sum())

    @property
    def not_fit_m(self) -> int:
        return int((self.metre_status == 0).sum())

    @property
    def unknown_m(self) -> int:
        return int((self.metre_status == -1).sum())

    @property
    def metre_range(self) -> tuple[float, float]:
        """The produced range: first and last web position of the run at the reference."""
        finite = self.pos[np.isfinite(self.pos)]
        if not len(finite):
            return (0.0, 0.0)
        return (float(finite[0]), float(finite[-1]))


# ------------------------------------------------------------------ helpers
def running_position(position: np.ndarray) -> np.ndarray:
    """The encoder's running maximum (NaN before its first finite reading: -inf)."""
    p = np.where(np.isfinite(position), position, -np.inf).astype(float)
    out: np.ndarray = np.maximum.accumulate(p) if len(p) else p
    return out


def spans(t: np.ndarray) -> np.ndarray:
    """The time each sample stands for: to the next one (the last: the median gap)."""
    if len(t) == 0:
        return np.zeros(0)
    gaps = np.diff(t.astype(float))
    last = float(np.median(gaps)) if len(gaps) else 0.0
    out: np.ndarray = np.clip(np.append(gaps, last), 0.0, None)
    return out


def inside(v: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Inclusive; NaN is never inside."""
    with np.errstate(invalid="ignore"):
        out: np.ndarray = (v >= lo) & (v <= hi)
    return out


def state_spans(events: Sequence[LoggedEvent], t0: float, t_end: float) -> list[StateSpan]:
    changes = [e for e in events if isinstance(e.event, StateChanged)]
    out: list[StateSpan] = []
    if not changes:
        return out
    first = changes[0].event
    assert isinstance(first, StateChanged)
    if changes[0].t_mono > t0:
        out.append(StateSpan(first.old, t0, changes[0].t_mono, "before the first logged change",
                             "", ""))  # fmt: skip
    for i, e in enumerate(changes):
        ev = e.event
        assert isinstance(ev, StateChanged)
        end = changes[i + 1].t_mono if i + 1 < len(changes) else max(t_end, e.t_mono)
        out.append(StateSpan(ev.new, e.t_mono, end, ev.cause, ev.by, ev.first_out))
    return out


def state_at(t: np.ndarray, states: list[StateSpan]) -> np.ndarray:
    """The state name at each time ("" before the first span)."""
    out = np.full(len(t), "", dtype=object)
    for s in states:
        out[(t >= s.t_from) & (t < s.t_to)] = s.state
    if states and len(t):
        out[t >= states[-1].t_to] = states[-1].state
    return out


def stops_of(states: list[StateSpan]) -> list[Stop]:
    """Held, Stopped, Aborted and Suspended spans, each with the transitional state
    before it (Holding, ...) merged in and its cause (the one that entered it)."""
    out: list[Stop] = []
    i = 0
    while i < len(states):
        s = states[i]
        if s.state in INTO and i + 1 < len(states) and states[i + 1].state == INTO[s.state]:
            nxt = states[i + 1]
            out.append(Stop(nxt.state, s.t_from, nxt.t_to, s.cause, s.by, nxt.first_out))
            i += 2
            continue
        if s.state in STOP_STATES:
            out.append(Stop(s.state, s.t_from, s.t_to, s.cause, s.by, s.first_out))
        i += 1
    return out


def pareto(stops: list[Stop]) -> list[tuple[str, int, float]]:
    """(cause, count, total duration) by total duration, longest first."""
    by: dict[str, list[float]] = {}
    for s in stops:
        by.setdefault(f"{s.state}: {s.cause}", []).append(s.duration_s)
    rows = [(k, len(v), float(sum(v))) for k, v in by.items()]
    return sorted(rows, key=lambda r: -r[2])


def actions_of(events: Sequence[LoggedEvent]) -> list[Action]:
    out: list[Action] = []
    skip = {"command", "by", "request_id", "at", "reason"}
    for e in events:
        ev = e.event
        if isinstance(ev, CommandGiven):
            cmd, result = ev.command, "accepted"
        elif isinstance(ev, CommandRejected):
            cmd, result = ev.command, f"rejected: {ev.reason}"
        else:
            continue
        data = cmd.to_data()
        detail = ", ".join(f"{k}={v}" for k, v in data.items() if k not in skip)
        out.append(Action(e.t_mono, e.t_wall, cmd.by, str(data.get("command", cmd.name)), detail,
                          cmd.reason, result))  # fmt: skip
    return out


def recipe_hash(run: RunData) -> tuple[str, str]:
    """The recipe's SHA-256: of its file as the supervisor loaded it (``RecipeLoaded``),
    or else of the recipe as meta.json holds it (canonical JSON: sorted keys)."""
    if run.recipe_sha256:
        return run.recipe_sha256, "the recipe file as loaded (RecipeLoaded)"
    if run.recipe_data is not None:
        text = json.dumps(run.recipe_data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest(), "meta.json's recipe (canonical JSON)"
    return "", "no recipe recorded"


# ------------------------------------------------------------------ parameters
LABELS = {
    "web.speed_m_min": "line speed",
    "web.unwind_tension_n": "unwind tension",
    "web.rewind_tension_n": "rewind tension",
    "sputter.power_kw": "sputter power",
    "press.temperature_c": "press roll temperature",
}


def critical_params(run: RunData) -> tuple[list[Param], list[str]]:
    """Every zone temperature, the O2, the speed, the tensions, the press temperatures
    and linear pressure, the sputter power, of the stations the recipe uses (a station
    the recipe passes idle is not critical); and what could not be placed."""
    notes: list[str] = []
    line, recipe = run.line, run.recipe
    if line is None or recipe is None:
        return [], ["no recipe or line recorded with the run: no critical parameters"]
    stations = {s.name: s for s in line.stations}
    used = set(recipe.recipe.stations)
    unwind, rewind = line.stations[0], line.stations[-1]
    found = bind(recipe, line, strict=False)
    notes += [f"not bound on this line: {u}" for u in found.unbound]
    have = set(run.channels)
    units = dict(zip(run.channels, run.units, strict=False))
    params: list[Param] = []

    def place(dev: str) -> tuple[str, float, float]:
        d = line.devices.get(dev)
        if d is None or d.station is None:
            return unwind.name, unwind.distance_m, 0.0
        st = stations[d.station]
        if isinstance(st, OvenStation):
            if d.zone is None:
                return st.name, st.distance_m, st.length_m
            at = st.distance_m
            for z in st.zones:
                if z.name == d.zone:
                    return f"{st.name} {z.name}", at, z.length_m
                at += z.length_m
        return st.name, st.distance_m, 0.0

    for b in found:
        f = b.field
        critical = (
            f in ("web.speed_m_min", "web.unwind_tension_n", "web.rewind_tension_n",
                  "press.temperature_c", "press.roll_load_kg", "sputter.power_kw")
            or f.endswith(".temperature_c")
        )  # fmt: skip
        if not critical:
            continue
        if b.reads not in have:
            notes.append(f"{b.reads} ({f}) was not recorded in this run")
            continue
        station, dist, length = place(b.device)
        if f == "web.speed_m_min":
            station, dist = unwind.name, unwind.distance_m
        elif f == "web.rewind_tension_n":
            station, dist = rewind.name, rewind.distance_m
        if station.split(" ")[0] not in used and f.startswith(("ovens", "press", "sputter")):
            continue
        unit = units.get(b.reads) or b.unit
        if f == "press.roll_load_kg":
            k = 10.0 / recipe.web.width_mm  # kg -> kg/cm over the bonded width
            band = b.band
            params.append(Param(
                "press.linear_pressure_kg_cm", f"linear pressure ({b.reads} / web width)",
                "kg/cm", b.reads, station, dist, length, k,
                (band[0] * k, band[1] * k) if band else None, field=f,
            ))  # fmt: skip
            continue
        label = LABELS.get(f, "zone temperature")
        params.append(Param(b.reads, f"{label} {b.reads}", unit, b.reads, station, dist, length,
                            1.0, b.band, field=f))  # fmt: skip
    # O2: the analyzer of each oven the recipe gives an O2 limit (rule o2.limit).
    for oven in recipe.ovens:
        if oven.o2_limit_ppm is None:
            continue
        devs = [n for n, d in line.devices.items()
                if d.model == "o2_analyzer" and d.station == oven.station]  # fmt: skip
        for dev in devs:
            ch = f"{dev}.o2_ppm"
            if ch not in have:
                notes.append(f"{ch} was not recorded in this run")
                continue
            station, dist, length = place(dev)
            o2w = Window(-math.inf, oven.o2_limit_ppm,
                       f"high: ovens[{oven.station}].o2_limit_ppm (rule o2.limit)")  # fmt: skip
            params.append(Param(ch, f"O2 {ch}", units.get(ch) or "ppm", ch, station, dist, length,
                                window=o2w, no_window="", field=""))  # fmt: skip
    # Process windows from the rules, once for every field.
    windows = process_windows(recipe, line, [p.field for p in params if p.field])
    out: list[Param] = []
    for p in params:
        if not p.field:
            out.append(p)
            continue
        w: Window | str | None = windows.get(p.field)
        if isinstance(w, Window):
            out.append(_with(p, window=w.scaled(p.scale)))
        else:
            out.append(_with(p, no_window=w or "no window"))
    return out, notes


def _with(p: Param, **kw: Any) -> Param:
    d = dict(p.__dict__)
    d.update(kw)
    return Param(**d)


# ------------------------------------------------------------------ per metre
@dataclass(frozen=True)
class MetreRanges:
    """For each whole metre of product, the samples that stood while it was at a place:
    ``lo[k]``..``hi[k]`` (exclusive); ``through[k]``: it had left the place by the end."""

    lo: np.ndarray
    hi: np.ndarray
    through: np.ndarray


def metre_ranges(pos: np.ndarray, first: int, n: int, d: float, length: float) -> MetreRanges:
    m = first + np.arange(n, dtype=float)
    lo = np.searchsorted(pos, m + d, side="right") - 1
    lo = np.clip(lo, 0, None)
    hi = np.searchsorted(pos, m + 1.0 + d + length, side="left")
    if len(pos):
        through = pos[-1] >= m + 1.0 + d + length
        hi = np.where(pos[-1] >= m + d, hi, lo)  # never reached it: no sample stood for it
    else:
        through = np.zeros(n, bool)
    return MetreRanges(lo.astype(int), hi.astype(int), np.asarray(through, bool))


def _count(mask: np.ndarray, r: MetreRanges) -> np.ndarray:
    cs = np.concatenate([[0], np.cumsum(mask.astype(np.int64))])
    out: np.ndarray = cs[r.hi] - cs[r.lo]
    return out


def metre_status(
    v: np.ndarray, good: np.ndarray, lo: float, hi: float, r: MetreRanges
) -> np.ndarray:
    """Per metre: 1 inside, 0 outside (a GOOD value outside), -1 unknown."""
    out_mask = good & ~inside(np.where(good, v, np.nan), lo, hi)
    n_out = _count(out_mask, r)
    n_bad = _count(~good, r)
    n = r.hi - r.lo
    st = np.where(n_out > 0, 0, np.where((n_bad > 0) | (n <= 0) | ~r.through, -1, 1))
    return st.astype(np.int8)


def longest_excursion(
    status: np.ndarray, first: int, v: np.ndarray, good: np.ndarray, lo: float, hi: float,
    r: MetreRanges, span: np.ndarray,
) -> Excursion | None:  # fmt: skip
    """The longest run of consecutive metres outside (the first of equal ones)."""
    best: tuple[int, int] | None = None
    k = 0
    n = len(status)
    while k < n:
        if status[k] != 0:
            k += 1
            continue
        j = k
        while j + 1 < n and status[j + 1] == 0:
            j += 1
        if best is None or j - k > best[1] - best[0]:
            best = (k, j)
        k = j + 1
    if best is None:
        return None
    a, b = best
    i0, i1 = int(r.lo[a]), int(r.hi[b])
    vv = np.where(good[i0:i1], v[i0:i1], np.nan)
    outside = good[i0:i1] & ~inside(vv, lo, hi)
    dist = np.where(outside, np.maximum(lo - vv, vv - hi), -np.inf)
    worst = float(vv[int(np.argmax(dist))])
    return Excursion(float(first + a), float(first + b + 1), b - a + 1,
                     float(span[i0:i1][outside].sum()), worst)  # fmt: skip


def in_band(
    v: np.ndarray, good: np.ndarray, execute: np.ndarray, span: np.ndarray, lo: float, hi: float,
    r: MetreRanges, first: int,
) -> tuple[InBand, np.ndarray]:  # fmt: skip
    ins = inside(np.where(good, v, np.nan), lo, hi)
    ex_s = float(span[execute].sum())
    in_s = float(span[execute & good & ins].sum())
    out_s = float(span[execute & good & ~ins].sum())
    st = metre_status(v, good, lo, hi, r)
    ib = InBand(
        ex_s, in_s, out_s, ex_s - in_s - out_s,
        int((st == 1).sum()), int((st == 0).sum()), int((st == -1).sum()),
        longest_excursion(st, first, v, good, lo, hi, r, span),
    )  # fmt: skip
    return ib, st


def capability(
    v: np.ndarray, usable: np.ndarray, lo: float, hi: float, r: MetreRanges,
    metre_ok: np.ndarray, segment_m: float,
) -> Capability:  # fmt: skip
    """Cpk (sigma within) and Ppk (sigma overall) of the means of consecutive
    ``segment_m`` segments whose every metre has GOOD data in Execute."""
    per = max(1, round(segment_m))
    n_seg = len(metre_ok) // per
    vals = np.where(usable, v, 0.0)
    cs = np.concatenate([[0.0], np.cumsum(vals)])
    cn = np.concatenate([[0], np.cumsum(usable.astype(np.int64))])
    means: list[float] = []
    for j in range(n_seg):
        a, b = j * per, (j + 1) * per - 1
        if not metre_ok[a : b + 1].all():
            continue
        i0, i1 = int(r.lo[a]), int(r.hi[b])
        cnt = int(cn[i1] - cn[i0])
        if cnt:
            means.append(float((cs[i1] - cs[i0]) / cnt))
    n = len(means)
    if n < MIN_SEGMENTS:
        plural = "s" if n != 1 else ""
        why = (
            f"{n} usable segment{plural} of {per} m (complete segments with GOOD data in "
            f"Execute at this station): at least {MIN_SEGMENTS} are needed"
        )
        return Capability(n, float(per), why_none=why)
    x = np.asarray(means)
    mean = float(x.mean())
    s_all = float(x.std(ddof=1))
    s_in = float(np.abs(np.diff(x)).mean() / D2)
    if math.isinf(lo) and math.isinf(hi):
        return Capability(n, float(per), mean, s_in, s_all,
                          why_none="no limit on either side")  # fmt: skip
    if s_all == 0.0 or s_in == 0.0:
        return Capability(n, float(per), mean, s_in, s_all,
                          why_none="no variation between segment means (sigma 0)")  # fmt: skip
    room = min(hi - mean, mean - lo)
    return Capability(n, float(per), mean, s_in, s_all, room / (3 * s_in), room / (3 * s_all),
                      indicative=n < INDICATIVE_BELOW)  # fmt: skip


# ------------------------------------------------------------------ the report
def _alarm_defs(run: RunData) -> dict[str, Any]:
    return dict(run.line.alarms) if run.line is not None else {}


def _critical(defn: Any) -> bool:
    return bool(defn.priority in ("high", "urgent") or defn.consequence != "none")


def alarm_marks(
    run: RunData, pos: np.ndarray, places: dict[str, tuple[str, float]]
) -> list[AlarmMark]:
    defs = _alarm_defs(run)
    out = []
    for e in run.events:
        ev = e.event
        if not isinstance(ev, AlarmRaised):
            continue
        d = defs.get(ev.alarm)
        dev = d.channel.split(".", 1)[0] if d is not None else ""
        station, dist = places.get(dev, ("", 0.0))
        i = int(np.searchsorted(run.t, e.t_mono, side="right")) - 1
        metre = float(pos[i] - dist) if 0 <= i < len(pos) and np.isfinite(pos[i]) else None
        out.append(AlarmMark(e.t_mono, ev.alarm, ev.priority, d is not None and _critical(d),
                             ev.value, station, metre))  # fmt: skip
    return out


def critical_alarm_active(run: RunData) -> dict[str, np.ndarray]:
    """Per critical alarm (by its channel's device): at each sample, active or not."""
    defs = _alarm_defs(run)
    label: dict[str, list[tuple[float, str]]] = {}
    for e in run.events:
        ev = e.event
        if isinstance(ev, AlarmRaised | AlarmChanged):
            label.setdefault(ev.alarm, []).append((e.t_mono, ev.new))
    out: dict[str, np.ndarray] = {}
    for alarm, changes in label.items():
        d = defs.get(alarm)
        if d is None or not _critical(d):
            continue
        active = np.zeros(len(run.t), bool)
        for i, (t, new) in enumerate(changes):
            end = changes[i + 1][0] if i + 1 < len(changes) else math.inf
            if new in ACTIVE_LABELS:
                active |= (run.t >= t) & (run.t < end)
        dev = d.channel.split(".", 1)[0]
        out[dev] = out.get(dev, np.zeros(len(run.t), bool)) | active
    return out


OUTSIDE = "outside its process window"
NOT_EXECUTE = "not in Execute while at"
ALARM = "a critical alarm active"
UNKNOWN = "no GOOD value (or not through the station by the end)"
NO_WINDOW = "no process window"


def reason_text(rs: dict[str, set[str]], status: int) -> str:
    """Why a metre is not fit (only the definite reasons) or unknown ("" if fit)."""
    if status == 1:
        return ""
    keys = [k for k in (OUTSIDE, NOT_EXECUTE, ALARM) if k in rs] if status == 0 else list(rs)
    parts = []
    for k in keys:
        names = sorted(rs[k])
        more = f" and {len(names) - 3} more" if len(names) > 3 else ""
        parts.append(f"{k}: {', '.join(names[:3])}{more}")
    return "; ".join(parts)


def values_of(run: RunData, p: Param) -> tuple[np.ndarray, np.ndarray]:
    i = run.col(p.channel)
    good = run.quality[:, i] == GOOD
    v = run.values[:, i].astype(float) * p.scale
    good &= np.isfinite(v)  # a GOOD NaN is no value either
    return v, good


def compute(run: RunData, segment_m: float = DEFAULT_SEGMENT_M) -> Report:
    if not (math.isfinite(segment_m) and segment_m >= 1.0):
        raise InvalidArgument(f"segment length {segment_m!r} m: a finite number of at least 1 m")
    params, notes = critical_params(run)
    notes = list(run.problems) + notes
    pos = running_position(run.position)
    finite = pos[np.isfinite(pos)]
    t_end = float(run.t[-1]) if len(run.t) else 0.0
    t0 = float(run.t[0]) if len(run.t) else 0.0
    states = state_spans(run.events, t0, t_end)
    now = state_at(run.t, states)
    execute = now == "Execute"
    if not states:
        notes.append("no PackML state change logged: every sample counted as Execute")
        execute = np.ones(len(run.t), bool)
    span = spans(run.t)
    if len(finite):
        first = math.ceil(float(finite[0]))
        n_m = max(0, math.floor(float(finite[-1])) - first)
        produced = float(finite[-1] - finite[0])
    else:
        first, n_m, produced = 0, 0, 0.0
        notes.append("no web position recorded: no product metres")
    status = np.ones(n_m, np.int8)
    # Per metre: why it is not fit (definite) or unknown, each with the places.
    reasons: list[dict[str, set[str]]] = [{} for _ in range(n_m)]

    def why(k: int, what: str, where: str) -> None:
        reasons[k].setdefault(what, set()).add(where)

    figures: list[ParamFigures] = []
    places: dict[str, tuple[str, float, float]] = {}
    for p in params:
        v, good = values_of(run, p)
        r = metre_ranges(pos, first, n_m, p.distance_m, p.length_m)
        places.setdefault(p.channel.split(".", 1)[0], (p.station, p.distance_m, p.length_m))
        band = cap_b = win = cap_w = None
        ok_metres = (_count(~(good & execute), r) == 0) & (r.hi > r.lo) & r.through
        usable = good & execute
        if p.band is not None:
            band, _ = in_band(v, good, execute, span, p.band[0], p.band[1], r, first)
            cap_b = capability(v, usable, p.band[0], p.band[1], r, ok_metres, segment_m)
        if p.window is not None:
            win, st = in_band(v, good, execute, span, p.window.low, p.window.high, r, first)
            cap_w = capability(v, usable, p.window.low, p.window.high, r, ok_metres, segment_m)
        else:
            st = np.full(n_m, -1, np.int8)
        for k in map(int, np.flatnonzero(st == 0)):
            why(k, OUTSIDE, p.key)
            status[k] = 0
        for k in map(int, np.flatnonzero(st == -1)):
            why(k, UNKNOWN if p.window is not None else NO_WINDOW, p.key)
            if status[k] == 1:
                status[k] = -1
        not_exec = _count(~execute, r) > 0
        for k in map(int, np.flatnonzero(not_exec)):
            why(k, NOT_EXECUTE, p.station)
            status[k] = 0
        figures.append(ParamFigures(p, band, win, cap_b, cap_w))
    if not params:
        status[:] = -1
        for k in range(n_m):
            why(k, "no critical parameters", "the run")
    alarms = critical_alarm_active(run)
    for dev, active in alarms.items():
        where = places.get(dev)
        if where is None and run.line is not None:
            d = run.line.devices.get(dev)
            st_ = next((s for s in run.line.stations if d is not None and s.name == d.station),
                       run.line.stations[0])  # fmt: skip
            where = (st_.name, st_.distance_m, 0.0)
        if where is None:
            continue
        r = metre_ranges(pos, first, n_m, where[1], where[2])
        for k in map(int, np.flatnonzero(_count(active, r) > 0)):
            why(k, ALARM, f"{dev} at {where[0]}")
            status[k] = 0
    shown = [reason_text(rs, int(status[k])) for k, rs in enumerate(reasons)]
    h, of = recipe_hash(run)
    rule_check: list[str] = []
    if run.recipe is not None and run.line is not None:
        rep = check(run.recipe, run.line)
        rule_check = [f"{v.severity}: {violation_text(v)}" for v in rep.violations]
    marks = alarm_marks(run, pos, {k: (v[0], v[1]) for k, v in places.items()})
    return Report(
        run=run, reference=REFERENCE, params=figures, notes=notes, metre_first=first,
        metre_status=status, metre_reasons=shown, produced_m=produced, states=states,
        stops=stops_of(states), actions=actions_of(run.events), alarms=marks,
        recipe_name=run.recipe.recipe.name if run.recipe is not None else "",
        recipe_hash=h, recipe_hash_of=of, rule_check=rule_check, segment_m=segment_m,
        caveat=CAPABILITY_CAVEAT.format(n=segment_m, min=MIN_SEGMENTS, ind=INDICATIVE_BELOW),
        pos=pos,
    )  # fmt: skip


# ------------------------------------------------------------------ one metre
@dataclass(frozen=True)
class TraceRow:
    param: Param
    arrived_t: float | None  # when the metre's start reached the place (line clock, s)
    left_t: float | None  # when it left the place's end (None: not by the run's end)
    residence_s: float | None  # in an oven zone: left - arrived
    speed_m_min: float | None  # the GOOD line speed in force when it arrived
    samples: int  # samples that stood while the metre was there
    not_good: int
    low: float | None  # GOOD values only
    mean: float | None
    high: float | None
    in_band: int | None  # 1 inside, 0 outside, -1 unknown; None: no band
    in_window: int | None


@dataclass(frozen=True)
class Trace:
    metre: float
    status: int  # the metre's fitness: 1 fit, 0 not fit, -1 unknown
    reason: str
    rows: list[TraceRow]
    produced: tuple[float, float]


def _one(pos: np.ndarray, k: int, p: Param) -> MetreRanges:
    return metre_ranges(pos, k, 1, p.distance_m, p.length_m)


def trace(report: Report, metre: float) -> Trace:
    """What each station did to metre ``metre`` (its whole metre ``floor(metre)`` for the
    values and the verdicts, as the report judges it); ``ReportInputError`` naming the
    produced range for a metre the run did not produce."""
    run, pos = report.run, report.pos
    lo, hi = report.metre_range
    if not (math.isfinite(metre) and lo <= metre < hi):
        raise ReportInputError(
            f"metre {metre:g} was not produced in run {run.run_id}: it produced metres "
            f"{lo:.3f} to {hi:.3f} (web position at {REFERENCE.split(' (')[0]})"
        )
    k = math.floor(metre)
    i = k - report.metre_first
    if 0 <= i < len(report.metre_status):
        status, reason = int(report.metre_status[i]), report.metre_reasons[i]
    else:
        status, reason = -1, "not a whole metre of the produced range"
    from linecontrol.process import when_metre_at_station

    speed = next((pf.param for pf in report.params if pf.param.field == "web.speed_m_min"), None)
    rows = []
    for pf in sorted(report.params, key=lambda f: f.param.distance_m):
        p = pf.param
        v, good = values_of(run, p)
        arrived = when_metre_at_station(metre, p.distance_m, run.t, pos)
        left = when_metre_at_station(metre, p.distance_m + p.length_m, run.t, pos)
        r = _one(pos, k, p)
        a, b = int(r.lo[0]), int(r.hi[0])
        g = good[a:b]
        vals = v[a:b][g]
        sp = None
        if speed is not None and arrived is not None:
            sv, sg = values_of(run, speed)
            j = int(np.searchsorted(run.t, arrived, side="right")) - 1
            sp = float(sv[j]) if 0 <= j < len(sv) and sg[j] else None
        band = None if p.band is None else int(metre_status(v, good, *p.band, r)[0])
        win = None
        if p.window is not None:
            win = int(metre_status(v, good, p.window.low, p.window.high, r)[0])
        rows.append(TraceRow(
            p, arrived, left,
            (left - arrived) if (p.length_m > 0 and left is not None and arrived is not None)
            else None,
            sp, b - a, int((~g).sum()),
            float(vals.min()) if len(vals) else None,
            float(vals.mean()) if len(vals) else None,
            float(vals.max()) if len(vals) else None,
            band, win,
        ))  # fmt: skip
    return Trace(metre, status, reason, rows, (lo, hi))
