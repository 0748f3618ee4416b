"""Random access to a run's samples through the segments' seek indexes.

``RunSamples(samples_dir)`` loads (or builds) the index of every segment and then
reads single record batches by their byte offset, so a seek reads one batch, not
the run up to it. Rows are numbered from 0 across the run, in recorded order, over
the intact batches only: the same rows, in the same order, as ``read_samples``.

What a seek means:

- ``seek_time(t)``: the first row, in recorded order, with ``t_mono >= t``.
- ``seek_position(m)``: the first row, in recorded order, with ``web_position_m >= m``.
  On a forward run the web position never decreases; where the web stood still that
  is the first row of the stand, and after a jog back the rows that come back below
  ``m`` lie after it (they are replayed from there, in order). A NaN position is
  never at or past a metre.

A seek to a time is a binary search over the batches' running maximum time
(``index.ENTRY``), then one over that batch's row times (kept in the index), then one
batch read; a seek to a metre, a binary search over the batches' running maximum
position, then one batch read; None when no row qualifies.
The row numbers before a time (``row_at_time``, ``row_after_time``,
``rows_after_times``, what a replay merges events with) read no batch at all.
``read_window(t0, t1)`` reads the rows with ``t0 <= t_mono < t1`` from the batches
that can hold them.

Damage: a segment's torn tail and corrupt regions found when it was indexed are in
``torn`` and ``corrupt``, as ``read_samples`` reports them. A batch that fails its CRC
when read (the segment was damaged in place after it was indexed, size and mtime
unchanged) is skipped and reported in ``corrupt``: its rows are missing from what a
read returns, and the row numbers of the others do not move.
"""

from __future__ import annotations

import contextlib
import math
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from linecontrol.errors import InvalidArgument
from linecontrol.model import Channel
from linecontrol.runlog.index import (
    ENTRY,
    SegmentIndex,
    entry_of,
    file_key,
    load_index,
    write_index,
)
from linecontrol.runlog.samples import (
    Samples,
    batch_at,
    batch_columns,
    batch_crc,
    channels_of,
    map_segment,
    read_segment_spans,
    schema_at,
    segment_paths,
)


def build_index(path: Path) -> SegmentIndex:
    """Index a segment from its bytes: every batch that parses and passes its CRC,
    up to the last complete one (a torn or still-open segment is never read beyond
    it); damage reported as ``read_segment`` reports it."""
    key = file_key(path)
    seg, schema = read_segment_spans(path)
    entries = []
    times = []
    for rb, (off, length) in zip(seg.batches, seg.spans, strict=True):
        cols = batch_columns(rb)
        crc = batch_crc(rb, len(seg.channels))
        entries.append(entry_of(off, length, -1 if crc is None else crc, *cols))
        times.append(np.asarray(cols[0], np.float64))
    data_start = seg.spans[0][0] if seg.spans else 0
    checked = schema is None or (schema.metadata or {}).get(b"linecontrol.format", b"1") != b"1"
    return SegmentIndex(
        segment=path.name,
        key=key,
        data_start=data_start,
        channels=len(seg.channels),
        entries=np.array(entries, ENTRY),
        t_mono=np.concatenate(times) if times else np.empty(0),
        clean_end=seg.clean_end,
        torn=seg.torn,
        corrupt=list(seg.corrupt),
        checked=checked,
    )


def segment_index(path: Path, *, persist: bool = True) -> tuple[SegmentIndex, str]:
    """The segment's index: its sidecar if it can be trusted, else built from the
    segment (and saved, with ``persist``, where the directory is writable); with why
    it was built ("" if it was loaded)."""
    idx, why = load_index(path)
    if idx is not None:
        return idx, ""
    idx = build_index(path)
    if persist and idx.channels:
        # A cache, rebuilt if lost: a read-only run is indexed again at the next open.
        with contextlib.suppress(OSError):
            write_index(path, idx, fsync=False)
    return idx, why


@dataclass(frozen=True)
class SeekPoint:
    """Where a seek landed: the run's row number, its segment (number in the run's
    list) and batch in it, the row in that batch, and the row's time and position."""

    row: int
    segment: int
    batch: int
    row_in_batch: int
    t_mono: float
    web_position_m: float


