"""``python -m simulators --config configs/line.sim.toml``: run the simulated line.

Prints the address map (which instrument is where) as one JSON object on its first
line of output, then runs until Ctrl-C or SIGTERM, which end it cleanly (exit 0,
``simulators stopped`` on stderr). With ``--lifeline`` it also stops cleanly when its
standard input reaches end of file: a parent that holds the write end of that pipe
takes the simulators with it however it ends.

Time: ``--speedup N --epoch T`` steps the physics on the system's monotonic clock run
N times faster from T (a reading of ``time.monotonic()``, by default the simulators'
start): ``simulators.clock``, the same clock as linecontrol's ``ScaledClock(N, T)``.
``--time-scale N`` is the older spelling of ``--speedup N``.

Faults at run time (with ``--lifeline``): each line on standard input is one JSON
object, ``{"device": NAME, "faults": {FIELD: VALUE, ...}}`` (the fields of
``simulators.faults.Faults``) or ``{"device": NAME, "clear": true}``, optionally with
an ``"id"`` (number or string) echoed in the answer. Each line is answered, in order, by
one JSON line on standard output after the address map (a line sent before the line is
up is answered once it is): ``{"ok": true}`` or ``{"ok": false, "error": "..."}``.
A bad line is refused and changes nothing; a line longer than ``MAX_REQUEST_BYTES``
is refused whole. End of file still stops the simulators.

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
MAX_REQUEST_BYTES = 65536
_early: list[int] = []


def _note(signum: int, frame: FrameType | None) -> None:
    _early.append(signum)


def _catch_stop_signals() -> None:
    for sig in STOP_SIGNALS:
        signal.signal(sig, _note)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


class _Requests:
    """Splits the bytes read from standard input into lines; a line too long is
    refused once and skipped to its end."""

    def __init__(self) -> None:
        self.buf = b""
        self.skipping = False

    def feed(self, data: bytes) -> list[bytes | None]:
        """The complete lines in ``data`` (None for one that was too long)."""
        out: list[bytes | None] = []
        self.buf += data
        while True:
            end = self.buf.find(b"\n")
            if end < 0:
                if len(self.buf) > MAX_REQUEST_BYTES and not self.skipping:
                    out.append(None)
                    self.skipping = True
                if self.skipping:
                    self.buf = b""
                return out
            line, self.buf = self.buf[:end], self.buf[end + 1 :]
            if self.skipping:
                self.skipping = False
            elif len(line) > MAX_REQUEST_BYTES:
                out.append(None)
            elif line.strip():
                out.append(line)


async def _main(config: Path, speedup: float, epoch: float | None, lifeline: bool) -> int:
    import asyncio
    import json
    import logging
    import os

    from simulators.clock import SimClock
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
    line: SimLine | None = None  # set once the address map is out
    requests = _Requests()
    pending: list[bytes | None] = []  # fault lines that came before: answered after the map

    def answer(raw: bytes | None) -> None:
        if line is None:
            pending.append(raw)
            return
        if raw is None:
            reply: dict[str, object] = {
                "ok": False,
                "error": f"a request line longer than {MAX_REQUEST_BYTES} bytes",
            }
        else:
            reply = line.fault_request(raw)
        if reply["ok"]:
            log.info("fault line %s: done", raw)
        else:
            log.warning("fault line refused: %s", reply["error"])
        print(json.dumps(reply), flush=True)

    if lifeline:

        def on_stdin() -> None:
            try:
                data = os.read(0, 65536)
            except BlockingIOError:
                return
            if not data:
                loop.remove_reader(0)
                stop.set()
                return
            if stop.is_set():
                return
            for raw in requests.feed(data):
                answer(raw)

        try:
            loop.add_reader(0, on_stdin)
        except (OSError, ValueError) as exc:
            print(f"error: --lifeline needs a pipe on standard input: {exc}", file=sys.stderr)
            return 2

    if not stop.is_set():
        cfg = load_config(config)
        sim = SimLine(cfg.devices, buses=cfg.buses, clock=SimClock(speedup, epoch))
        await sim.start()
        try:
            if not stop.is_set():
                print(json.dumps(sim.address_map()), flush=True)
                line = sim  # fault lines are answered from here on, after the map
                for raw in pending:
                    answer(raw)
                pending.clear()
                log.info("serving %d devices from %s", len(cfg.devices), config)
                clock = asyncio.create_task(sim.run(), name="sim-clock")
                try:
                    await stop.wait()
                finally:
                    clock.cancel()
                    await asyncio.gather(clock, return_exceptions=True)
        finally:
            line = None
            await sim.stop()
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
    speed = parser.add_mutually_exclusive_group()
    speed.add_argument(
        "--speedup",
        type=float,
        default=1.0,
        metavar="N",
        help="simulated seconds per real second (default 1)",
    )
    speed.add_argument(
        "--time-scale",
        type=float,
        dest="speedup",
        metavar="N",
        help="the same as --speedup (its older name)",
    )
    parser.add_argument(
        "--epoch",
        type=float,
        default=None,
        metavar="T",
        help="a reading of the system's monotonic clock (time.monotonic()) from which "
        "simulated time runs N times faster, as the parent's clock (default: now)",
    )
    parser.add_argument(
        "--lifeline",
        action="store_true",
        help="also stop cleanly at end of file on standard input (a pipe from the "
        "parent), and take fault lines from it (JSON, one answer line each)",
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
    import math
    import time

    if not (args.speedup > 0 and args.speedup < 1e6):
        parser.error("--speedup (--time-scale) must be a positive number below 1e6")
    if args.epoch is not None and not (
        math.isfinite(args.epoch) and args.epoch <= time.monotonic()
    ):
        parser.error(
            f"--epoch {args.epoch}: a reading of the monotonic clock, not after now "
            f"({time.monotonic():.3f})"
        )
    try:
        _configure_logging(args.log_level, args.log_file)
    except OSError as exc:
        print(f"error: --log-file {args.log_file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_main(args.config, args.speedup, args.epoch, args.lifeline))
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
