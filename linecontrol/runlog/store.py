"""Reading runs back: list, load, summarise, export, compact (no live state needed).

A run is any directory of the data root with a ``meta.json``, an ``events.jsonl``
or a ``samples/`` directory. A missing or unreadable ``meta.json`` does not hide a
run: its metadata is recovered from its samples and events (``read_meta``) and the
problem is reported. ``summary.json`` (written at a clean stop, rebuilt when the
files it was made from have changed) holds what ``runs list`` shows, so listing
reads no samples of a closed run.
"""

from __future__ import annotations

import contextlib
import json
import math
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from linecontrol.config import (
    AnyDevice,
    AsciiDevice,
    LineConfig,
    Recipe,
    RtuDevice,
    TcpDevice,
    validate_model,
)
from linecontrol.errors import InputFileError, InvalidArgument, LinecontrolError
from linecontrol.model import RunStarted, RunStopped, StateChanged
from linecontrol.process import bind
from linecontrol.runlog.events import Events, read_events
from linecontrol.runlog.meta import RunMeta, iso_utc, write_json_atomic
from linecontrol.runlog.samples import (
    QUALITY_NAMES,
    WIDE_FORMATS,
    Samples,
    read_samples,
    read_segment_head,
    segment_paths,
    write_wide,
)

SUMMARY_FORMAT = 2  # 2: the listing carries its CRC


class RunNotFound(LinecontrolError, LookupError):
    pass


class DataRootError(LinecontrolError, FileNotFoundError):
    """The data root does not exist or is not a directory."""


def _is_run(p: Path) -> bool:
    return p.is_dir() and any((p / n).exists() for n in ("meta.json", "events.jsonl", "samples"))


def check_root(root: Path) -> None:
    if not root.exists():
        raise DataRootError(f"the data directory {root} does not exist")
    if not root.is_dir():
        raise DataRootError(f"the data directory {root} is not a directory")


def list_runs(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if _is_run(p))


