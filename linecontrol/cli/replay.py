"""``linecontrol replay RUN``: a logged run served through the local API, as a live
``linecontrol serve`` is (docs/api.md, "Replay"): the TUI connects to it unchanged."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from linecontrol import runtime
from linecontrol.cli.options import data_dir_option
from linecontrol.cli.output import EXIT_BAD_INPUT, EXIT_OK, error
from linecontrol.cli.serve import SOCKET_NAME, tcp_address


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "replay",
        help="serve a logged run through the local API (the TUI connects to it unchanged)",
        description="Serves RUN's values, events and alarm transitions at their recorded "
        "times (times --speed) through the same API as linecontrol serve, with the replay "
        "controls as commands (pause, resume, speed 0.1x-1000x, seek to a time or a metre, "
        "step); every command that acts on a line is refused. Prints the socket path and "
        "the run id; SIGINT or SIGTERM closes the API and removes the socket. Exit 0 on a "
        "clean stop; 2: bad input (no such run, a speed outside 0.1x-1000x, a live server "
        "on the socket, a TCP address not loopback).",
    )
    p.add_argument("run", metavar="RUN", help="run id, unique prefix of one, or its directory")
    p.add_argument(
        "--speed", type=float, default=1.0, metavar="X", help="replay speed, 0.1 to 1000 (1)"
    )
    p.add_argument("--paused", action="store_true", help="start paused at the run's start")
    data_dir_option(p)
    p.add_argument(
        "--socket",
        type=Path,
        default=None,
        metavar="PATH",
        help=f"the API's Unix socket (default: <data root>/{SOCKET_NAME}, as serve's: one "
        "data source at a time)",
    )
    p.add_argument(
        "--tcp",
        type=tcp_address,
        default=None,
        metavar="HOST:PORT",
        help="also serve on loopback TCP, bearer tokens of the run's [api.tokens] only",
    )
    runtime.add_log_options(p)
    p.set_defaults(func=replay)


def replay(args: argparse.Namespace) -> int:
    import asyncio

    from linecontrol.replay import InvalidSpeed, check_speed
    from linecontrol.runlog import RunNotFound, data_root, find_run
    from linecontrol.server import ReplayOpenError, ReplayOptions, ServeError, serve_replay

    try:
        speed = check_speed(args.speed)
    except InvalidSpeed as exc:
        error(f"--speed: {exc}")
        return EXIT_BAD_INPUT
    root = data_root(args.data_dir)
    try:
        run_dir = find_run(root, args.run)
    except RunNotFound as exc:
        error(str(exc))
        return EXIT_BAD_INPUT
    sock = args.socket if args.socket is not None else root / SOCKET_NAME

    def ready(run_id: str, path: Path, port: int | None, problems: list[str]) -> None:
        for problem in problems:
            print(f"warning: {problem} (replayed up to it, or skipped)", file=sys.stderr)
        print(f"socket {path}")
        if port is not None:
            print(f"tcp {args.tcp[0]}:{port}")
        print(f"run {run_id}", flush=True)

    opts = ReplayOptions(
        run_dir=run_dir, socket=sock, tcp=args.tcp, speed=speed, paused=args.paused,
        on_ready=ready,
    )  # fmt: skip
    try:
        result = asyncio.run(serve_replay(opts))
    except (ServeError, ReplayOpenError) as exc:
        error(f"{exc}; nothing served")
        return EXIT_BAD_INPUT
    print(f"replay of run {result.run_id}: stopped by signal", file=sys.stderr)
    return EXIT_OK
