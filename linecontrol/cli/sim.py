"""``linecontrol sim``: the simulated line, as its own process."""

from __future__ import annotations

import argparse
import os
import sys

from linecontrol import runtime
from linecontrol.cli.options import bad_time_scale, line_option, seconds, sim_log_args
from linecontrol.cli.output import EXIT_BAD_INPUT, error, load_line


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sim = sub.add_parser(
        "sim",
        help="run the simulated line; prints its address map as JSON on line 1",
        description="Start every simulated instrument of the line config. The first line of "
        "output is one JSON object: which device is on which host and port (or bus). "
        "Runs until Ctrl-C or SIGTERM.",
    )
    line_option(sim, "--config", "CONFIG", "line config")
    sim.add_argument(
        "--time-scale",
        type=seconds,
        default=1.0,
        metavar="X",
        help="simulated seconds per real second (default 1)",
    )
    runtime.add_log_options(sim)
    sim.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import signal

    stop_signals = {signal.SIGINT, signal.SIGTERM}
    # Blocked from here and across the exec: a SIGINT or SIGTERM from now on stays pending
    # until the simulators have their handlers in place (they unblock them), so it stops
    # them cleanly, also one that comes while the input is checked.
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    # Checked here, so that a mistake is named as the user typed it (not in the words of
    # the simulators' own command line).
    problem = bad_time_scale(args.time_scale)
    if problem is not None:
        error(problem)
    if problem is not None or load_line(args.config) is None:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        return EXIT_BAD_INPUT
    # The simulators run as their own process: linecontrol reaches them only by
    # address, exactly as it reaches hardware (and never imports them).
    argv = [
        sys.executable,
        "-m",
        "simulators",
        "--config",
        str(args.config),
        "--time-scale",
        str(args.time_scale),
        *sim_log_args(args),
    ]
    sys.stdout.flush()
    os.execv(sys.executable, argv)
    return EXIT_BAD_INPUT  # not reached
