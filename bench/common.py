"""Shared set-up for the benchmarks: the embedded line's simulators on loopback."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from simulators.config import BusSpec, load_config  # noqa: E402
from simulators.line import SimLine  # noqa: E402

DEFAULT_LINE = ROOT / "configs" / "line.sim.toml"


def sim_line(*, emulate_wire_time: bool = False) -> SimLine:
    cfg = load_config(DEFAULT_LINE)
    buses = {
        name: BusSpec(
            b.name,
            b.port,
            b.baudrate,
            b.parity,
            b.stopbits,
            emulate_wire_time,
            b.wire_bits_per_char,
        )
        for name, b in cfg.buses.items()
    }
    return SimLine(cfg.devices, buses=buses)
