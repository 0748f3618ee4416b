"""``python -m simulators --config configs/line.sim.toml``: run the simulated line.

Prints the address map (which instrument is where) as one JSON object on its
first line of output, then runs until Ctrl-C or SIGTERM, which end it cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path

from simulators.config import SimConfigError, load_config
from simulators.line import SimLine

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "line.sim.toml"


async def _main(config: Path, time_scale: float) -> int:
    cfg = load_config(config)
    line = SimLine(cfg.devices, buses=cfg.buses, time_scale=time_scale)
    await line.start()
    print(json.dumps(line.address_map()), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    clock = asyncio.create_task(line.run(), name="sim-clock")
    try:
        await stop.wait()
    finally:
        clock.cancel()
        await asyncio.gather(clock, return_exceptions=True)
        await line.stop()
    print("simulators stopped", file=sys.stderr, flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simulators", description="Run the simulated line."
    )
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="simulated seconds per real second (default 1)",
    )
    args = parser.parse_args(argv)
    if not (args.time_scale > 0 and args.time_scale < 1e6):
        parser.error("--time-scale must be a positive number")
    try:
        return asyncio.run(_main(args.config, args.time_scale))
    except SimConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"error: {args.config}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
