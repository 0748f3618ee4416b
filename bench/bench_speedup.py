"""The simulated line in accelerated time: does the simulator process keep up?

Starts ``python -m simulators --speedup N --epoch T`` on the embedded line (a child
process, as ``record --sim`` and ``run --sim`` start it), runs the web at 20 m/min and
reads the drive's web position over Modbus TCP at 10 Hz for ``SECONDS`` of real time.
Two figures per speed-up:

- simulated seconds per real second, from the metres the web moved at its known
  speed (the physics' own clock, not the simulators' word for it), against the
  target N;
- the child's CPU (user + system, from /proc/PID/stat) as % of one core.

Run: python bench/bench_speedup.py [N ...]   (default: 1 300 1000)
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

import common

from drivers.device import ModbusDevice
from drivers.devices import MODBUS_MAPS
from drivers.links.modbus_tcp import ModbusTcpLink

SECONDS = 20.0
SPEED_M_MIN = 20.0
TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


async def one(speedup: float) -> dict[str, float]:
    epoch = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "simulators",
        "--lifeline",
        "--config",
        str(common.DEFAULT_LINE),
        "--speedup",
        str(speedup),
        "--epoch",
        repr(epoch),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        cwd=common.ROOT,
    )
    assert proc.stdout is not None and proc.stdin is not None
    try:
        amap = json.loads(await asyncio.wait_for(proc.stdout.readline(), 20))
        d = amap["devices"]["drive"]
        link = ModbusTcpLink(d["host"], d["port"], timeout_s=1.0, name="drive")
        drive = ModbusDevice("drive", MODBUS_MAPS[d["model"]], link, d["unit"])
        await drive.write_setpoint("speed_sp_m_min", SPEED_M_MIN)
        await drive.write_setpoint("run_cmd", 1)
        async with asyncio.timeout(60):
            while await drive.read("speed_pv_m_min") < SPEED_M_MIN:
                await asyncio.sleep(0.1)
        t0, c0, p0 = time.monotonic(), cpu_s(proc.pid), float(await drive.read("web_position_m"))
        polls = 0
        while time.monotonic() - t0 < SECONDS:
            await asyncio.sleep(0.1)
            await drive.poll()
            polls += 1
        t1, c1, p1 = time.monotonic(), cpu_s(proc.pid), float(await drive.read("web_position_m"))
        await link.close()
    finally:
        proc.stdin.close()
        await asyncio.wait_for(proc.wait(), 20)
    real = t1 - t0
    return {
        "speedup": speedup,
        "sim_s_per_real_s": (p1 - p0) / SPEED_M_MIN * 60.0 / real,
        "cpu_pct": 100.0 * (c1 - c0) / real,
        "polls": polls,
    }


async def main(speedups: list[float]) -> None:
    print(f"{'speed-up':>9} {'sim s / real s':>15} {'kept up':>8} {'CPU % of a core':>16}")
    for n in speedups:
        r = await one(n)
        kept = r["sim_s_per_real_s"] / n
        print(f"{n:>9g} {r['sim_s_per_real_s']:>15.1f} {kept:>7.1%} {r['cpu_pct']:>16.1f}")


if __name__ == "__main__":
    asyncio.run(main([float(a) for a in sys.argv[1:]] or [1.0, 300.0, 1000.0]))
