"""The snapshot: latest value, quality and good time of every channel, as numpy
columns, and the row the sampler takes of it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from linecontrol.acquisition.quality import Quality
from linecontrol.model import Channel, QualityName

WEB_POSITION = "web_position_m"
QUALITY_NAMES: dict[int, QualityName] = {
    Quality.GOOD: "GOOD",
    Quality.STALE: "STALE",
    Quality.INVALID: "INVALID",
    Quality.WAITING: "WAITING",
}


class Snapshot:
    """Latest value, quality and time of every channel: numpy columns."""

    def __init__(self, channels: list[Channel], stale_after_s: np.ndarray) -> None:
        self.channels = channels
        self.index = {c.name: i for i, c in enumerate(channels)}
        n = len(channels)
        self.values = np.full(n, np.nan)
        self.quality = np.full(n, Quality.WAITING, np.uint8)
        self.reported = self.quality.copy()  # as last told in QualityChanged events
        self.t_good = np.full(n, -np.inf)
        self.stale_after_s = stale_after_s
        self.web_index = next(
            (i for i, c in enumerate(channels) if c.name.endswith("." + WEB_POSITION)), None
        )

    @property
    def web_position_m(self) -> float:
        return float(self.values[self.web_index]) if self.web_index is not None else np.nan


@dataclass(frozen=True)
class Row:
    t_mono: float
    t_wall: float
    web_position_m: float
    values: np.ndarray
    quality: np.ndarray
    t_good: np.ndarray | None = None  # when each channel was last answered (-inf: never)
