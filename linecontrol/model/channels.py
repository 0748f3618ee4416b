"""What acquisition produces and the run log stores: a channel (its name, unit and
device) and a batch of sampled rows (numpy arrays, one row a sample). Value types, no I/O:
the acquisition room builds them and the run log writes them, neither importing the other."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Channel:
    name: str
    unit: str = ""
    device: str = ""


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