def find_run(root: Path, run: str) -> Path:
    p = Path(run)
    if _is_run(p):
        return p
    p = root / run
    if _is_run(p):
        return p
    matches = [r for r in list_runs(root) if r.name.startswith(run)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise RunNotFound(f"{run!r} matches several runs: {[m.name for m in matches]}")
    raise RunNotFound(f"no run {run!r} under {root}")


def load_meta(run_dir: Path) -> RunMeta:
    """``meta.json`` as it is; raises on a missing or malformed one (``read_meta``
    recovers)."""
    return RunMeta.from_dict(json.loads((run_dir / "meta.json").read_text()))


def read_meta(run_dir: Path) -> tuple[RunMeta, str | None]:
    """The run's metadata and, if ``meta.json`` is missing or unreadable, why:
    then it is recovered from the samples (channels, first sample) and the events
    (``RunStarted``, ``RunStopped``)."""
    try:
        return load_meta(run_dir), None
    except FileNotFoundError:
        problem = "meta.json missing"
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        problem = f"meta.json unreadable ({type(exc).__name__}: {exc})"
    return _recover_meta(run_dir), f"{problem}; metadata recovered from samples and events"


def _recover_meta(run_dir: Path) -> RunMeta:
    meta = RunMeta(run_id=run_dir.name, line={})
    for seg in segment_paths(run_dir / "samples"):
        head = read_segment_head(seg)
        if head is None:
            continue
        meta.channels = head.channels
        t = head.t_mono
        if len(t):
            meta.start_mono = float(t[0])
            meta.start_wall = float(head.t_wall[0])
            if len(t) > 1 and np.all(np.diff(t) > 0):
                meta.sample_hz = float(1.0 / np.median(np.diff(t)))
        break
    for e in load_events(run_dir).events:
        if isinstance(e.event, RunStarted):
            meta.start_mono, meta.start_wall = e.t_mono, e.t_wall
            meta.operator = e.event.operator
            meta.roll_id = e.event.roll_id
            meta.lot_id = e.event.lot_id
        elif isinstance(e.event, RunStopped):
            meta.stop_mono, meta.stop_wall = e.t_mono, e.t_wall
            meta.exit_status = e.event.exit_status
    if not meta.start_wall:  # nothing written but the directory: the id's time stamp
        with contextlib.suppress(ValueError):
            stamp = datetime.strptime(run_dir.name[:15], "%Y%m%d-%H%M%S")
            meta.start_wall = stamp.replace(tzinfo=UTC).timestamp()
    return meta


def load_samples(
    run_dir: Path,
    channels: list[str] | None = None,
    t_from: float | None = None,
    t_to: float | None = None,
) -> Samples:
    return read_samples(run_dir / "samples", channels, t_from, t_to)


def load_events(run_dir: Path) -> Events:
    return read_events(run_dir / "events.jsonl")


# ------------------------------------------------------------------ bands
# What of a stored line the bands need: its geometry and its instruments' models and
# places (``bind``); alarms and supervisor settings are not read, so a run recorded by
# an older or newer version keeps its bands when only those differ.
_BAND_TABLES = ("line", "stations", "devices", "buses")
_LINK_MODELS: dict[str, type[AnyDevice]] = {
    "tcp": TcpDevice,
    "rtu": RtuDevice,
    "ascii": AsciiDevice,
}


def _line_for_bands(line: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The parts of a stored line the bands need, and the device keys dropped from it
    that its link's model does not have (runs recorded before the models per link
    stored ``bus``, ``serial_port``, ``baudrate`` and ``address`` for every device,
    null where unused). The simulator-only ``faults`` is not read either."""
    out = {k: v for k, v in line.items() if k in _BAND_TABLES}
    devices = out.get("devices")
    if not isinstance(devices, dict):
        return out, []
    dropped: list[str] = []
    kept: dict[str, Any] = {}
    for name, d in devices.items():
        model = _LINK_MODELS.get(str(d.get("link"))) if isinstance(d, dict) else None
        if model is None or not isinstance(d, dict):
            kept[name] = d  # validation says what is wrong with it
            continue
        fields = set(model.model_fields)
        kept[name] = {k: v for k, v in d.items() if k in fields and k != "faults"}
        dropped += [f"devices.{name}.{k}" for k in d if k not in fields]
    out["devices"] = kept
    return out, dropped


def bands(meta: RunMeta) -> tuple[dict[str, tuple[float, float]], list[str]]:
    """Tolerance bands of the recipe run, by channel (setpoint ± tolerance, from the
    recipe bindings of the recipe and line stored in meta.json), and the problems:
    a recipe field the line has no device for, a stored recipe or line that does not
    validate (only the parts the bands need are read: ``_line_for_bands``). No
    recipe: no bands."""
    if not meta.recipe:
        return {}, []
    stored, dropped = _line_for_bands(meta.line)
    try:
        recipe = validate_model("meta.json recipe", meta.recipe, Recipe)
        line = validate_model("meta.json line", stored, LineConfig)
    except InputFileError as exc:
        return {}, [f"time in band: no bands, the stored recipe or line is not valid: {exc}"]
    found = bind(recipe, line, strict=False)
    problems = [f"time in band: no band for {u}" for u in found.unbound]
    if dropped:
        shown = ", ".join(dropped[:4]) + (
            f" and {len(dropped) - 4} more" if len(dropped) > 4 else ""
        )
        problems.insert(
            0,
            f"time in band: the stored line has device keys this version does not read "
            f"(an older run): {shown}; ignored",
        )
    return found.bands(), problems


def metres_produced(position_m: np.ndarray) -> float:
    """Sum of the forward movement of the web (a counter reset is not a negative run)."""
    if len(position_m) < 2:
        return 0.0
    d = np.diff(position_m)
    d = d[np.isfinite(d)]
    return float(d[d > 0].sum())


@dataclass
class RunSummary:
    run_id: str
    exit_status: str
    start_utc: str
    duration_s: float
    rows: int
    channels: int
    metres: float
    event_counts: dict[str, int]
    alarms: list[dict[str, Any]]
    time_in_band: dict[str, dict[str, float]]
    quality: dict[str, dict[str, int]]
    torn: list[str]
    corrupt: list[str]
    problems: list[str]  # e.g. a missing meta.json, recovered
    recipe_recorded: bool = False  # meta.json holds the recipe run (bands or not)
    speedup: float = 1.0  # the line's clock against real time (a simulated run)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def sample_spans(t_mono: np.ndarray, sample_hz: float) -> np.ndarray:
    """The time each sample stands for, on the line's clock: to the next sample (the
    last one: the median spacing, or 1/sample_hz for a single sample). A run at a
    speed-up N has its samples N/sample_hz s of process apart, not 1/sample_hz."""
    n = len(t_mono)
    if n == 0:
        return np.zeros(0)
    gaps = np.diff(t_mono.astype(float))
    last = float(np.median(gaps)) if len(gaps) else (1.0 / sample_hz if sample_hz else 0.0)
    spans: np.ndarray = np.clip(np.append(gaps, last), 0.0, None)
    return spans


def execute_mask(t_mono: np.ndarray, states: list[tuple[float, str]]) -> np.ndarray:
    """Which samples fall while the machine was in Execute (``states``: each
    StateChanged's time and new state, in order)."""
    mask = np.zeros(len(t_mono), bool)
    since: float | None = None
    for t, new in [*states, (math.inf, "")]:
        if since is not None:
            mask |= (t_mono >= since) & (t_mono < t)
            since = None
        if new == "Execute":
            since = t
    return mask


def summarize(run_dir: Path, samples: Samples | None = None) -> RunSummary:
    meta, problem = read_meta(run_dir)
    s = samples if samples is not None else load_samples(run_dir)
    ev = load_events(run_dir)
    counts: dict[str, int] = {}
    for e in ev.events:
        counts[e.type] = counts.get(e.type, 0) + 1
    alarms = [e.as_dict() for e in ev.events if e.event.is_alarm]
    if len(s.t_mono):
        duration = float(s.t_mono[-1] - s.t_mono[0])
    elif meta.stop_mono is not None:
        duration = meta.stop_mono - meta.start_mono
    else:
        duration = 0.0
    names = [c.name for c in s.channels]
    tib: dict[str, dict[str, float]] = {}
    recipe_bands, band_problems = bands(meta)
    span = sample_spans(s.t_mono, meta.sample_hz)
    states: list[tuple[float, str]] = [
        (e.t_mono, e.event.new) for e in ev.events if isinstance(e.event, StateChanged)
    ]
    in_window = execute_mask(s.t_mono, states) if states else np.ones(len(s.t_mono), bool)
    for ch, (lo, hi) in recipe_bands.items():
        if ch not in names:  # bound on the line, not recorded in this run
            continue
        i = names.index(ch)
        good = (s.quality[:, i] == 0) & in_window
        v = s.values[good, i]
        inside = (v >= lo) & (v <= hi)
        tib[ch] = {
            "low": lo,
            "high": hi,
            "good_samples": int(good.sum()),
            "in_band_s": float(span[good][inside].sum()),
            "in_band_pct": float(100.0 * inside.mean()) if len(v) else 0.0,
        }
    quality = {}
    for i, name in enumerate(names):
        q = s.quality[:, i]
        quality[name] = {QUALITY_NAMES[k]: int((q == k).sum()) for k in QUALITY_NAMES}
    torn = list(s.torn) + ([f"events.jsonl: {ev.torn}"] if ev.torn else [])
    corrupt = list(s.corrupt) + [f"events.jsonl: {c}" for c in ev.corrupt]
    return RunSummary(
        run_id=meta.run_id,
        exit_status=meta.exit_status or "incomplete (no stop recorded)",
        start_utc=iso_utc(meta.start_wall),
        speedup=meta.speedup,
        duration_s=duration,
        rows=len(s.t_mono),
        channels=len(s.channels),
        metres=metres_produced(s.web_position_m),
        event_counts=counts,
        alarms=alarms,
        time_in_band=tib,
        quality=quality,
        torn=torn,
        corrupt=corrupt,
        problems=([problem] if problem else [])
        + [f"events.jsonl: {p}" for p in ev.seq_problems]
        + band_problems,
        recipe_recorded=bool(meta.recipe),
    )


# ------------------------------------------------------------------ listing
LISTING_KEYS = (
    "run_id",
    "exit_status",
    "start_utc",
    "duration_s",
    "rows",
    "channels",
    "torn",
    "corrupt",
    "problems",
)


def _sources(run_dir: Path) -> dict[str, list[int] | None]:
    """Size and mtime of every file a summary is made from (a change invalidates it)."""
    out: dict[str, list[int] | None] = {}
    files = [run_dir / "meta.json", run_dir / "events.jsonl"]
    files += segment_paths(run_dir / "samples")
    for f in files:
        try:
            st = f.stat()
            out[str(f.relative_to(run_dir))] = [st.st_size, st.st_mtime_ns]
        except OSError:
            out[str(f.relative_to(run_dir))] = None
    return out


def _listing_of(s: RunSummary) -> dict[str, Any]:
    d = s.as_dict()
    return {k: d[k] for k in LISTING_KEYS}


def _listing_crc(listing: Any) -> int:
    """CRC of a listing as saved (canonical JSON: the same before and after a round trip)."""
    return zlib.crc32(json.dumps(listing, sort_keys=True, default=str).encode())


def _save_summary(run_dir: Path, sources: dict[str, Any], listing: dict[str, Any]) -> None:
    write_json_atomic(
        run_dir / "summary.json",
        {
            "format": SUMMARY_FORMAT,
            "sources": sources,
            "listing": listing,
            "crc32": _listing_crc(listing),
        },
    )


def write_summary(run_dir: Path, s: RunSummary | None = None) -> dict[str, Any]:
    """``summary.json``: the listing fields, their CRC and the files they were
    computed from."""
    sources = _sources(run_dir)
    listing = _listing_of(s or summarize(run_dir))
    _save_summary(run_dir, sources, listing)
    return listing


def _listing_ok(listing: Any) -> bool:
    """A listing with every field of the type a summary writes (else it is rebuilt,
    also when a crafted one passes its CRC)."""
    if not isinstance(listing, dict) or not all(k in listing for k in LISTING_KEYS):
        return False
    texts = all(isinstance(listing[k], str) for k in ("run_id", "exit_status", "start_utc"))
    counts = all(
        isinstance(listing[k], int) and not isinstance(listing[k], bool)
        for k in ("rows", "channels")
    )
    d = listing["duration_s"]
    duration = isinstance(d, int | float) and not isinstance(d, bool) and math.isfinite(d)
    lists = all(
        isinstance(listing[k], list) and all(isinstance(x, str) for x in listing[k])
        for k in ("corrupt", "problems")
    )
    torn = isinstance(listing["torn"], list) and all(isinstance(x, str) for x in listing["torn"])
    return texts and counts and duration and lists and torn


def run_listing(run_dir: Path) -> dict[str, Any]:
    """What ``runs list`` shows of one run: from ``summary.json`` when the files it
    was made from are unchanged and it passes its CRC (no sample is read), else
    rebuilt from the run (and saved, when the directory is writable)."""
    try:
        saved = json.loads((run_dir / "summary.json").read_text())
        if saved.get("format") == SUMMARY_FORMAT and saved.get("sources") == _sources(run_dir):
            listing = saved["listing"]
            if _listing_ok(listing) and saved.get("crc32") == _listing_crc(listing):
                checked: dict[str, Any] = listing
                return checked
    except (OSError, ValueError, AttributeError, TypeError, RecursionError):
        pass
    sources = _sources(run_dir)
    listing = _listing_of(summarize(run_dir))
    if _sources(run_dir) == sources:  # nothing was written meanwhile (a live run)
        with contextlib.suppress(OSError):  # a read-only archive is listed all the same
            _save_summary(run_dir, sources, listing)
    return listing


# ------------------------------------------------------------------ export
def export(
    run_dir: Path,
    out: Path,
    fmt: str,
    channels: list[str] | None = None,
    t_from: float | None = None,
    t_to: float | None = None,
) -> int:
    """Write a wide table (time, web position, one column per channel and its
    quality); ``t_from``/``t_to`` are seconds from the run start, the window
    half-open [from, to). Returns rows."""
    meta, _ = read_meta(run_dir)
    f = None if t_from is None else meta.start_mono + t_from
    t = None if t_to is None else meta.start_mono + t_to
    if fmt not in WIDE_FORMATS:
        raise InvalidArgument(f"unknown format {fmt!r}: csv or parquet")
    s = load_samples(run_dir, channels, f, t)
    return write_wide(s, out, fmt, run_id=meta.run_id, start_mono=meta.start_mono)


def compact_to_parquet(run_dir: Path, samples: Samples | None = None) -> Path:
    """``samples.parquet`` beside the segments, written whole to a temp name first."""
    meta, _ = read_meta(run_dir)
    s = samples if samples is not None else load_samples(run_dir)
    out = run_dir / "samples.parquet"
    tmp = run_dir / "samples.parquet.tmp"
    try:
        write_wide(s, tmp, "parquet", run_id=meta.run_id, start_mono=meta.start_mono)
        tmp.replace(out)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise
    return out


def finish_run(run_dir: Path) -> None:
    """At a clean stop: ``samples.parquet`` and ``summary.json``."""
    samples = load_samples(run_dir)
    compact_to_parquet(run_dir, samples)
    write_summary(run_dir, summarize(run_dir, samples))
