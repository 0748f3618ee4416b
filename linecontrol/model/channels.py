"""What acquisition produces and the run log stores: a channel (its name, unit and
device) and a batch of sampled rows (numpy arrays, one row a sample). Value types, no I/O:
the acquisition room builds them and the run log writes them, neither importing the other."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from linecontrol.errors import InvalidArgument


class BatchShapeError(InvalidArgument):
    """A batch built from arrays that do not line up (a programming error upstream)."""


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
