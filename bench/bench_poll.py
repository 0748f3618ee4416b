"""Full poll of every instrument vs bare pymodbus round trips (same run, same servers).

1. Driver overhead, Modbus TCP: the drive, coater and press drivers poll their
   planned blocks; the baseline sends the same reads with pymodbus's own client,
   no driver code. CPU time per transaction (process time, both sides in this
   process: the simulators run in a child process so they are not counted).
2. A full poll of the whole line: every TCP device concurrently, the RTU bus
   (all units, serialised), the two ASCII instruments; wall time per full poll.

Run: python bench/bench_poll.py
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import time

import common
from pymodbus.client import AsyncModbusTcpClient

from drivers.device import ModbusDevice
from drivers.devices import MODBUS_MAPS
from drivers.devices.dc_psu import DcPsuDriver
from drivers.devices.vacuum_gauge import VacuumGaugeDriver
from drivers.links.ascii_link import AsciiLink
from drivers.links.modbus_rtu import ModbusRtuLink, UnitLink
from drivers.links.modbus_tcp import ModbusTcpLink
from drivers.links.serial_port import AsyncSerialPort, SerialSettings

ROUNDS = 2000


async def bare_pymodbus(dev: dict, blocks: list, rounds: int) -> tuple[float, int]:
    client = AsyncModbusTcpClient(dev["host"], port=dev["port"], timeout=1, retries=0)
    await client.connect()
    n = 0
    t0 = time.process_time()
    for _ in range(rounds):
        for b in blocks:
            fn = (
                client.read_holding_registers
                if b.table == "holding"
                else client.read_input_registers
            )
            rr = await fn(b.start, count=b.count, device_id=1)
            assert not rr.isError()
            n += 1
    cpu = time.process_time() - t0
    client.close()
    return cpu, n


async def driver(dev: dict, model: str, rounds: int) -> tuple[float, int]:
    link = ModbusTcpLink(dev["host"], dev["port"], timeout_s=1.0)
    d = ModbusDevice("bench", MODBUS_MAPS[model], link)
    await d.poll()
    link.transactions = 0
    t0 = time.process_time()
    for _ in range(rounds):
        r = await d.poll()
        assert not r.errors
    cpu = time.process_time() - t0
    n = link.transactions
    await link.close()
    return cpu, n


async def full_line(amap: dict, cycles: int) -> list[float]:
    devs = amap["devices"]
    tcp = [
        ModbusDevice(
            n,
            MODBUS_MAPS[d["model"]],
            ModbusTcpLink(d["host"], d["port"], timeout_s=1.0),
            d["unit"],
        )
        for n, d in devs.items()
        if d["link"] == "tcp"
    ]
    bus_info = amap["buses"]["oven_bus"]
    bus = ModbusRtuLink(
        AsyncSerialPort(SerialSettings(bus_info["port"], 19200, "N")), timeout_s=0.5
    )
    rtu = [
        ModbusDevice(n, MODBUS_MAPS[d["model"]], UnitLink(bus, d["unit"]), d["unit"])
        for n, d in devs.items()
        if d["link"] == "rtu"
    ]
    psu = DcPsuDriver(
        "psu",
        AsciiLink(
            AsyncSerialPort(SerialSettings(devs["sputter_psu"]["port"], 9600, "N")), timeout_s=0.5
        ),
    )
    gauge = VacuumGaugeDriver(
        "gauge",
        AsciiLink(
            AsyncSerialPort(SerialSettings(devs["sputter_gauge"]["port"], 9600, "N")), timeout_s=0.5
        ),
    )

    async def rtu_sweep() -> None:
        for d in rtu:
            await d.poll()

    async def one() -> None:
        await asyncio.gather(*(d.poll() for d in tcp), rtu_sweep(), psu.poll(), gauge.poll())

    await one()
    times = []
    for _ in range(cycles):
        t0 = time.perf_counter()
        await one()
        times.append(time.perf_counter() - t0)
    return times


async def main() -> None:
    sim = subprocess.Popen(
        [sys.executable, "-m", "simulators"], cwd=common.ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        amap = json.loads(sim.stdout.readline())  # type: ignore[union-attr]
        rows = []
        tot_drv = tot_bare = 0.0
        n_drv = n_bare = 0
        for name, model in (("drive", "line_drive"), ("coater_1", "coater"), ("press", "press")):
            dev = amap["devices"][name]
            blocks = MODBUS_MAPS[model].plan()
            # Interleave to share any drift of the machine between both sides.
            for _ in range(2):
                c, n = await bare_pymodbus(dev, blocks, ROUNDS // 2)
                tot_bare, n_bare = tot_bare + c, n_bare + n
                c, n = await driver(dev, model, ROUNDS // 2)
                tot_drv, n_drv = tot_drv + c, n_drv + n
            rows.append(name)
        us_bare = tot_bare / n_bare * 1e6
        us_drv = tot_drv / n_drv * 1e6
        print(f"Modbus TCP, {n_bare} transactions each side over {', '.join(rows)}:")
        print(
            f"  bare pymodbus : {us_bare:7.1f} µs CPU per transaction "
            f"({1e6 / us_bare:,.0f} tx/s of CPU)"
        )
        print(
            f"  driver layer  : {us_drv:7.1f} µs CPU per transaction "
            f"({1e6 / us_drv:,.0f} tx/s of CPU)"
        )
        pct = (us_drv / us_bare - 1) * 100
        print(
            f"  overhead      : {us_drv - us_bare:+7.1f} µs ({pct:+.1f} %)  [target: at most +10 %]"
        )
        times = await full_line(amap, 20)
        ms = sorted(t * 1000 for t in times)
        print(
            "Full poll of the line (5 TCP PLCs concurrently, 21 RTU units on one pty bus, "
            "2 ASCII instruments), 20 cycles:"
        )
        print(
            f"  median {statistics.median(ms):.1f} ms, max {ms[-1]:.1f} ms"
            "  [target: well inside 100 ms]"
        )
    finally:
        sim.terminate()
        sim.wait(10)


if __name__ == "__main__":
    asyncio.run(main())
