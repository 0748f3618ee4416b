"""Modbus TCP link: our own small client framing over asyncio streams.

Why not pymodbus's client (3.16). Its matching cannot be made strict from the
outside: a reply with transaction id 0 is matched to any request (so a forged
frame with id 0 just ahead of the real one is taken as the answer), the unit of a
reply to unit 0 is not checked, frames with another id are skipped silently, and
the function code and byte count of a reply are not compared with the request.
Its ``trace_packet``/``trace_pdu`` hooks see the bytes but are called inside its
protocol callback, where an error cannot fail the request cleanly. Its wait is
``asyncio.wait_for`` on its own timer, so connect and round trip each got a full
timeout. Modbus TCP framing is a 7-byte header; owning it costs less code than
working around those, and every reply is now checked here against its request:

- the transaction id is the one we sent (we never send 0, so 0 never matches);
- the protocol id is 0 and the unit id is the one we addressed;
- the function code is the request's, or its exception (``fc | 0x80``) with a
  2-byte PDU; an exception for another function is a ``BadReply``;
- a read reply's byte count is exactly 2 x the registers asked, and the frame
  holds exactly that many bytes; a write reply echoes address and count.

Anything else is ``BadReply`` and the connection is dropped. One request is in
flight per connection and a connection is replaced after any timeout, and before a
request if anything was received since the last reply (a frame sent twice or ahead
of its request), so no late or early frame can be read as an answer: a frame that
does not match the request (even one followed by the right answer) means the stream
cannot be trusted, and is not skipped.

pymodbus stays as the third-party client of the tests and the benchmark
baseline: the simulators are checked on the wire by code not ours.

Every request has one total deadline (``timeout_s``) that covers connecting, sending
and the whole reply, on the event loop's clock. After a timeout, a cancellation
or a bad reply the connection is replaced, so a late reply is never read as
another answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct

from drivers.errors import (
    BadReply,
    DeviceRejected,
    DeviceTimeout,
    DeviceUnreachable,
    ProtocolError,
)
from drivers.links import Table

EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "device failure",
    6: "device busy",
    10: "gateway path unavailable",
    11: "gateway target failed to respond",
}

READ_HOLDING = 3
READ_INPUT = 4
WRITE_MULTIPLE = 16
MAX_READ = 125
MAX_WRITE = 123
_MBAP = struct.Struct(">HHHB")


# ---------------------------------------------------------------- sans I/O
def read_request(table: Table, address: int, count: int) -> bytes:
    """The PDU of a read of ``count`` registers from ``address``."""
    if not 1 <= count <= MAX_READ or not 0 <= address <= 0xFFFF - count + 1:
        raise ProtocolError(f"cannot read {count} registers from {address}")
    fc = READ_HOLDING if table == "holding" else READ_INPUT
    return struct.pack(">BHH", fc, address, count)


def write_request(address: int, words: list[int]) -> bytes:
    n = len(words)
    if not 1 <= n <= MAX_WRITE or not 0 <= address <= 0xFFFF - n + 1:
        raise ProtocolError(f"cannot write {n} registers at {address}")
    if any(not 0 <= w <= 0xFFFF for w in words):
        raise ProtocolError(f"register values must be 16-bit: {words!r}")
    return struct.pack(f">BHHB{n}H", WRITE_MULTIPLE, address, n, 2 * n, *words)


def frame(tid: int, unit: int, pdu: bytes) -> bytes:
    return _MBAP.pack(tid, 0, len(pdu) + 1, unit) + pdu


def check_header(header: bytes, tid: int, unit: int) -> int:
    """Validate a reply's 7-byte MBAP header; return the PDU length that follows.
    Raises ``ProtocolError`` (the caller makes it a ``BadReply``)."""
    r_tid, proto, length, r_unit = _MBAP.unpack(header)
    if proto != 0:
        raise ProtocolError(f"protocol id {proto}, not Modbus (0)")
    if not 3 <= length <= 254:
        raise ProtocolError(f"header length {length} outside 3..254")
    if r_tid != tid:
        raise ProtocolError(f"transaction id {r_tid} answers none in flight (sent {tid})")
    if r_unit != unit:
        raise ProtocolError(f"unit id {r_unit} in reply to unit {unit}")
    return int(length) - 1


def check_pdu(request: bytes, reply: bytes) -> bytes:
    """Validate a reply PDU against its request PDU.

    Returns the register bytes of a read reply (empty for a write). Raises
    ``DeviceRejected`` for an exception reply to this function, ``ProtocolError``
    for anything else that is not the answer to this request."""
    fc = request[0]
    if not reply:
        raise ProtocolError("empty reply")
    r_fc = reply[0]
    if r_fc == fc | 0x80:
        if len(reply) != 2:
            raise ProtocolError(f"exception reply of {len(reply)} bytes, not 2")
        code = reply[1]
        raise DeviceRejected(
            f"exception {code} ({EXCEPTION_NAMES.get(code, 'unknown')})", code=code
        )
    if r_fc != fc:
        kind = "exception reply" if r_fc & 0x80 else "reply"
        raise ProtocolError(f"{kind} with function {r_fc & 0x7F} to a function {fc} request")
    if fc in (READ_HOLDING, READ_INPUT):
        count = struct.unpack_from(">H", request, 3)[0]
        if len(reply) < 2:
            raise ProtocolError("read reply without a byte count")
        nbytes = reply[1]
        if nbytes != 2 * count:
            raise ProtocolError(f"byte count {nbytes} for {count} registers (expected {2 * count})")
        if len(reply) != 2 + nbytes:
            raise ProtocolError(f"{len(reply) - 2} data bytes after byte count {nbytes}")
        return reply[2:]
    if reply != request[:5]:
        raise ProtocolError(f"write reply {reply.hex()} does not echo address and count")
    return b""


# ---------------------------------------------------------------- the link
class ModbusTcpLink:
    """One TCP connection to one Modbus server (a PLC or a gateway), one request at a time."""

    def __init__(self, host: str, port: int, *, timeout_s: float = 0.5, name: str = "") -> None:
        self.host = host
        self.port = port
        self.timeout_s = timeout_s
        self.name = name or f"{host}:{port}"
        self.transactions = 0
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._lock = asyncio.Lock()
        self._tid = 0
        self._rx = 0  # bytes of the current reply received so far

    def _next_tid(self) -> int:
        self._tid = self._tid % 0xFFFF + 1  # 1..65535: 0 is never sent
        return self._tid

    async def _read(self, reader: asyncio.StreamReader, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = await reader.read(n - len(buf))
            if not chunk:
                raise ConnectionResetError("connection closed by the device")
            buf += chunk
            self._rx += len(chunk)
        return buf

    async def _exchange(self, what: str, unit: int, pdu: bytes) -> bytes:
        stage = "no connection"
        async with self._lock:
            self._rx = 0
            try:
                async with asyncio.timeout(self.timeout_s):
                    if self._writer is None or self._writer.is_closing() or self._out_of_step():
                        self._drop()
                        try:
                            self._reader, self._writer = await asyncio.open_connection(
                                self.host, self.port
                            )
                        except OSError as exc:
                            raise DeviceUnreachable(
                                f"{what}: cannot connect to {self.host}:{self.port}: {exc}",
                                device=self.name,
                            ) from exc
                    reader, writer = self._reader, self._writer
                    assert reader is not None
                    stage = "no reply"
                    tid = self._next_tid()
                    self.transactions += 1
                    writer.write(frame(tid, unit, pdu))
                    await writer.drain()
                    header = await self._read(reader, 7)
                    try:
                        n = check_header(header, tid, unit)
                    except ValueError as exc:
                        raise BadReply(f"{what}: {exc}", device=self.name) from exc
                    reply = await self._read(reader, n)
                data = check_pdu(pdu, reply)
            except DeviceRejected as exc:
                # A well-formed exception reply: the stream is in step, keep it.
                raise DeviceRejected(f"{what}: {exc}", code=exc.code, device=self.name) from exc
            except BaseException as exc:
                # Timeout, cancellation, bad reply, lost connection: whatever is
                # still on the wire must never be read as the next answer.
                self._drop()
                if isinstance(exc, DeviceUnreachable | BadReply):
                    raise
                if isinstance(exc, ValueError):
                    raise BadReply(f"{what}: {exc}", device=self.name) from exc
                if isinstance(exc, TimeoutError):
                    if self._rx:
                        raise BadReply(
                            f"{what}: {self._rx} bytes received, no complete reply "
                            f"within {self.timeout_s:g} s",
                            device=self.name,
                        ) from exc
                    raise DeviceTimeout(
                        f"{what}: {stage} within {self.timeout_s:g} s", device=self.name
                    ) from exc
                if isinstance(exc, OSError):
                    raise DeviceUnreachable(
                        f"{what}: connection lost ({exc})", device=self.name
                    ) from exc
                raise
        return data

    @property
    def out_of_step(self) -> bool:
        """True once bytes have arrived that no request asked for (or the device
        closed the connection): the next request replaces the connection first."""
        return self._out_of_step()

    def _out_of_step(self) -> bool:
        """Bytes received before a request is sent answer nothing we asked (a frame
        sent twice or ahead of its request, even with the next transaction id), or
        the device closed the connection: the stream is replaced before sending."""
        r = self._reader
        return r is not None and (bool(r._buffer) or r.at_eof())  # type: ignore[attr-defined]

    def _drop(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()

    async def read(self, table: Table, address: int, count: int, unit: int) -> list[int]:
        what = f"read {table} {address}+{count} unit {unit}"
        data = await self._exchange(what, unit, read_request(table, address, count))
        return list(struct.unpack(f">{count}H", data))

    async def write(self, address: int, words: list[int], unit: int) -> None:
        what = f"write {address}+{len(words)} unit {unit}"
        await self._exchange(what, unit, write_request(address, words))

    async def close(self) -> None:
        writer = self._writer
        self._drop()
        if writer is not None:
            with contextlib.suppress(OSError):
                await writer.wait_closed()
