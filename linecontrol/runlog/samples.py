"""Sample segments: Arrow IPC stream files, one record batch per second of rows.

Columns: ``t_mono`` (s, monotonic clock), ``t_wall`` (s since the epoch, UTC),
``web_position_m``, ``values`` (fixed-size list of float64, one per channel) and
``quality`` (fixed-size list of uint8: 0 GOOD, 1 STALE, 2 INVALID). Channel names
and units are in the schema metadata, so ``pyarrow.ipc.open_stream`` or
``polars.read_ipc_stream`` read a segment without this package.

The stream format writes no footer: every complete record batch of a killed
writer is readable. ``read_segment`` stops at a torn last batch and reports it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

QUALITY_NAMES = {0: "GOOD", 1: "STALE", 2: "INVALID"}


@dataclass(frozen=True)
class Channel:
    name: str
    unit: str = ""
    device: str = ""


def schema_for(channels: list[Channel]) -> pa.Schema:
    n = len(channels)
    meta = {
        b"linecontrol.channels": json.dumps(
            [{"name": c.name, "unit": c.unit, "device": c.device} for c in channels]
        ).encode(),
        b"linecontrol.quality": json.dumps(QUALITY_NAMES).encode(),
        b"linecontrol.format": b"1",
    }
    return pa.schema(
        [
            ("t_mono", pa.float64()),
            ("t_wall", pa.float64()),
            ("web_position_m", pa.float64()),
            ("values", pa.list_(pa.float64(), n)),
            ("quality", pa.list_(pa.uint8(), n)),
        ],
        metadata=meta,
    )


def channels_of(schema: pa.Schema) -> list[Channel]:
    raw = (schema.metadata or {}).get(b"linecontrol.channels", b"[]")
    return [Channel(**c) for c in json.loads(raw)]


@dataclass
class Batch:
    """Rows of one second: arrays with one entry (row) per sample."""

    t_mono: np.ndarray
    t_wall: np.ndarray
    web_position_m: np.ndarray
    values: np.ndarray  # (rows, channels) float64
    quality: np.ndarray  # (rows, channels) uint8

    @property
    def rows(self) -> int:
        return len(self.t_mono)


class SegmentWriter:
    """Appends batches to one segment file; each batch reaches the OS before
    ``write`` returns (and the disk, with ``fsync``)."""

    def __init__(self, path: Path, channels: list[Channel], *, fsync: bool = True) -> None:
        self.path = path
        self.schema = schema_for(channels)
        self.n = len(channels)
        self.fsync = fsync
        self._raw = pa.OSFile(str(path), "wb")
        self._sink = pa.BufferedOutputStream(self._raw, 1 << 20)
        self._writer = pa.ipc.new_stream(self._sink, self.schema)
        self._flush()
        self.batches = 0
        self.rows = 0
        self.t_first: float | None = None

    def _flush(self) -> None:
        self._sink.flush()
        if self.fsync:
            os.fsync(self._raw.fileno())

    def write(self, b: Batch) -> None:
        n = self.n
        f64, u8 = pa.float64(), pa.uint8()
        batch = pa.RecordBatch.from_arrays(
            [
                pa.array(b.t_mono, f64),
                pa.array(b.t_wall, f64),
                pa.array(b.web_position_m, f64),
                pa.FixedSizeListArray.from_arrays(pa.array(b.values.reshape(-1), f64), n),
                pa.FixedSizeListArray.from_arrays(pa.array(b.quality.reshape(-1), u8), n),
            ],
            schema=self.schema,
        )
        self._writer.write_batch(batch)
        self._flush()
        if self.t_first is None and b.rows:
            self.t_first = float(b.t_mono[0])
        self.batches += 1
        self.rows += b.rows

    def close(self) -> None:
        # End-of-stream marker: a clean close is distinguishable from a torn tail.
        try:
            self._writer.close()
            self._flush()
        finally:
            self._raw.close()


@dataclass
class SegmentRead:
    path: Path
    channels: list[Channel]
    batches: list[pa.RecordBatch] = field(default_factory=list)
    torn: str | None = None  # what stopped the read early, if anything
    file_bytes: int = 0


def read_segment(path: Path) -> SegmentRead:
    """Every complete batch of a segment; a torn tail is reported, not raised."""
    size = path.stat().st_size
    out = SegmentRead(path, [], file_bytes=size)
    if size == 0:
        out.torn = "empty file (writer killed before the schema was written)"
        return out
    try:
        reader = pa.ipc.open_stream(pa.memory_map(str(path)))
    except (pa.ArrowInvalid, OSError) as exc:
        out.torn = f"no readable schema: {exc}"
        return out
    out.channels = channels_of(reader.schema)
    while True:
        try:
            out.batches.append(reader.read_next_batch())
        except StopIteration:
            break
        except (pa.ArrowInvalid, OSError) as exc:
            out.torn = f"torn tail after batch {len(out.batches)}: {exc}"
            break
    return out


def segment_paths(samples_dir: Path) -> list[Path]:
    return sorted(samples_dir.glob("seg-*.arrows"))


@dataclass
class Samples:
    channels: list[Channel]
    t_mono: np.ndarray
    t_wall: np.ndarray
    web_position_m: np.ndarray
    values: np.ndarray
    quality: np.ndarray
    torn: list[str] = field(default_factory=list)
    batches: int = 0

    def column(self, name: str) -> np.ndarray:
        return self.values[:, [c.name for c in self.channels].index(name)]


def _concat(batches: list[pa.RecordBatch], n: int, idx: list[int] | None) -> dict[str, Any]:
    if not batches:
        cols = len(idx) if idx is not None else n
        return {
            "t_mono": np.empty(0),
            "t_wall": np.empty(0),
            "web_position_m": np.empty(0),
            "values": np.empty((0, cols)),
            "quality": np.empty((0, cols), np.uint8),
        }
    t = [b.column(0).to_numpy() for b in batches]
    tw = [b.column(1).to_numpy() for b in batches]
    pos = [b.column(2).to_numpy() for b in batches]
    vals = [b.column(3).values.to_numpy().reshape(-1, n) for b in batches]
    qual = [b.column(4).values.to_numpy().reshape(-1, n) for b in batches]
    values = np.concatenate(vals)
    quality = np.concatenate(qual)
    if idx is not None:
        values = values[:, idx]
        quality = quality[:, idx]
    return {
        "t_mono": np.concatenate(t),
        "t_wall": np.concatenate(tw),
        "web_position_m": np.concatenate(pos),
        "values": values,
        "quality": quality,
    }


def read_samples(
    samples_dir: Path,
    channels: list[str] | None = None,
    t_from: float | None = None,
    t_to: float | None = None,
) -> Samples:
    """All samples (or the named channels, within [t_from, t_to] on the monotonic
    clock) of every segment, torn tails reported in ``Samples.torn``."""
    segs = [read_segment(p) for p in segment_paths(samples_dir)]
    all_channels = next((s.channels for s in segs if s.channels), [])
    names = [c.name for c in all_channels]
    idx = None
    chosen = all_channels
    if channels is not None:
        unknown = [c for c in channels if c not in names]
        if unknown:
            raise KeyError(f"unknown channels {unknown}; the run has {len(names)} channels")
        idx = [names.index(c) for c in channels]
        chosen = [all_channels[i] for i in idx]
    batches: list[pa.RecordBatch] = []
    torn = []
    for s in segs:
        if s.torn:
            torn.append(f"{s.path.name}: {s.torn}")
        for b in s.batches:
            if t_from is not None or t_to is not None:
                t = b.column(0)
                if len(t) == 0:
                    continue
                if t_from is not None and t[len(t) - 1].as_py() < t_from:
                    continue
                if t_to is not None and t[0].as_py() > t_to:
                    continue
            batches.append(b)
    cols = _concat(batches, len(all_channels), idx)
    out = Samples(chosen, torn=torn, batches=len(batches), **cols)
    if t_from is not None or t_to is not None:
        keep = np.ones(len(out.t_mono), bool)
        if t_from is not None:
            keep &= out.t_mono >= t_from
        if t_to is not None:
            keep &= out.t_mono <= t_to
        out.t_mono, out.t_wall = out.t_mono[keep], out.t_wall[keep]
        out.web_position_m = out.web_position_m[keep]
        out.values, out.quality = out.values[keep], out.quality[keep]
    return out
