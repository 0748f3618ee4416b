"""Bytes on a Modbus TCP connection before a request is sent answer nothing asked:
a device that sends a frame ahead (here: one with the next transaction id and wrong
values) never has it taken as the next request's answer."""

from __future__ import annotations

import asyncio

import pytest

from drivers.links.modbus_tcp import ModbusTcpLink
from tests.integration.test_tcp_hostile import Hostile, honest, mbap, regs

pytestmark = pytest.mark.integration


async def test_a_frame_that_arrived_before_its_request_is_never_its_answer() -> None:
    def ahead(tid: int, unit: int, pdu: bytes) -> bytes:
        # The right answer, then a frame "for" the request not yet sent.
        return honest(tid, unit, pdu) + mbap(tid + 1, unit, regs(3, 9999, 9999))

    async with Hostile(ahead).serving() as server:
        link = ModbusTcpLink("127.0.0.1", server.port, timeout_s=1.0, name="ahead")
        try:
            assert await link.read("holding", 10, 2, 1) == [1010, 1011]
            async with asyncio.timeout(5):  # until the frame ahead is in (deadline)
                while not link.out_of_step:
                    await asyncio.sleep(0.001)
            # Sent after those bytes came: they cannot answer it.
            assert await link.read("holding", 20, 2, 1) == [1020, 1021]
            assert server.connections == 2  # the out-of-step stream was replaced
        finally:
            await link.close()
