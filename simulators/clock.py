"""The simulators' clock: the system's monotonic clock run ``speedup`` times faster.

The same formula as ``linecontrol.runtime.ScaledClock`` (the simulators do not import
linecontrol)::

    now() = epoch + (time.monotonic() - epoch) * speedup

``epoch`` is a reading of the system's monotonic clock. CLOCK_MONOTONIC is one clock
for every process of the machine, so a supervisor and ``python -m simulators
--speedup N --epoch T`` given the same ``N`` and ``T`` run on literally the same
simulated time.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from simulators.errors import SimLineError

SPEEDUP_MAX = 1e6  # as linecontrol's: this and above are refused


class SimClock:
    def __init__(
        self,
        speedup: float = 1.0,
        epoch: float | None = None,
        *,
        base: Callable[[], float] = time.monotonic,
    ) -> None:
        if not (math.isfinite(speedup) and 0 < speedup < SPEEDUP_MAX):
            raise SimLineError(f"speedup {speedup!r}: above 0 and below {SPEEDUP_MAX:g}")
        if epoch is None:
            epoch = base()
        if not math.isfinite(epoch):
            raise SimLineError(f"epoch {epoch!r}: a finite monotonic time")
        self.speedup = float(speedup)
        self.epoch = float(epoch)
        self._base = base

    def now(self) -> float:
        """Simulated seconds (on the epoch's scale: ``epoch`` at the epoch)."""
        return self.epoch + (self._base() - self.epoch) * self.speedup

    def real_delay(self, t_sim: float) -> float:
        """Real seconds until simulated time ``t_sim`` (0 if reached)."""
        return max(0.0, (t_sim - self.now()) / self.speedup)
