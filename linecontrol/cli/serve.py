"""``linecontrol serve``: the supervised line as its own process, behind the local API."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from linecontrol import runtime
from linecontrol.cli.options import (
    SIM_SPEEDUP_HELP,
    SignalledEarly,
    data_dir_option,
    early_stop_signals,
    line_option,
    recipe_option,
    sim_log_args,
    speedup_option,
    supervised_line,
)
from linecontrol.cli.output import EXIT_BAD_INPUT, EXIT_OK, EXIT_RUN_LOG, error
from linecontrol.cli.run import EXIT_NOT_COMPLETE
from linecontrol.config import RECIPES

SOCKET_NAME = "linecontrol.sock"


def tcp_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6); the host is checked for loopback later."""
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise argparse.ArgumentTypeError(f"{text!r}: HOST:PORT is needed")
    try:
        number = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: the port is not a number") from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r}: the port must be 0..65535")
    return host.strip("[]"), number


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "serve",
        help="run the supervised line behind the local API (Unix socket, optional loopback TCP)",
        description="Acquisition, the supervisor, alarms and one run log for the whole "
        "session, driven through the local API (docs/api.md). Boots Stopped (Aborted after "
        "an unclean stop or an Abort not cleared); nothing is given by itself but the "
        "--recipe load. SIGINT or SIGTERM stops the line (Stop, then Abort if it does not "
        "end in time), closes the run log and removes the socket. Prints the socket path "
        "and the run id. Exit 0 on a clean stop; 2: bad input (a live server on the "
        "socket, a TCP address not loopback); 3: the run log failed; "
        f"{EXIT_NOT_COMPLETE}: stopped by a signal before it served.",
    )
    line_option(p, "--config", "FILE", "line config")
    recipe_option(p, None, "recipe loaded at start")
    p.add_argument(
        "--recipes",
        type=Path,
        default=RECIPES,
        metavar="DIR",
        help="the recipes GET /v1/recipes lists (default: the embedded examples)",
    )
    p.add_argument("--sim", action="store_true", help="serve the simulated line of the config")
    speedup_option(p, 1.0, SIM_SPEEDUP_HELP)
    data_dir_option(p)
    p.add_argument(
        "--socket",
        type=Path,
        default=None,
        metavar="PATH",
        help=f"the API's Unix socket (default: <data root>/{SOCKET_NAME})",
    )
    p.add_argument(
        "--tcp",
        type=tcp_address,
        default=None,
        metavar="HOST:PORT",
        help="also serve on loopback TCP, bearer tokens only ([api.tokens]; port 0: any)",
    )
    runtime.add_log_options(p)
    p.set_defaults(func=serve)


def serve(args: argparse.Namespace) -> int:
    try:
        with early_stop_signals("serving"):
            return _serve(args)
    except SignalledEarly:
        error("stopped by a signal before serving; nothing served")
        return EXIT_NOT_COMPLETE


def _serve(args: argparse.Namespace) -> int:
    import asyncio

    from linecontrol.recording import RecordError, StoppedBeforeStart, SupervisorRunning
    from linecontrol.runlog import RunLogError, data_root
    from linecontrol.server import ServeError, ServeOptions, serve

    line = supervised_line(args.config, args.speedup, args.sim, "serve")
    if line is None:
        return EXIT_BAD_INPUT
    if args.tcp is not None and not line.api.tokens:
        error(f"--tcp: {args.config} has no [api.tokens]: nobody could use it")
        return EXIT_BAD_INPUT
    data = data_root(args.data_dir)
    sock = args.socket if args.socket is not None else data / SOCKET_NAME

    def ready(run_id: str, path: Path, port: int | None) -> None:
        print(f"socket {path}")
        if port is not None:
            print(f"tcp {args.tcp[0]}:{port}")
        print(f"run {run_id}", flush=True)

    opts = ServeOptions(
        config=args.config,
        line=line,
        data_dir=data,
        socket=sock,
        tcp=args.tcp,
        sim=args.sim,
        speedup=args.speedup,
        recipe=args.recipe,
        recipes_dir=args.recipes,
        sim_log_args=sim_log_args(args),
        on_ready=ready,
    )
    try:
        result = asyncio.run(serve(opts))
    except (ServeError, SupervisorRunning, RunLogError, RecordError) as exc:
        error(f"{exc}; nothing served")
        return EXIT_BAD_INPUT
    except StoppedBeforeStart as exc:  # as run's: nothing started
        error(f"{exc}; nothing served")
        return EXIT_NOT_COMPLETE
    print(f"run {result.run_id}: {result.status} (ended {result.final.get('state')})",
          file=sys.stderr)  # fmt: skip
    if result.run_log_errors:
        error(
            f"run {result.run_id}: the run log could not write everything "
            f"({'; '.join(result.run_log_errors)}); what was written is kept and readable"
        )
        return EXIT_RUN_LOG
    if not result.served:  # the line started and was stopped at once: its run is logged
        error(f"run {result.run_id}: stopped by a signal before serving; nothing served")
        return EXIT_NOT_COMPLETE
    return EXIT_OK