@dataclass(frozen=True)
class _Cols:
    t_mono: np.ndarray
    t_wall: np.ndarray
    web: np.ndarray
    values: np.ndarray
    quality: np.ndarray


_EMPTY_NOTE = "no readable batch"


class RunSamples:
    """A run's samples, seekable. Opening loads every segment's index (building the
    missing or stale ones: ``rebuilt`` names them with why); reads go one batch at a
    time through a memory map, the last ``cache_batches`` decoded batches kept."""

    def __init__(self, samples_dir: Path, *, persist: bool = True, cache_batches: int = 64) -> None:
        self.dir = samples_dir
        self.paths = segment_paths(samples_dir)
        self.indexes: list[SegmentIndex] = []
        self.rebuilt: list[str] = []
        self.torn: list[str] = []
        self.corrupt: list[str] = []
        for p in self.paths:
            idx, why = segment_index(p, persist=persist)
            if why:
                self.rebuilt.append(f"{p.name}: {why}")
            self.indexes.append(idx)
            if idx.torn:
                self.torn.append(f"{p.name}: {idx.torn}")
            self.corrupt += [f"{p.name}: {c}" for c in idx.corrupt]
        tables = [i.entries for i in self.indexes]
        self._seg = np.concatenate(
            [np.full(len(t), k, np.int64) for k, t in enumerate(tables)] or [np.empty(0, np.int64)]
        )
        # Filled in place: concatenating structured arrays promotes their fields (slow).
        self._entries = np.empty(sum(len(t) for t in tables), ENTRY)
        at = 0
        for table in tables:
            self._entries[at : at + len(table)] = table
            at += len(table)
        self._first = np.concatenate(
            [np.arange(len(t), dtype=np.int64) for t in tables] or [np.empty(0, np.int64)]
        )
        rows = self._entries["rows"]
        self._row0 = np.concatenate([[0], np.cumsum(rows)]).astype(np.int64)
        self.rows = int(self._row0[-1])
        e = self._entries
        self._t_pmax = np.maximum.accumulate(e["t_max"]) if len(e) else e["t_max"]
        self._t_smin = np.minimum.accumulate(e["t_min"][::-1])[::-1] if len(e) else e["t_min"]
        self._w_pmax = np.maximum.accumulate(e["web_max"]) if len(e) else e["web_max"]
        # Where each batch's rows start in its segment's row times (``SegmentIndex.t_mono``):
        # a seek to a time finds its batch by the batches' running maximum, then its row in
        # the index's times, with no batch read.
        self._local0 = np.concatenate(
            [np.concatenate([[0], np.cumsum(t["rows"])[:-1]]) for t in tables if len(t)]
            or [np.empty(0)]
        ).astype(np.int64)
        self._maps: dict[int, Any] = {}  # Arrow buffers and schemas (samples reads them)
        self._schemas: dict[int, Any] = {}
        self._cache: OrderedDict[int, _Cols | None] = OrderedDict()
        self._cache_size = cache_batches
        self._reported: set[int] = set()
        self.channels: list[Channel] = []
        for k, idx in enumerate(self.indexes):
            if idx.channels and len(idx.entries):
                self.channels = channels_of(self._schema(k))
                break

    # ------------------------------------------------------------------ batches
    @property
    def batches(self) -> int:
        return len(self._entries)

    def _map(self, k: int) -> Any:
        buf = self._maps.get(k)
        if buf is None:
            buf = self._maps[k] = map_segment(self.paths[k])
        return buf

    def _schema(self, k: int) -> Any:
        s = self._schemas.get(k)
        if s is None:
            s = self._schemas[k] = schema_at(self._map(k), self.indexes[k].data_start)
        return s

    def _batch(self, b: int) -> _Cols | None:
        """The columns of the run's batch ``b``, checked against the CRC indexed; None
        (reported once in ``corrupt``) if it no longer reads or passes."""
        if b in self._cache:
            self._cache.move_to_end(b)
            return self._cache[b]
        k = int(self._seg[b])
        e = self._entries[b]
        n = self.indexes[k].channels
        crc = int(e["crc"])
        cols: _Cols | None = None
        try:
            got, why = batch_at(
                self._map(k), int(e["offset"]), int(e["length"]), self._schema(k), n,
                crc if crc >= 0 else None,
            )  # fmt: skip
        except (OSError, ValueError) as exc:  # the segment cannot be mapped or parsed
            got, why = None, str(exc)
        if got is not None and len(got[0]) != int(e["rows"]):
            got, why = None, "row count differs from its index"
        if got is not None:
            cols = _Cols(*got)
        if cols is None and b not in self._reported:
            self._reported.add(b)
            self.corrupt.append(
                f"{self.paths[k].name}: corrupt batch {int(self._first[b])} when read "
                f"({why}); skipped"
            )
        self._cache[b] = cols
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return cols

    # ------------------------------------------------------------------ seeking
    def _point(self, b: int, r: int) -> SeekPoint:
        cols = self._batch(b)
        assert cols is not None
        return SeekPoint(
            row=int(self._row0[b]) + r,
            segment=int(self._seg[b]),
            batch=int(self._first[b]),
            row_in_batch=r,
            t_mono=float(cols.t_mono[r]),
            web_position_m=float(cols.web[r]),
        )

    def _first_in(self, pmax: np.ndarray, column: str, x: float, strict: bool) -> SeekPoint | None:
        """The first row whose ``column`` is >= x (> x if ``strict``), by the running
        maximum ``pmax`` of the batches, then one batch read."""
        b = int(np.searchsorted(pmax, x, "right" if strict else "left"))
        while b < len(pmax):
            cols = self._batch(b)
            if cols is not None:
                a = getattr(cols, column)
                hit = np.flatnonzero(a > x if strict else a >= x)
                if hit.size:
                    return self._point(b, int(hit[0]))
            b += 1  # a batch that does not read (reported): the next one
        return None

    def seek_time(self, t: float) -> SeekPoint | None:
        """The first row with ``t_mono >= t``; None if there is none."""
        t = _finite("t", t)
        r = self._row_by_time(t, "left")
        if r >= self.rows:
            return None
        b = int(np.searchsorted(self._row0, r, "right")) - 1
        if self._batch(b) is None:  # reported: the first row at or after t in a later batch
            return self._first_in(self._t_pmax, "t_mono", t, False)
        return self._point(b, r - int(self._row0[b]))

    def seek_position(self, metre: float) -> SeekPoint | None:
        """The first row, in recorded order, with ``web_position_m >= metre``; None if
        the web never reached it."""
        return self._first_in(self._w_pmax, "web", _finite("metre", metre), False)

    # The row numbers a replay needs (``linecontrol.replay``'s ``SampleSource``).
    # From the indexes' row times alone: a row of a batch that fails its check when
    # read still has its number (a read of it returns nothing, reported).
    def _run_max_of(self, b: int) -> np.ndarray:
        """The running maximum of batch ``b``'s row times, as indexed (NaN: -inf)."""
        k, a = int(self._seg[b]), int(self._local0[b])
        t = self.indexes[k].t_mono[a : a + int(self._entries["rows"][b])]
        return np.maximum.accumulate(np.where(np.isnan(t), -np.inf, t))

    def _row_by_time(self, t: float, side: Literal["left", "right"]) -> int:
        b = int(np.searchsorted(self._t_pmax, t, side))
        if b >= self.batches:
            return self.rows
        return int(self._row0[b]) + int(np.searchsorted(self._run_max_of(b), t, side))

    def row_at_time(self, t: float) -> int:
        """The first row with ``t_mono >= t`` (``rows`` if none)."""
        return self._row_by_time(_finite("t", t), "left")

    def row_after_time(self, t: float) -> int:
        """The first row with ``t_mono > t`` (``rows`` if none): every row before it
        is at or before ``t``."""
        return self._row_by_time(_finite("t", t), "right")

    def rows_after_times(self, times: np.ndarray) -> np.ndarray:
        """``row_after_time`` of each of ``times`` (finite ones), at once."""
        ts = np.asarray(times, np.float64)
        if not np.isfinite(ts).all():
            raise InvalidArgument("times must be finite numbers")
        out = np.full(len(ts), self.rows, np.int64)
        if not len(ts) or not self.batches:
            return out
        b = np.searchsorted(self._t_pmax, ts, "right")
        order = np.argsort(b, kind="stable")
        groups, starts = np.unique(b[order], return_index=True)
        for g, lo, hi in zip(groups, starts, [*starts[1:], len(order)], strict=True):
            if g < self.batches:
                sel = order[lo:hi]
                run = self._run_max_of(int(g))
                out[sel] = self._row0[g] + np.searchsorted(run, ts[sel], "right")
        return out

    def row_at_metre(self, metre: float) -> int | None:
        p = self.seek_position(metre)
        return None if p is None else p.row

    @property
    def t_first(self) -> float:
        """The time of the run's first row (from the index; inf if it has none)."""
        t = self._entries["t_first"][self._entries["rows"] > 0]
        return float(t[0]) if len(t) else math.inf

    @property
    def t_last(self) -> float:
        """The latest time of a row (from the index; -inf if it has none)."""
        return float(self._t_pmax[-1]) if len(self._t_pmax) else -math.inf

    @property
    def max_position_m(self) -> float:
        """The largest web position of the run (-inf if it has none)."""
        return float(self._w_pmax[-1]) if len(self._w_pmax) else float("-inf")

    # ------------------------------------------------------------------ reading
    def _samples(self, parts: list[tuple[_Cols, slice]], batches: int) -> Samples:
        n = len(self.channels)

        def cat(name: str, width: int | None) -> np.ndarray:
            got = [getattr(c, name)[s] for c, s in parts]
            if got:
                return np.concatenate(got)
            dtype = np.uint8 if name == "quality" else np.float64
            return np.empty((0, width) if width is not None else 0, dtype)

        return Samples(
            self.channels,
            cat("t_mono", None),
            cat("t_wall", None),
            cat("web", None),
            cat("values", n),
            cat("quality", n),
            torn=list(self.torn),
            batches=batches,
            corrupt=list(self.corrupt),
        )

    def read(self, start: int, stop: int) -> Samples:
        """Rows ``start`` to ``stop`` (exclusive) of the run, minus those of a batch
        that fails its check when read (reported)."""
        start, stop = max(0, start), min(self.rows, stop)
        parts: list[tuple[_Cols, slice]] = []
        batches = 0
        if start < stop:
            b = int(np.searchsorted(self._row0, start, "right")) - 1
            while b < self.batches and self._row0[b] < stop:
                cols = self._batch(b)
                if cols is not None:
                    r0 = int(self._row0[b])
                    parts.append(
                        (cols, slice(max(0, start - r0), min(stop, r0 + len(cols.t_mono)) - r0))
                    )
                    batches += 1
                b += 1
        return self._samples(parts, batches)

    def read_window(self, t0: float, t1: float) -> Samples:
        """The rows with ``t0 <= t_mono < t1``, in recorded order (the trend before a
        seek target: ``read_window(t - span, t)``)."""
        t0, t1 = _finite("t0", t0), _finite("t1", t1)
        b0 = int(np.searchsorted(self._t_pmax, t0, "left"))
        # From the first batch after which every batch starts at or past t1: no more.
        b1 = int(np.searchsorted(self._t_smin, t1, "left"))
        parts: list[tuple[_Cols, slice]] = []
        batches = 0
        for b in range(b0, max(b0, b1)):
            cols = self._batch(b)
            if cols is None:
                continue
            keep = np.flatnonzero((cols.t_mono >= t0) & (cols.t_mono < t1))
            if keep.size == 0:
                continue
            batches += 1
            if keep.size == len(cols.t_mono):
                parts.append((cols, slice(None)))
            else:
                parts.append(
                    (
                        _Cols(
                            cols.t_mono[keep],
                            cols.t_wall[keep],
                            cols.web[keep],
                            cols.values[keep],
                            cols.quality[keep],
                        ),
                        slice(None),
                    )
                )
        return self._samples(parts, batches)


def _finite(name: str, x: float) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"{name} must be a number, not {x!r}") from exc
    if not math.isfinite(v):
        raise InvalidArgument(f"{name} must be a finite number, not {x!r}")
    return v
