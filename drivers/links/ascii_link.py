"""Query/answer link for line-oriented ASCII instruments on a serial port.

One request at a time; every query has one total deadline, which covers opening
the port, writing the query and reading the answer (none of which blocks the
event loop: see ``serial_port``). Input left on the line
before a query (a late answer, noise) is discarded, and after a timeout the next
query first waits out a late-answer window, so a late answer is never read as
the answer to the next question.
"""

from __future__ import annotations

import asyncio

from drivers.ascii_protocol import CR, LineFramer
from drivers.errors import BadReply, DeviceTimeout
from drivers.links.serial_port import AsyncSerialPort


class AsciiLink:
    def __init__(
        self,
        port: AsyncSerialPort,
        *,
        timeout_s: float = 0.5,
        late_window_s: float | None = None,
        terminator: bytes = CR,
        name: str = "",
    ) -> None:
        self.port = port
        self.timeout_s = timeout_s
        self.late_window_s = 2 * timeout_s if late_window_s is None else late_window_s
        self.terminator = terminator
        self.name = name or port.name
        self.transactions = 0
        self._lock = asyncio.Lock()
        self._quiet_until = 0.0

    async def query(self, line: bytes) -> bytes:
        """Send one line (terminator added) and return the answer line (stripped)."""
        loop = asyncio.get_running_loop()
        async with self._lock:
            if self._quiet_until > loop.time():
                await asyncio.sleep(self._quiet_until - loop.time())
            framer = LineFramer(self.terminator)
            received = 0
            sent = False
            try:
                async with asyncio.timeout(self.timeout_s):
                    await self.port.open()
                    self.port.take()
                    sent = True
                    await self.port.write(line + self.terminator)
                    self.transactions += 1
                    while True:
                        data = self.port.take()
                        received += len(data)
                        lines = framer.feed(data)
                        if lines:
                            if len(lines) > 1 or framer.dropped:
                                raise BadReply(
                                    f"{line!r}: {len(lines)} lines in the answer {lines!r}",
                                    device=self.name,
                                )
                            return lines[0]
                        await self.port.wait_more()
            except TimeoutError as exc:
                if not sent:
                    raise DeviceTimeout(
                        f"{line!r}: port not open within {self.timeout_s:g} s", device=self.name
                    ) from exc
                self._quiet_until = loop.time() + self.late_window_s
                if received:
                    raise BadReply(
                        f"{line!r}: {received} bytes but no complete answer within "
                        f"{self.timeout_s:g} s",
                        device=self.name,
                    ) from exc
                raise DeviceTimeout(
                    f"{line!r}: no answer within {self.timeout_s:g} s", device=self.name
                ) from exc

    async def close(self) -> None:
        await self.port.aclose()
