"""A unit that answers every request twice (the second copy 4 ms after the first, on
the simulated RS-485 bus): its second copy would be taken for the next read's answer.
Once the unit has sent a frame that answers nothing, its replies are refused
(BadReply) until it stops; at most the read that comes before any such frame can
be crossed (the link cannot tell that copy from a reply before more arrives)."""

from __future__ import annotations

import asyncio

import pytest

from drivers.errors import BadReply
from drivers.links.modbus_rtu import ROGUE_CLEAN
from tests.integration.simline import rtu_bus, served_line

pytestmark = pytest.mark.integration


async def test_a_unit_that_answers_twice_gives_no_crossed_values() -> None:
    async with served_line() as line:
        sim = line.buses["oven_bus"]
        unit = sorted(sim.devices)[0]
        link = rtu_bus(line, timeout_s=0.3)
        try:
            # Three registers with different values, read one at a time.
            base = {a: (await link.read("input", a, 1, unit))[0] for a in range(3)}
            assert len(set(base.values())) == 3
            real = sim.reply_at

            async def twice(when: float, data: bytes) -> None:
                await real(when, data)
                await real(asyncio.get_running_loop().time() + 0.004, data)

            sim.reply_at = twice  # type: ignore[method-assign]
            apart = min(abs(x - y) for x in base.values() for y in base.values() if x != y)
            crossed = refused = 0
            for i in range(40):
                a = i % 3
                try:
                    (v,) = await link.read("input", a, 1, unit)
                except BadReply:
                    refused += 1
                    continue
                if abs(v - base[a]) > apart / 2:  # another register's value
                    crossed += 1
            assert crossed <= 1 and refused >= 30 and link.unexplained > 0
            # It stops answering twice: trusted again after ROGUE_CLEAN clean reads.
            sim.reply_at = real  # type: ignore[method-assign]
            refusals = 0
            while True:
                try:
                    (v,) = await link.read("input", 1, 1, unit)
                except BadReply as exc:
                    assert "answer no request" in str(exc)
                    refusals += 1
                    assert refusals <= ROGUE_CLEAN + 1, "never trusted again"
                    continue
                assert abs(v - base[1]) <= apart / 2
                break
        finally:
            await link.close()
