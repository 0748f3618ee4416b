"""One scheduler per physical link: its devices polled one request at a time, each at
its own rate (``Poller`` keeps a device's due time, counts and lateness)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from drivers.device import PollResult
from linecontrol.runtime import Clock

LATENESS_KEPT = 4096


def raise_if_cancelling() -> None:
    """Honour a cancellation that a library swallowed.

    Python 3.11's ``asyncio.wait_for`` (which pymodbus awaits its replies with) can
    drop a cancellation that arrives as the reply completes; the task then runs on
    with ``cancelling()`` still set. A long-running loop checks it every turn, so a
    stop always stops.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class Driver(Protocol):
    async def poll(self) -> PollResult: ...


@dataclass
class Poller:
    name: str
    driver: Driver
    cols: np.ndarray  # snapshot column of each of the device's channels
    names: list[str]  # driver channel names, in the order of ``cols``
    period_s: float  # on the clock, stretched at a speed-up above 1 (Acquisition)
    next_due: float = 0.0
    failures: int = 0
    polls: int = 0
    errors: int = 0
    good_polls: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    # The last LATENESS_KEPT poll start delays (start minus due), a fixed ring.
    lateness_ring: np.ndarray = field(default_factory=lambda: np.zeros(LATENESS_KEPT))
    lateness_count: int = 0
    state: str = "new"  # "ok", "failing", "invalid"

    def note_error(self, exc: BaseException) -> None:
        self.errors += 1
        kind = type(exc).__name__
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1

    def note_lateness(self, s: float) -> None:
        self.lateness_ring[self.lateness_count % LATENESS_KEPT] = s
        self.lateness_count += 1

    @property
    def lateness_s(self) -> np.ndarray:
        return self.lateness_ring[: min(self.lateness_count, LATENESS_KEPT)]

    def clear_lateness(self) -> None:
        self.lateness_count = 0


class PollHost(Protocol):
    """What a scheduler needs of acquisition: its clock, and one poll of one device
    (result into the snapshot). A protocol, so the scheduler does not import the service
    that owns it."""

    @property
    def clock(self) -> Clock: ...

    async def poll_once(self, p: Poller) -> None: ...


class LinkScheduler:
    """Polls the devices of one physical link, one request at a time."""

    def __init__(self, name: str, pollers: list[Poller], acq: PollHost) -> None:
        self.name = name
        self.pollers = pollers
        self.acq = acq

    async def run(self) -> None:
        clock = self.acq.clock
        now = clock.monotonic()
        for p in self.pollers:
            p.next_due = now
        while True:
            raise_if_cancelling()
            p = min(self.pollers, key=lambda x: x.next_due)
            if p.next_due > clock.monotonic():
                await clock.sleep_until(p.next_due)
                continue
            await self.acq.poll_once(p)
