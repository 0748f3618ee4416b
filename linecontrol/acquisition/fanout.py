"""Fan-out to latest-value subscribers (displays, telemetry): the newest row wins,
an unread older one is counted as dropped."""

from __future__ import annotations

import asyncio

from linecontrol.acquisition.snapshot import Row


class LatestValue:
    """A subscriber slot that keeps only the newest row (displays, telemetry)."""

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
