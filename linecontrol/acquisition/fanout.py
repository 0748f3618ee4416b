"""Fan-out of sampled rows to subscribers, each with a named overflow policy.

A subscriber that reads slower than the sampler writes must lose something or hold
something; which, is its policy, chosen by what the subscriber is for, never left to
chance:

``Overflow.LATEST_WINS``  displays and telemetry (``LatestValue``): only the newest row
                          matters, so an unread older row is replaced and counted in
                          ``dropped``. Memory: one row.
``Overflow.RESYNC``       clients that must see every row or know they did not (the local
                          API's streams; ``RowQueue``): a bounded FIFO; when a slow reader
                          lets it fill, it is emptied and the reader's next ``get`` raises
                          ``ResyncNeeded`` once, so it fetches a fresh full state instead of
                          silently missing rows or slowing the sampler. Memory: ``maxlen``
                          rows.

The run log is a batch sink, not a subscriber: its policy is never to drop (a backlog
spills to memory with a ``RunLogBacklog`` event; ``linecontrol.runlog``). No policy here
ever blocks the sampler: ``put`` is synchronous and O(1).
"""

from __future__ import annotations

import asyncio
from collections import deque
from enum import StrEnum
from typing import Protocol

from linecontrol.acquisition.snapshot import Row
from linecontrol.errors import InvalidArgument, LinecontrolError


class Overflow(StrEnum):
    LATEST_WINS = "latest-wins"
    RESYNC = "resync"


class ResyncNeeded(LinecontrolError, RuntimeError):
    """Rows were lost to a slow reader (``Overflow.RESYNC``): fetch a full state."""

    def __init__(self, lost: int) -> None:
        super().__init__(f"{lost} rows were not read in time: resynchronise from a full state")
        self.lost = lost


class Subscriber(Protocol):
    policy: Overflow

    def put(self, row: Row) -> None: ...


class LatestValue:
    """A subscriber slot that keeps only the newest row (``Overflow.LATEST_WINS``)."""

    policy = Overflow.LATEST_WINS

    def __init__(self) -> None:
        self.row: Row | None = None
        self.dropped = 0
        self._event = asyncio.Event()

    def put(self, row: Row) -> None:
        if self.row is not None and self._event.is_set():
            self.dropped += 1  # latest value wins: the unread older row is replaced
        self.row = row
        self._event.set()

    async def get(self) -> Row:
        await self._event.wait()
        self._event.clear()
        assert self.row is not None
        return self.row


class RowQueue:
    """Every row in order, up to ``maxlen`` unread (``Overflow.RESYNC``)."""

    policy = Overflow.RESYNC

    def __init__(self, maxlen: int) -> None:
        if isinstance(maxlen, bool) or not isinstance(maxlen, int) or maxlen < 1:
            raise InvalidArgument(f"maxlen = {maxlen!r}: a whole number of rows, at least 1")
        self.maxlen = maxlen
        self.resyncs = 0  # how many times the reader fell behind
        self._rows: deque[Row] = deque()
        self._lost = 0
        self._event = asyncio.Event()

    def put(self, row: Row) -> None:
        if len(self._rows) >= self.maxlen:
            # The reader fell behind: what it has not read is of no use to it any more.
            self._lost += len(self._rows)
            self._rows.clear()
            self.resyncs += 1
        self._rows.append(row)
        self._event.set()

    def __len__(self) -> int:
        return len(self._rows)

    async def get(self) -> Row:
        """The next row; raises ``ResyncNeeded`` once after rows were lost (the rows
        that came after the loss follow)."""
        while not self._rows and not self._lost:
            self._event.clear()
            await self._event.wait()
        if self._lost:
            lost, self._lost = self._lost, 0
            raise ResyncNeeded(lost)
        return self._rows.popleft()
