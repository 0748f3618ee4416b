"""Quality of acquired values and the retry policy of a failing device (pure).

GOOD     a value from a successful poll within the last ``STALE_PERIODS`` poll periods.
STALE    the last good value is older than that (the device stopped answering, or
         is being retried after a timeout): the last value is kept, flagged.
INVALID  the device answered something that is not a value (an exception reply,
         garbage, a bad CRC, NaN): the value is NaN until the next good poll.
WAITING  the channel has never had a value yet (as OPC UA's
         Bad_WaitingForInitialData): the value is NaN. Not a fault in itself: every
         run starts so; a device that never answers is reported per device.

All judged on our own clock; a protocol library's retries are off.
"""

from __future__ import annotations

import random

import numpy as np

from linecontrol.model import Quality as Quality  # re-exported: its home is the model

STALE_PERIODS = 3.0
BACKOFF_CAP_S = 3.0




def refresh(
    quality: np.ndarray, t_good: np.ndarray, stale_after_s: np.ndarray, now: float
) -> np.ndarray:
    """Turn GOOD channels whose last good value is too old into STALE (in place);
    returns the mask of channels that changed."""
    aged: np.ndarray = (quality == Quality.GOOD) & ((now - t_good) > stale_after_s)
    quality[aged] = Quality.STALE
    return aged


def backoff_s(
    failures: int, period_s: float, rng: random.Random, cap_s: float = BACKOFF_CAP_S
) -> float:
    """Delay before the next attempt after ``failures`` consecutive timeouts or
    refused connections: doubling from one poll period, capped, with jitter (50-100 %
    of the step) so devices that failed together do not retry together."""
    step = min(cap_s, period_s * (2.0 ** max(0, failures - 1)))
    return step * (0.5 + 0.5 * rng.random())
