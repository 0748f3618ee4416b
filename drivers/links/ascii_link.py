"""Query/answer link for line-oriented ASCII instruments on a serial port.

One request at a time; every query has one total deadline, which covers opening
the port, writing the query and reading the answer (none of which blocks the
event loop: see ``serial_port``).

A late answer is never read as the answer to a later query, however late it
is, when the instrument's driver gives the link a ``Probe``: a query whose
answer no query of the driver's gets (the supply's ``*IDN?``, the gauge's
unknown parameter). The argument is the RTU link's (``drivers.links.modbus_rtu``)
with two forms of answer, the probe's and any other, and rests on an
instrument answering its queries at most once each, in order, with one line:

- the link keeps the queries that timed out, in order, with their form: their
  answers may still come. A line of the form of the query just sent is its
  answer only if no listed query has that form; then every listed query is
  answered or lost, and the list is emptied;
- any other line answers a listed query: every listed query up to the first of
  its form is answered or lost, and struck off (a line that fits none is noise);
- a query is not sent while a query of the other form is listed: the link sends
  the probe first, and sends the query once no query of that form is listed. If
  one still is after the probe, the query fails with ``DeviceTimeout`` (or
  ``BadReply`` if what came was not an answer) and the next query probes again.

A line counts as the probe's answer only while a probe is sent or listed, so
the same text asked for on purpose (``*IDN?``) is answered as usual. Without a
probe the link only waits out a late-answer window after a timeout (two
deadlines by default, kept with a probe too, so late answers usually arrive
before the next query), which makes a crossed answer unlikely, not impossible.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from drivers.ascii_protocol import CR, FramingError, LineFramer
from drivers.errors import BadReply, DeviceTimeout
from drivers.links import Probe
from drivers.links.serial_port import AsyncSerialPort

__all__ = ["AsciiLink", "LateQueries", "Probe"]

PROBE, OTHER = True, False  # the two forms of answer


@dataclass
class _Run:
    form: bool
    count: int


class LateQueries:
    """Queries that timed out, in order, by form, as runs (an instrument probed for
    hours costs a few runs)."""

    def __init__(self) -> None:
        self._runs: list[_Run] = []

    def __len__(self) -> int:
        return sum(r.count for r in self._runs)

    def forms(self) -> list[bool]:
        return [r.form for r in self._runs for _ in range(r.count)]

    def has(self, form: bool) -> bool:
        return any(r.form == form for r in self._runs)

    def append(self, form: bool) -> None:
        if self._runs and self._runs[-1].form == form:
            self._runs[-1].count += 1
        else:
            self._runs.append(_Run(form, 1))

    def strike(self, form: bool) -> bool:
        """An answer of ``form`` came: strike every query up to and including the
        first of that form. False if none is listed."""
        for e, run in enumerate(self._runs):
            if run.form == form:
                del self._runs[:e]
                run.count -= 1
                if not run.count:
                    del self._runs[0]
                return True
        return False

    def clear(self) -> None:
        self._runs.clear()


class AsciiLink:
    def __init__(
        self,
        port: AsyncSerialPort,
        *,
        timeout_s: float = 0.5,
        late_window_s: float | None = None,
        terminator: bytes = CR,
        name: str = "",
        probe: Probe | None = None,
    ) -> None:
        self.port = port
        self.timeout_s = timeout_s
        self.late_window_s = 2 * timeout_s if late_window_s is None else late_window_s
        self.terminator = terminator
        self.name = name or port.name
        self.probe = probe
        self.transactions = 0
        self.probes = 0
        self.late = LateQueries()
        self._lock = asyncio.Lock()
        self._quiet_until = 0.0

    async def query(self, line: bytes) -> bytes:
        """Send one line (terminator added) and return the answer line (stripped)."""
        loop = asyncio.get_running_loop()
        async with self._lock:
            if self._quiet_until > loop.time():
                await asyncio.sleep(self._quiet_until - loop.time())
            self._account_stale()
            if self.late.has(OTHER):
                if self.probe is None:
                    self.late.clear()  # nothing to resynchronise with: the window has to do
                else:
                    self.probes += 1
                    await self._exchange(self.probe.query, f"{line!r} (resynchronising)", PROBE)
                    if self.late.has(OTHER):
                        raise DeviceTimeout(
                            f"{line!r}: resynchronising, {len(self.late)} earlier queries "
                            "may still be answered",
                            device=self.name,
                        )
            answer = await self._exchange(line, repr(line), OTHER)
            assert answer is not None
            return answer

    def _form(self, line: bytes, current: bool | None) -> bool:
        if self.probe is None or not (current == PROBE or self.late.has(PROBE)):
            return OTHER
        return self.probe.answers(line)

    def _account_stale(self) -> None:
        """Lines that came between queries answer listed ones; a partial line is dropped."""
        framer = LineFramer(self.terminator)
        for x in framer.feed(self.port.take()):
            self.late.strike(self._form(x, None))

    async def _exchange(self, line: bytes, what: str, form: bool) -> bytes | None:
        """One query and its answer; for the probe, None as soon as no query of the
        other form is listed (the probe then stays listed unless it was answered)."""
        loop = asyncio.get_running_loop()
        framer = LineFramer(self.terminator)
        sent = False
        noise = 0  # bytes that answer nothing
        problem = ""
        try:
            async with asyncio.timeout(self.timeout_s):
                await self.port.open()
                self._account_stale()
                sent = True
                await self.port.write(line + self.terminator)
                self.transactions += 1
                while True:
                    answer: bytes | None = None
                    for x in framer.feed(self.port.take()):
                        f = self._form(x, form)
                        if f == form and not self.late.has(form):
                            if answer is not None:
                                raise BadReply(
                                    f"{what}: two answers {answer!r} and {x!r}", device=self.name
                                )
                            answer = x
                            self.late.clear()
                        elif not self.late.strike(f):
                            noise += len(x) + len(self.terminator)
                            problem = _why(self.probe, x) if form == PROBE else problem
                    if answer is not None:
                        if framer.dropped or noise:
                            raise BadReply(
                                f"{what}: the answer {answer!r} came with "
                                f"{noise + framer.dropped} bytes of noise",
                                device=self.name,
                            )
                        return None if form == PROBE else answer
                    if form == PROBE and not self.late.has(OTHER):
                        self.late.append(PROBE)
                        return None
                    await self.port.wait_more()
        except TimeoutError as exc:
            if not sent:
                raise DeviceTimeout(
                    f"{what}: port not open within {self.timeout_s:g} s", device=self.name
                ) from exc
            self.late.append(form)
            self._quiet_until = loop.time() + self.late_window_s
            noise += framer.dropped + framer.pending
            if noise:
                raise BadReply(
                    f"{what}: {noise} bytes but no complete answer within "
                    f"{self.timeout_s:g} s{problem}",
                    device=self.name,
                ) from exc
            raise DeviceTimeout(
                f"{what}: no answer within {self.timeout_s:g} s", device=self.name
            ) from exc

    async def close(self) -> None:
        await self.port.aclose()


def _why(probe: Probe | None, line: bytes) -> str:
    """Why ``line`` is not the probe's answer, if it is a corrupt one."""
    if probe is not None:
        try:
            probe.recognise(line)
        except FramingError as exc:
            return f" ({exc})"
    return ""
