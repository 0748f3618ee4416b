"""``python -m simulators --config configs/line.sim.toml``: run the simulated line.

Prints the address map (which instrument is where) as one JSON object on its first
line of output, then runs until Ctrl-C or SIGTERM, which end it cleanly (exit 0,
``simulators stopped`` on stderr). With ``--lifeline`` it also stops cleanly when its
standard input reaches end of file: a parent that holds the write end of that pipe
takes the simulators with it however it ends.

SIGINT and SIGTERM are caught before anything slow (imports, the config, the servers):
one that arrives during start-up stops the line before its address map is printed, still
exit 0. ``linecontrol sim`` execs this module with both signals blocked, so one sent
across the exec stays pending until the handlers are in place.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_early: list[int] = []


def _note(signum: int, frame: FrameType | None) -> None:
    _early.append(signum)


def _catch_stop_signals() -> None:
    for sig in STOP_SIGNALS:
        signal.signal(sig, _note)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


async def _main(config: Path, time_scale: float, lifeline: bool) -> int:
    import asyncio
    import json
    import logging
    import os

    from simulators.config import load_config
    from simulators.line import SimLine

    log = logging.getLogger("simulators")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # Hand the signals over to the loop with both blocked, so none falls in between.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    if _early:
        stop.set()
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    if lifeline:

        def on_stdin() -> None:
            try:
                data = os.read(0, 4096)
            except BlockingIOError:
                return
            if not data:
                loop.remove_reader(0)
                stop.set()

        try:
            loop.add_reader(0, on_stdin)
        except (OSError, ValueError) as exc:
            print(f"error: --lifeline needs a pipe on standard input: {exc}", file=sys.stderr)
            return 2

    if not stop.is_set():
        cfg = load_config(config)
        line = SimLine(cfg.devices, buses=cfg.buses, time_scale=time_scale)
        await line.start()
        try:
            if not stop.is_set():
                print(json.dumps(line.address_map()), flush=True)
                log.info("serving %d devices from %s", len(cfg.devices), config)
                clock = asyncio.create_task(line.run(), name="sim-clock")
                try:
                    await stop.wait()
                finally:
                    clock.cancel()
                    await asyncio.gather(clock, return_exceptions=True)
        finally:
            await line.stop()
    log.info("stopped")
    print("simulators stopped", file=sys.stderr, flush=True)
    return 0


LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _configure_logging(level: str, file: Path | None) -> None:
    """The simulators' logging (the same options and format as ``linecontrol``'s):
    one handler on the root logger, standard error or ``file`` appended to."""
    import logging

    handler: logging.Handler = (
        logging.FileHandler(file, encoding="utf-8") if file is not None else logging.StreamHandler()
    )
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level.upper())


def build_parser() -> argparse.ArgumentParser:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m simulators", description="Run the simulated line."
    )
    parser.add_argument(
        "--config", type=Path, required=True, help="line config (TOML) whose instruments to run"
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="simulated seconds per real second (default 1)",
    )
    parser.add_argument(
        "--lifeline",
        action="store_true",
        help="also stop cleanly at end of file on standard input (a pipe from the parent)",
    )
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default="warning",
        help="least severe log lines shown (default warning)",
    )
    parser.add_argument(
        "--log-file",
        type=Path,
        default=None,
        metavar="FILE",
        help="append log lines to FILE instead of standard error",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    _catch_stop_signals()
    import asyncio

    from simulators.config import SimConfigError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not (args.time_scale > 0 and args.time_scale < 1e6):
        parser.error("--time-scale must be a positive number")
    try:
        _configure_logging(args.log_level, args.log_file)
    except OSError as exc:
        print(f"error: --log-file {args.log_file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_main(args.config, args.time_scale, args.lifeline))
    except SimConfigError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"error: {args.config}: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a port in use (another simulator), no pseudo-terminal left
        print(f"error: cannot start the simulated line: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
