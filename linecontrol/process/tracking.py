"""Material tracking (pure): which metre of product is at which station.

The drive's encoder gives the web position at the unwind reference. A point of
the web that is at station k now passed the unwind ``distance_m`` metres ago, so
it is metre ``web_position - distance_m`` of the roll (negative: no product of
this run has reached the station yet).
"""

from __future__ import annotations

import numpy as np


def metre_at_station(web_position_m: float | np.ndarray, distance_m: float) -> float | np.ndarray:
    return web_position_m - distance_m


def when_metre_at_station(
    metre: float, distance_m: float, t_s: np.ndarray, web_position_m: np.ndarray
) -> float | None:
    """The time at which product metre ``metre`` passed a station, from a logged
    position record (monotonic position assumed); None if it never did."""
    target = metre + distance_m
    if len(web_position_m) == 0 or not web_position_m[-1] >= target:
        return None
    i = int(np.searchsorted(web_position_m, target))
    if i == 0:
        return float(t_s[0])
    p0, p1 = web_position_m[i - 1], web_position_m[i]
    f = 0.0 if p1 == p0 else (target - p0) / (p1 - p0)
    return float(t_s[i - 1] + f * (t_s[i] - t_s[i - 1]))
