"""The Modbus TCP link against hostile servers: real asyncio sockets on 127.0.0.1,
each scripted to answer one request in one wrong way.

Every reply that is not exactly the answer to the request in flight is a
``BadReply``, never a value; an exception reply to the request's own function is
a ``DeviceRejected``. A request has one total deadline, connect included.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from drivers.errors import BadReply, DeviceRejected, DeviceTimeout
from drivers.links.modbus_tcp import ModbusTcpLink

pytestmark = pytest.mark.integration


# (tid, unit, request pdu) -> the bytes the server sends back
Script = Callable[[int, int, bytes], bytes]


def mbap(tid: int, unit: int, pdu: bytes) -> bytes:
    return struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu


def regs(fc: int, *words: int) -> bytes:
    return struct.pack(f">BB{len(words)}H", fc, 2 * len(words), *words)


def honest(tid: int, unit: int, pdu: bytes) -> bytes:
    """A correct server: registers hold their own address + 1000."""
    fc, addr, count = struct.unpack(">BHH", pdu[:5])
    if fc == 16:
        return mbap(tid, unit, pdu[:5])
    return mbap(tid, unit, regs(fc, *(1000 + addr + i for i in range(count))))


class Hostile:
    """A TCP server that answers the first request of each connection with ``script``
    and every later connection honestly (so recovery can be checked)."""

    def __init__(self, script: Script, *, scripted_connections: int = 1) -> None:
        self.script = script
        self.scripted_connections = scripted_connections
        self.connections = 0
        self.requests: list[tuple[int, int, bytes]] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        self._writers.append(writer)
        await self._serve(reader, writer)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        script = self.script if self.connections <= self.scripted_connections else honest
        try:
            while True:
                tid, _proto, length, unit = struct.unpack(">HHHB", await reader.readexactly(7))
                pdu = await reader.readexactly(length - 1)
                self.requests.append((tid, unit, pdu))
                writer.write(script(tid, unit, pdu))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[Hostile]:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            self._server.close()
            for w in self._writers:
                w.close()
            for t in self._tasks:
                t.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._server.wait_closed()


def link_to(server: Hostile, timeout_s: float = 1.0) -> ModbusTcpLink:
    return ModbusTcpLink("127.0.0.1", server.port, timeout_s=timeout_s, name="hostile")


async def expect_bad(script: Script, match: str, *, table: str = "holding") -> None:
    """The scripted reply is a BadReply; the next request, on a new connection, is good."""
    async with Hostile(script).serving() as server:
        link = link_to(server)
        try:
            with pytest.raises(BadReply, match=match):
                await link.read(table, 10, 2, 1)  # type: ignore[arg-type]
            assert await link.read("holding", 10, 2, 1) == [1010, 1011]
            assert server.connections == 2  # the untrusted stream was dropped
        finally:
            await link.close()


async def test_honest_server_gives_values_and_the_request_is_as_documented() -> None:
    async with Hostile(honest).serving() as server:
        link = link_to(server)
        assert await link.read("holding", 10, 2, 7) == [1010, 1011]
        assert await link.read("input", 3, 1, 7) == [1003]
        await link.write(5, [1, 2], 7)
        (t1, u1, p1), (t2, _, p2), (_, _, p3) = server.requests
        assert (u1, p1) == (7, bytes.fromhex("03000a0002"))
        assert p2 == bytes.fromhex("0400030001")
        assert p3 == bytes.fromhex("10000500020400010002")
        assert t1 != 0 and t2 == t1 + 1
        assert server.connections == 1
        await link.close()


async def test_wrong_function_code_is_bad_reply() -> None:
    # An input-register reply to a holding-register read, with the right byte count.
    def script(tid: int, unit: int, pdu: bytes) -> bytes:
        return mbap(tid, unit, regs(4, 7, 7))

    await expect_bad(script, "function 4 to a function 3")


async def test_transaction_id_zero_is_bad_reply() -> None:
    def script(tid: int, unit: int, pdu: bytes) -> bytes:
        return mbap(0, unit, regs(3, 1010, 1011))

    await expect_bad(script, "transaction id 0")


async def test_forged_frame_ahead_of_the_real_one_is_never_taken() -> None:
    # A frame with forged values, then the real answer. Transaction id 0 is what
    # pymodbus matched to any request; another id means the stream is not ours.
    def forged_tid_0(tid: int, unit: int, pdu: bytes) -> bytes:
        return mbap(0, unit, regs(3, 6666, 6666)) + honest(tid, unit, pdu)

    def forged_other_tid(tid: int, unit: int, pdu: bytes) -> bytes:
        return mbap(tid % 0xFFFF + 1, unit, regs(3, 6666, 6666)) + honest(tid, unit, pdu)

    await expect_bad(forged_tid_0, "transaction id 0 answers none")
    await expect_bad(forged_other_tid, "transaction id")


async def test_odd_byte_count_is_bad_reply() -> None:
    def script(tid: int, unit: int, pdu: bytes) -> bytes:
        return mbap(tid, unit, bytes([3, 3, 0x03, 0xF2, 0x03]))

    await expect_bad(script, "byte count 3 for 2 registers")


async def test_byte_count_not_matching_the_count_asked_is_bad_reply() -> None:
    def one_register(tid: int, unit: int, pdu: bytes) -> bytes:
        return mbap(tid, unit, regs(3, 1010))

    def three_registers(tid: int, unit: int, pdu: bytes) -> bytes:
        return mbap(tid, unit, regs(3, 1010, 1011, 1012))

    def count_says_4_frame_holds_6(tid: int, unit: int, pdu: bytes) -> bytes:
        return mbap(tid, unit, bytes([3, 4]) + bytes(6))

    await expect_bad(one_register, "byte count 2 for 2 registers")
    await expect_bad(three_registers, "byte count 6 for 2 registers")
    await expect_bad(count_says_4_frame_holds_6, "6 data bytes after byte count 4")


async def test_exception_reply_for_another_function_is_bad_reply() -> None:
    def script(tid: int, unit: int, pdu: bytes) -> bytes:
        return mbap(tid, unit, bytes([0x84, 2]))  # "illegal address" for an input read

    await expect_bad(script, "exception reply with function 4 to a function 3")


async def test_exception_reply_for_the_function_asked_is_rejected_with_its_code() -> None:
    def script(tid: int, unit: int, pdu: bytes) -> bytes:
        return mbap(tid, unit, bytes([0x83, 2]))

    async with Hostile(script, scripted_connections=99).serving() as server:
        link = link_to(server)
        with pytest.raises(DeviceRejected) as info:
            await link.read("holding", 10, 2, 1)
        assert info.value.code == 2
        with pytest.raises(DeviceRejected):
            await link.read("holding", 10, 2, 1)
        assert server.connections == 1  # a well-formed exception keeps the stream
        await link.close()


async def test_wrong_unit_id_is_bad_reply() -> None:
    def script(tid: int, unit: int, pdu: bytes) -> bytes:
        return mbap(tid, unit + 1, regs(3, 1010, 1011))

    await expect_bad(script, "unit id 2 in reply to unit 1")


async def test_write_reply_that_does_not_echo_is_bad_reply() -> None:
    def script(tid: int, unit: int, pdu: bytes) -> bytes:
        return mbap(tid, unit, bytes([16]) + struct.pack(">HH", 6, 2))

    async with Hostile(script).serving() as server:
        link = link_to(server)
        with pytest.raises(BadReply, match="does not echo"):
            await link.write(5, [1, 2], 1)
        await link.write(5, [1, 2], 1)
        await link.close()


# ------------------------------------------------------------------ one deadline
async def test_reply_at_one_and_a_half_deadlines_is_a_timeout_not_a_reply() -> None:
    deadline = 0.3
    replied = asyncio.Event()

    class Late(Hostile):
        async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            tid, _p, length, unit = struct.unpack(">HHHB", await reader.readexactly(7))
            pdu = await reader.readexactly(length - 1)
            if self.connections == 1:
                await asyncio.sleep(1.5 * deadline)  # the hostile part: it answers late
                replied.set()
            writer.write(honest(tid, unit, pdu))
            await writer.drain()

    async with Late(honest).serving() as server:
        link = link_to(server, deadline)
        with pytest.raises(DeviceTimeout, match=r"no reply within 0\.3 s"):
            await link.read("holding", 10, 2, 1)
        assert not replied.is_set()  # it gave up before the late reply existed
        assert await link.read("holding", 20, 1, 1) == [1020]
        assert server.connections == 2
        await link.close()


async def test_slow_connect_and_round_trip_share_one_deadline() -> None:
    """A server that accepts slowly: its listen queue is full, so the kernel drops the
    link's first SYN and the connection completes on the retransmission (about 1 s
    later on Linux). It then answers 1.25 deadlines after the request started. Connect
    and round trip are each under the deadline; together they are not: a timeout."""
    deadline = 2.0
    events: dict[str, float] = {}

    loop = asyncio.get_running_loop()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", port))  # fills the queue
    conns = [filler]

    async def server(t0: float) -> None:
        await asyncio.sleep(0.2)  # the link's first SYN has been dropped by now
        conns.append((await loop.sock_accept(listener))[0])  # the filler: frees the queue
        conn, _ = await loop.sock_accept(listener)
        conns.append(conn)
        events["accepted"] = loop.time() - t0
        header = await loop.sock_recv(conn, 7)
        tid, _p, length, unit = struct.unpack(">HHHB", header)
        pdu = await loop.sock_recv(conn, length - 1)
        await asyncio.sleep(max(0.0, t0 + 1.25 * deadline - loop.time()))
        events["replied"] = loop.time() - t0
        await loop.sock_sendall(conn, honest(tid, unit, pdu))

    link = ModbusTcpLink("127.0.0.1", port, timeout_s=deadline, name="slow")
    t0 = loop.time()
    task = asyncio.create_task(server(t0))
    try:
        with pytest.raises(DeviceTimeout):
            await link.read("holding", 10, 2, 1)
        assert "replied" not in events  # the error came before the reply existed
        # The premise: connecting took a real share of the deadline.
        assert events["accepted"] > 0.3 * deadline, events
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await link.close()
        for c in conns:
            c.close()
        listener.close()
