"""What acquisition produces and the run log stores: a channel (its name, unit and
device), the quality of a value, one sample of every channel as the supervisor and the
alarms read it, and a batch of sampled rows (numpy arrays, one row a sample). Value
types, no I/O: the acquisition room builds them, the run log writes them and the pure
cores read them, none importing another."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from linecontrol.errors import InvalidArgument


class BatchShapeError(InvalidArgument):
    """A batch built from arrays that do not line up (a programming error upstream)."""


class Quality(IntEnum):
    """The quality code of a value (``linecontrol.acquisition.quality`` says when each
    holds). Only GOOD is a value to act on."""

    GOOD = 0
    STALE = 1
    INVALID = 2
    WAITING = 3


_GOOD = int(Quality.GOOD)  # the code, read without the enum's attribute lookup


@dataclass(frozen=True)
class Channel:
    name: str
    unit: str = ""
    device: str = ""


@dataclass(frozen=True)
class Batch:
    """Rows of one second: arrays with one entry (row) per sample.

    Frozen all the way down: the arrays are checked for shape and type and made read-only
    when the batch is built, so a sink (the run log, a subscriber) cannot change what the
    next sink sees. Build a batch from arrays you hand over; they become read-only too.
    """

    t_mono: np.ndarray
    t_wall: np.ndarray
    web_position_m: np.ndarray
    values: np.ndarray  # (rows, channels) float64
    quality: np.ndarray  # (rows, channels) uint8

    def __post_init__(self) -> None:
        rows = len(self.t_mono)
        for name in ("t_mono", "t_wall", "web_position_m"):
            a = getattr(self, name)
            if not isinstance(a, np.ndarray) or a.shape != (rows,):
                raise BatchShapeError(f"Batch.{name}: want shape ({rows},), got {_shape(a)}")
        for name in ("values", "quality"):
            a = getattr(self, name)
            if not isinstance(a, np.ndarray) or a.ndim != 2 or a.shape[0] != rows:
                want = f"({rows}, channels)"
                raise BatchShapeError(f"Batch.{name}: want shape {want}, got {_shape(a)}")
        if self.values.shape != self.quality.shape:
            raise BatchShapeError(
                f"Batch: values {self.values.shape} and quality {self.quality.shape} differ"
            )
        if self.quality.dtype != np.uint8:
            raise BatchShapeError(f"Batch.quality: want uint8, got {self.quality.dtype}")
        for name in ("t_mono", "t_wall", "web_position_m", "values", "quality"):
            getattr(self, name).flags.writeable = False

    @property
    def rows(self) -> int:
        return len(self.t_mono)

    @property
    def width(self) -> int:
        return int(self.values.shape[1])


def _shape(a: object) -> str:
    return str(a.shape) if isinstance(a, np.ndarray) else type(a).__name__


@dataclass(frozen=True)
class Sample:
    """Every channel at one instant, as the pure cores read it (built once per cycle from
    the sampler's row; the arrays are not copied, so build it from a row nobody writes).

    ``good(name)`` is the value only if its quality is GOOD and it is finite, else None:
    a STALE or INVALID value is never handed out as if it were measured. ``value`` and
    ``quality`` give the raw pair for display and logging. ``t_good`` (optional): when
    each channel was last answered (monotonic, ``-inf`` for never), for watchdogs.
    """

    t_mono: float
    index: Mapping[str, int]
    values: np.ndarray
    quality_codes: np.ndarray
    web_position_m: float = math.nan
    t_good: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.values.shape != self.quality_codes.shape or self.values.ndim != 1:
            raise BatchShapeError(
                f"Sample: values {self.values.shape} and quality {self.quality_codes.shape}"
            )
        if self.t_good is not None and self.t_good.shape != self.values.shape:
            raise BatchShapeError(
                f"Sample: values {self.values.shape} and t_good {self.t_good.shape}"
            )

    def answered_at(self, name: str) -> float | None:
        """When ``name`` was last answered (``-inf``: never); None when not carried."""
        if self.t_good is None:
            return None
        return float(self.t_good[self.index[name]])

    def __contains__(self, name: object) -> bool:
        return name in self.index

    def value(self, name: str) -> float:
        """The last value of ``name`` whatever its quality (NaN when none)."""
        return float(self.values[self.index[name]])

    def quality(self, name: str) -> Quality:
        return Quality(int(self.quality_codes[self.index[name]]))

    def good(self, name: str) -> float | None:
        """The value of ``name`` if GOOD and finite, else None (unknown names too)."""
        i = self.index.get(name)
        if i is None or self.quality_codes[i] != _GOOD:
            return None
        v = float(self.values[i])
        return v if math.isfinite(v) else None
