"""Modbus RTU link on one serial bus (RS-485): our own framing over ``serial_port``.

pymodbus's serial client inserts no 3.5-character gap and, with no transaction
id in RTU, would take a late reply of the same unit and function for the answer
to the next request. This link therefore:

- serialises requests on the bus (half-duplex: one at a time) and keeps the
  3.5-character silence before every frame; opening the port, writing the
  request and waiting for the reply all count against the transaction's
  deadline (``timeout_s``), and none of them blocks the event loop;
- cuts what it receives into CRC-valid frames in one linear pass
  (``drivers.modbus_rtu.ReplyScanner``), so a babbling device costs time in
  proportion to what it sends, never more;
- never takes a late reply for the answer to another request (below).

Why a late reply can never be credited to the wrong request
-----------------------------------------------------------
An RTU reply carries no transaction id: only its unit, its function and its
form (length; for a write, the echoed address and count). The link keeps, per
unit, the list of requests that timed out (their replies may still come), in
the order they were sent: the *unanswered* list. The argument rests on four
assumptions about the bus: (1) a CRC-valid frame is the frame a device sent
(CRC-16 detects every error burst of up to 16 bits and all but 1 in 65536 of
the others); (2) each unit id belongs to one device; (3) a device answers the
requests addressed to it at most once each, in the order it received them
(a Modbus slave handles one request at a time), and answers nothing else;
(4) this link is the only master on the bus since it opened the port.

- A frame from unit U is taken as the reply to the request just sent to U only
  if it has that request's form and no request in U's unanswered list has that
  form. By (1)-(3) the frame answers some request sent to U and not yet
  answered: the list holds every such earlier request (a superset: entries are
  removed only when proven answered or lost), so if none of them has its form,
  the frame answers the current request. By (3) every earlier request of U is
  then answered or lost: U's list is emptied.
- Any other frame from U answers some request in U's list: say the one at
  position j. The earliest entry with the frame's form, at position e, is at or
  before j, so by (3) every entry up to and including e is answered or lost:
  they are removed. The list stays a superset of what may still be answered.
  Frames are handled in the order they arrived, which is what (3) speaks of.
- A request whose form is in U's unanswered list is not sent as such: the link
  first sends a *probe*: a read of a prefix of a range U answered before (or of
  the request's own range, or that range with one register more), with a
  register count whose form differs from the blocked request's. Its reply, or
  any frame of U, shortens the list as above; once no entry has the blocked
  form, the request is sent and its reply can be trusted. If the list still
  holds that form after the probe, the read fails with ``DeviceTimeout`` (the
  unit is resynchronising; its values age to STALE), and the next poll probes
  again. Each frame U sends empties the list or strikes at least its front entry;
  a probe adds at most one entry at the back, so a unit that answers again is
  trusted again after finitely many probes; a dead unit only ever costs its own
  deadlines.
- An exception reply has only the function as its form. One that an earlier
  unanswered request of that function could have sent strikes as above and is
  reported as the current request's ``DeviceRejected`` (it carries no value, so
  nothing wrong is used), and the current request stays listed as unanswered.

A frame that answers no request sent to its unit can only come from a device
that breaks (3) (a reply sent twice: its second copy would be taken for the next
read's answer). The link then refuses that unit's replies (``BadReply``) until
``ROGUE_CLEAN`` of its transactions in a row bring no such frame, so a unit that
keeps answering twice gives errors, not shifted values; only a copy taken before
anything unexplained arrived can get through, once. A request cancelled after it
was sent is listed as unanswered, as after a timeout.

So a crossed value needs a CRC collision or a device that breaks (2)-(4), never
bad timing: no assumption is made about how late a reply may be. As an
optimisation, after a timeout the unit's next request is held back for its
late-reply window (without holding the bus), so a late reply usually arrives,
and is accounted for, before the unit is asked again.

A timeout is ``DeviceTimeout`` when all that arrived was other units' frames
(late replies on their way) or nothing; it is ``BadReply`` when bytes arrived
that form no valid frame, or the unit asked sent a frame that answers nothing.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass

from drivers.errors import BadReply, DeviceRejected, DeviceTimeout, DeviceUnreachable
from drivers.links import Table
from drivers.links.modbus_tcp import EXCEPTION_NAMES
from drivers.links.serial_port import AsyncSerialPort
from drivers.modbus_rtu import ReplyScanner, Shape, frame, frame_gap_s

# A unit that sent a frame answering no request it was sent (it breaks assumption
# (3): a reply sent twice, say) has its replies refused until this many of its
# transactions in a row bring no such frame.
ROGUE_CLEAN = 3


@dataclass
class _Run:
    shape: Shape
    count: int


class Unanswered:
    """One unit's requests that timed out and may still be answered, in the order
    sent, kept as runs of equal forms (a dead unit probed for hours is a few runs,
    not one entry per probe)."""

    def __init__(self) -> None:
        self._runs: list[_Run] = []

    def __len__(self) -> int:
        return sum(r.count for r in self._runs)

    def __contains__(self, shape: object) -> bool:
        return any(r.shape == shape for r in self._runs)

    def shapes(self) -> list[Shape]:
        return [r.shape for r in self._runs for _ in range(r.count)]

    def append(self, shape: Shape) -> None:
        if self._runs and self._runs[-1].shape == shape:
            self._runs[-1].count += 1
        else:
            self._runs.append(_Run(shape, 1))

    def fits(self, adu: bytes) -> bool:
        return any(r.shape.fits(adu) for r in self._runs)

    def strike(self, adu: bytes) -> bool:
        """``adu`` answers one of these requests: strike every request up to and
        including the first it fits. False if it fits none."""
        for e, run in enumerate(self._runs):
            if run.shape.fits(adu):
                del self._runs[:e]
                run.count -= 1
                if not run.count:
                    del self._runs[0]
                return True
        return False


class ModbusRtuLink:
    def __init__(
        self,
        port: AsyncSerialPort,
        *,
        timeout_s: float = 0.3,
        late_window_s: float | None = None,
        name: str = "",
    ) -> None:
        self.port = port
        self.timeout_s = timeout_s
        self.late_window_s = 2 * timeout_s if late_window_s is None else late_window_s
        self.name = name or port.name
        self.gap_s = frame_gap_s(port.settings.baudrate, port.settings.bits_per_char)
        self.transactions = 0
        self.discarded_frames = 0
        self.probes = 0
        self.unexplained = 0  # frames that answered no request sent to their unit
        self.scanner = ReplyScanner()
        self._lock = asyncio.Lock()
        self._quarantine: dict[int, float] = {}
        # Per unit: requests that timed out and may still be answered, in order.
        self._unanswered: dict[int, Unanswered] = {}
        # Per unit: (function, address) -> register count of reads it answered.
        self._answered_reads: dict[int, dict[tuple[int, int], int]] = {}
        # Per unit: transactions still to go before its replies are trusted again.
        self._rogue: dict[int, int] = {}

    def unanswered(self, unit: int) -> list[Shape]:
        u = self._unanswered.get(unit)
        return u.shapes() if u is not None else []

    def _pending(self, unit: int) -> Unanswered:
        return self._unanswered.setdefault(unit, Unanswered())

    def _blocked(self, shape: Shape) -> bool:
        """A request of this form could be answered by an earlier request's reply."""
        return shape in self._pending(shape.unit)

    def _account(self, adu: bytes) -> bool:
        """A frame that is not the reply awaited: strike the requests it proves
        answered or lost. False if it answers nothing we sent to its unit: then
        that unit breaks assumption (3), and its replies are refused for a while."""
        if self._pending(adu[0]).strike(adu):
            return True
        self.unexplained += 1
        self._rogue[adu[0]] = ROGUE_CLEAN
        return False

    def _absorb(self) -> None:
        """Account for what came in between transactions (late replies, noise)."""
        for adu in self.scanner.feed(self.port.take()):
            self._account(adu)
            self.discarded_frames += 1
        if self.scanner.flush():
            self.discarded_frames += 1

    async def _exchange(
        self, shape: Shape, pdu: bytes, what: str, *, unblock: Shape | None = None
    ) -> bytes | None:
        """One transaction: the reply frame (normal or exception) that answers it.

        An exception reply that an earlier unanswered request of the same function
        could have sent is returned too (it carries no value, and the caller
        reports it), but the request stays in the unanswered list: its own reply
        may still come. With ``unblock`` (a probe), returns None as soon as no
        unanswered request has that form any more (the probe stays listed)."""
        loop = asyncio.get_running_loop()
        unit = shape.unit
        sent = False
        junk0 = 0
        wrong = 0  # frames from the unit asked that answer nothing
        try:
            async with asyncio.timeout(self.timeout_s):
                await self.port.open()
                idle = max(self.port.last_rx_s, self.port.last_tx_s) + self.gap_s - loop.time()
                if idle > 0:
                    await asyncio.sleep(idle)
                self._absorb()
                junk0 = self.scanner.junk
                sent = True
                await self.port.write(frame(unit, pdu))
                self.transactions += 1
                reply: bytes | None = None
                while True:
                    for adu in self.scanner.feed(self.port.take()):
                        if reply is None and shape.fits(adu):
                            if not self._pending(unit).fits(adu):
                                reply = adu
                                self._unanswered.pop(unit, None)
                                continue
                            if shape.refuses(adu):  # an exception, maybe an earlier one's
                                reply = adu
                                self._account(adu)
                                self._pending(unit).append(shape)
                                continue
                        self.discarded_frames += 1
                        if not self._account(adu) and adu[0] == unit:
                            wrong += 1
                    if reply is not None:
                        return reply
                    if unblock is not None and not self._blocked(unblock):
                        self._pending(unit).append(shape)
                        return None
                    await self.port.wait_more()
        except DeviceUnreachable:
            if sent:  # its reply may still come, through a reopened port
                self._pending(unit).append(shape)
            self.scanner.flush()
            raise
        except asyncio.CancelledError:
            if sent:  # cancelled after sending: its reply may still come
                self._pending(unit).append(shape)
            raise
        except TimeoutError as exc:
            if sent:
                self._pending(unit).append(shape)
                self._quarantine[unit] = loop.time() + self.late_window_s
            for adu in self.scanner.feed(self.port.take()):
                if not self._account(adu) and adu[0] == unit:
                    wrong += 1
            garbled = self.scanner.junk - junk0 + self.scanner.undecided if sent else 0
            self.scanner.flush()
            if garbled or wrong:
                raise BadReply(
                    f"{what}: {garbled} bytes of no valid frame and {wrong} frames answering "
                    f"nothing within {self.timeout_s:g} s (bad CRC, garbage or a wrong reply)",
                    device=self.name,
                ) from exc
            if not self.port.is_open:
                raise DeviceTimeout(
                    f"{what}: port not open within {self.timeout_s:g} s", device=self.name
                ) from exc
            raise DeviceTimeout(
                f"{what}: no reply within {self.timeout_s:g} s", device=self.name
            ) from exc

    def _probe(self, shape: Shape, pdu: bytes) -> tuple[Shape, bytes] | None:
        """A read whose form differs from ``shape``'s: a prefix of a range the unit
        answered, or of the request's own range, preferring a form no unanswered
        request shares (its reply then empties the list); failing those, the
        request's range with one register more (an exception reply also counts)."""
        ranges = dict(self._answered_reads.get(shape.unit, {}))
        if pdu[0] in (3, 4):
            address, count = struct.unpack(">HH", pdu[1:5])
            ranges.setdefault((pdu[0], address), count)
        candidates: list[tuple[Shape, bytes]] = []
        for (fc, address), count in ranges.items():
            for k in range(1, count + 1):
                p = struct.pack(">BHH", fc, address, k)
                s = Shape.for_request(shape.unit, p)
                if s != shape:
                    candidates.append((s, p))
        for s, p in candidates:
            if not self._blocked(s):
                return s, p
        if candidates:
            return candidates[0]
        if pdu[0] in (3, 4):
            # Nothing else known: one register more (or less) than asked. An
            # exception reply to it shortens the list as well as a normal one.
            address, count = struct.unpack(">HH", pdu[1:5])
            p = struct.pack(">BHH", pdu[0], address, count + 1 if count < 125 else count - 1)
            return Shape.for_request(shape.unit, p), p
        return None

    async def _transact(self, unit: int, pdu: bytes, what: str) -> bytes:
        loop = asyncio.get_running_loop()
        until = self._quarantine.pop(unit, None)
        if until is not None and until > loop.time():
            # Let a late reply of this unit arrive, and be accounted for, before asking again.
            await asyncio.sleep(until - loop.time())
        shape = Shape.for_request(unit, pdu)
        async with self._lock:
            self._absorb()
            if self._blocked(shape):
                probe = self._probe(shape, pdu)
                n = len(self._pending(unit))
                if probe is None:
                    raise DeviceTimeout(
                        f"{what}: resynchronising after {n} unanswered requests, and no "
                        "read of this unit is known to probe with",
                        device=self.name,
                    )
                self.probes += 1
                await self._exchange(*probe, f"{what} (probe)", unblock=shape)
                if self._blocked(shape):
                    raise DeviceTimeout(
                        f"{what}: resynchronising, {len(self._pending(unit))} "
                        "earlier requests may still be answered",
                        device=self.name,
                    )
            adu = await self._exchange(shape, pdu, what)
        assert adu is not None
        left = self._rogue.get(unit)
        if left is not None:
            # A unit that sends frames nobody asked for (a reply twice: its second
            # copy would be taken for the next read's answer) is not trusted.
            if left > 1:
                self._rogue[unit] = left - 1
            else:
                del self._rogue[unit]
            raise BadReply(
                f"{what}: unit {unit} sent frames that answer no request sent to it (a "
                f"reply sent twice?); its replies are refused until {ROGUE_CLEAN} "
                "transactions in a row bring none",
                device=self.name,
            )
        reply = adu[1:-2]
        if reply[0] & 0x80:
            code = reply[1]
            maybe = (
                ", maybe the answer to an earlier request" if shape in self._pending(unit) else ""
            )
            raise DeviceRejected(
                f"{what}: exception {code} ({EXCEPTION_NAMES.get(code, 'unknown')}){maybe}",
                code=code,
                device=self.name,
            )
        if pdu[0] in (3, 4):
            address, count = struct.unpack(">HH", pdu[1:5])
            known = self._answered_reads.setdefault(unit, {})
            known[(pdu[0], address)] = max(count, known.get((pdu[0], address), 0))
        return reply

    async def read(self, table: Table, address: int, count: int, unit: int) -> list[int]:
        fc = 3 if table == "holding" else 4
        what = f"read {table} {address}+{count} unit {unit}"
        reply = await self._transact(unit, struct.pack(">BHH", fc, address, count), what)
        return list(struct.unpack(f">{count}H", reply[2 : 2 + 2 * count]))

    async def write(self, address: int, words: list[int], unit: int) -> None:
        what = f"write {address}+{len(words)} unit {unit}"
        pdu = struct.pack(f">BHHB{len(words)}H", 16, address, len(words), 2 * len(words), *words)
        await self._transact(unit, pdu, what)  # its reply's echo is part of its form

    async def close(self) -> None:
        await self.port.aclose()


class UnitLink:
    """One unit's view of a shared bus: the RegisterLink a device driver takes."""

    def __init__(self, bus: ModbusRtuLink, unit: int) -> None:
        self.bus = bus
        self.unit = unit
        self.name = f"{bus.name}#{unit}"
        self.transactions = 0

    async def read(self, table: Table, address: int, count: int, unit: int) -> list[int]:
        self.transactions += 1
        return await self.bus.read(table, address, count, unit)

    async def write(self, address: int, words: list[int], unit: int) -> None:
        self.transactions += 1
        await self.bus.write(address, words, unit)

    async def close(self) -> None:
        """The bus is shared: closing one unit's view leaves it open."""
