"""RTU bus scheduling against the physical limit of the wire.

The simulated oven bus emulates the wire time of 19200 baud 8E1 (11 bits per
character): request and reply characters plus the 3.5-character gap. A sweep
polls every unit's planned blocks; the wire-limited time of that sweep is
computed from the actual frame sizes (request + reply characters + two
3.5-character gaps per transaction). Reported: achieved rate as a fraction of
the wire-limited rate (target: at least 90 %).

Run: python bench/bench_rtu_sweep.py
"""

from __future__ import annotations

import asyncio
import time

from common import sim_line

from drivers.device import ModbusDevice
from drivers.devices import MODBUS_MAPS
from drivers.links.modbus_rtu import ModbusRtuLink, UnitLink
from drivers.links.serial_port import AsyncSerialPort, SerialSettings
from drivers.modbus_rtu import char_time_s, frame_gap_s
from drivers.regmap import Block

BAUD = 19200
BITS = 11
SWEEPS = 5


def wire_time_s(blocks: list[Block]) -> float:
    ct = char_time_s(BAUD, BITS)
    gap = frame_gap_s(BAUD, BITS)
    total = 0.0
    for b in blocks:
        total += (8 + 5 + 2 * b.count) * ct + 2 * gap
    return total


async def main() -> None:
    line = sim_line(emulate_wire_time=True)
    await line.start()
    try:
        path = line.buses["oven_bus"].path
        bus = ModbusRtuLink(AsyncSerialPort(SerialSettings(path, BAUD, "N")), timeout_s=0.5)
        bus.gap_s = frame_gap_s(BAUD, BITS)
        devs = [
            ModbusDevice(n, MODBUS_MAPS[s.model], UnitLink(bus, s.unit), s.unit)
            for n, s in line.specs.items()
            if s.link == "rtu"
        ]
        limit = sum(wire_time_s(d.blocks) for d in devs)
        tx = sum(len(d.blocks) for d in devs)
        for d in devs:  # warm-up
            await d.poll()
        t0 = time.perf_counter()
        for _ in range(SWEEPS):
            for d in devs:
                await d.poll()
        took = (time.perf_counter() - t0) / SWEEPS
        ten = (8 + 25) * char_time_s(BAUD, BITS) + 2 * frame_gap_s(BAUD, BITS)
        print(f"RTU oven bus at {BAUD} baud 8E1: {len(devs)} units, {tx} transactions per sweep")
        print(
            f"  wire-limited sweep : {limit * 1000:7.1f} ms "
            f"(a 10-register read costs {ten * 1000:.1f} ms on this wire)"
        )
        print(f"  measured sweep     : {took * 1000:7.1f} ms  ({tx / took:.1f} transactions/s)")
        print(f"  fraction of limit  : {limit / took * 100:6.1f} %  [target: at least 90 %]")
        await bus.close()
    finally:
        await line.stop()


if __name__ == "__main__":
    asyncio.run(main())
