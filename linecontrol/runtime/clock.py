"""Time, injected: the monotonic clock for scheduling, the wall clock for records.

No core reads time itself: acquisition, the run log and the recorder take a
``Clock``. ``SystemClock`` is the real one; ``ManualClock`` is stepped by a test
(``advance``), so a test of scheduling, backoff or quality ageing never sleeps.
``ScaledClock`` is the system's clock run ``speedup`` times faster, for a simulated
line in accelerated time (the simulators keep the same clock, ``simulators.clock``).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from linecontrol.errors import LinecontrolError


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def wall(self) -> float: ...

    async def sleep_until(self, t_mono: float) -> None: ...


class ClockError(LinecontrolError, ValueError):
    """A clock asked to go backwards, by a non-finite step, to sleep until a non-finite
    time, or built on a non-finite one."""


def _finite_deadline(t_mono: float) -> None:
    # NaN never compares: it would never be due (and breaks a queue ordered by deadline);
    # an infinite deadline is never, or always, reached.
    if not math.isfinite(t_mono):
        raise ClockError(f"sleep_until({t_mono!r}): a finite monotonic time")


class SystemClock:
    """The system's monotonic clock (the one asyncio's event loop runs on, so a
    ``sleep_until`` deadline and ``monotonic()`` agree) and its wall clock. Safe to
    read from any thread: the run log's writer thread stamps its error events with it.
    ``sleep_until`` a non-finite time is a ``ClockError``."""

    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    async def sleep_until(self, t_mono: float) -> None:
        _finite_deadline(t_mono)
        delay = t_mono - self.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            await asyncio.sleep(0)

    def both(self) -> tuple[float, float]:
        return self.monotonic(), self.wall()


SPEEDUP_MAX = 1e6  # as the simulators' ``--speedup``: this and above are refused


class ScaledClock:
    """The system's monotonic clock run ``speedup`` times faster from ``epoch``.

    ``epoch`` is a reading of the system's monotonic clock (``time.monotonic()``; by
    default the one at construction). Simulated time is::

        monotonic() = epoch + (time.monotonic() - epoch) * speedup

    so it starts at the epoch's own value and at speedup 1 *is* the system's
    monotonic clock. CLOCK_MONOTONIC is one clock for every process of the machine:
    a child given the same ``epoch`` and ``speedup`` (``python -m simulators
    --speedup N --epoch T``) computes literally the same time.

    The wall clock is the wall time at the epoch plus the simulated time elapsed
    since (``wall() = wall_at_epoch + monotonic() - epoch``): a run at speedup N has
    wall stamps N times faster than real, which is what the run log of a simulated
    run shows. ``sleep_until`` turns a simulated deadline into a real delay
    (``(t_mono - monotonic()) / speedup``) and sleeps again if it woke early, so on
    return ``monotonic() >= t_mono``.

    ``base`` (the monotonic clock), ``wall_base`` (the wall clock, read once, at
    construction) and ``sleep`` (real seconds) are injected for tests of the
    arithmetic; the defaults are the system's.
    """

    def __init__(
        self,
        speedup: float,
        epoch: float | None = None,
        *,
        base: Callable[[], float] = time.monotonic,
        wall_base: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not (math.isfinite(speedup) and 0 < speedup < SPEEDUP_MAX):
            raise ClockError(f"speedup {speedup!r}: above 0 and below {SPEEDUP_MAX:g}")
        now = base()
        if epoch is None:
            epoch = now
        if not math.isfinite(epoch):
            raise ClockError(f"epoch {epoch!r}: a finite monotonic time")
        self.speedup = float(speedup)
        self.epoch = float(epoch)
        self._base = base
        self._sleep = sleep
        # The wall time at the epoch, from one reading of both clocks.
        self.wall_at_epoch = wall_base() - (now - self.epoch)

    def monotonic(self) -> float:
        return self.epoch + (self._base() - self.epoch) * self.speedup

    def wall(self) -> float:
        return self.wall_at_epoch + (self.monotonic() - self.epoch)

    def both(self) -> tuple[float, float]:
        mono = self.monotonic()
        return mono, self.wall_at_epoch + (mono - self.epoch)

    def simulator_args(self) -> list[str]:
        """The options that put ``python -m simulators`` on this clock."""
        return ["--speedup", repr(self.speedup), "--epoch", repr(self.epoch)]

    def real_delay(self, t_mono: float) -> float:
        """Real seconds from now until simulated time ``t_mono`` (0 if reached)."""
        return max(0.0, (t_mono - self.monotonic()) / self.speedup)

    async def sleep_until(self, t_mono: float) -> None:
        _finite_deadline(t_mono)  # max(0, NaN) is 0: a NaN deadline would never sleep
        delay = self.real_delay(t_mono)
        if delay <= 0:
            await self._sleep(0)
            return
        while delay > 0:
            await self._sleep(delay)
            delay = self.real_delay(t_mono)


class ManualClock:
    """A clock that moves only when told to: ``advance(dt)`` steps both clocks and
    wakes every ``sleep_until`` whose deadline has come (in deadline order); the
    woken tasks run at the test's next ``await``. ``sleep_until`` a time already
    reached only yields to the loop once. The wall clock is ``wall_at_zero`` plus
    the monotonic time. A non-finite ``start``, ``wall_at_zero`` or ``sleep_until``
    deadline is a ``ClockError`` (the sleepers already waiting are unaffected)."""

    def __init__(self, start: float = 0.0, *, wall_at_zero: float = 1.7e9) -> None:
        if not math.isfinite(start):
            raise ClockError(f"start {start!r}: a finite time")
        if not math.isfinite(wall_at_zero):
            raise ClockError(f"wall_at_zero {wall_at_zero!r}: a finite wall time")
        self._now = float(start)
        self._wall_at_zero = float(wall_at_zero)
        self._waiters: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def monotonic(self) -> float:
        return self._now

    def wall(self) -> float:
        return self._wall_at_zero + self._now

    def both(self) -> tuple[float, float]:
        return self.monotonic(), self.wall()

    async def sleep_until(self, t_mono: float) -> None:
        _finite_deadline(t_mono)
        if t_mono <= self._now:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (t_mono, next(self._seq), fut))
        await fut  # cancelling the sleeper cancels fut: ``advance`` skips it

    @property
    def waiting(self) -> int:
        """How many sleepers are waiting for a time not yet reached."""
        return sum(1 for _, _, f in self._waiters if not f.done())

    def next_deadline(self) -> float | None:
        """The earliest deadline a sleeper waits for, or None."""
        while self._waiters and self._waiters[0][2].done():
            heapq.heappop(self._waiters)
        return self._waiters[0][0] if self._waiters else None

    def advance(self, dt: float) -> int:
        """Move time forward by ``dt`` s (``ClockError`` if negative or not finite)
        and wake the sleepers now due. Returns how many were woken."""
        if not math.isfinite(dt) or dt < 0:
            raise ClockError(f"advance({dt!r}): a finite step >= 0")
        return self.advance_to(self._now + dt)

    def advance_to(self, t_mono: float) -> int:
        """Move time forward to ``t_mono`` (never back) and wake the sleepers due."""
        if not math.isfinite(t_mono) or t_mono < self._now:
            raise ClockError(f"advance_to({t_mono!r}): finite, not before {self._now!r}")
        self._now = t_mono
        woken = 0
        while self._waiters and self._waiters[0][0] <= self._now:
            _, _, fut = heapq.heappop(self._waiters)
            if not fut.done():
                fut.set_result(None)
                woken += 1
        return woken
