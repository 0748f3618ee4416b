"""Time, injected: the monotonic clock for scheduling, the wall clock for records."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def wall(self) -> float: ...

    async def sleep_until(self, t_mono: float) -> None: ...


class SystemClock:
    """The event loop's monotonic clock and the system's wall clock."""

    def monotonic(self) -> float:
        return asyncio.get_running_loop().time()

    def wall(self) -> float:
        return time.time()

    async def sleep_until(self, t_mono: float) -> None:
        delay = t_mono - self.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            await asyncio.sleep(0)

    def both(self) -> tuple[float, float]:
        return self.monotonic(), self.wall()
