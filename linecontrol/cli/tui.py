"""``linecontrol tui [--connect ADDRESS]``: the operator's terminal, a client of the local
API that ``linecontrol serve`` offers (docs/api.md)."""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

from linecontrol.cli.output import EXIT_BAD_INPUT, EXIT_OK, error

SOCKET_NAME = "linecontrol.sock"
CLIENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tui = sub.add_parser("tui", help="the operator's terminal (a client of linecontrol serve)")
    tui.add_argument(
        "--connect",
        metavar="ADDRESS",
        default=None,
        help=f"the API: a Unix socket path or http://127.0.0.1:PORT "
        f"(default: DATA_ROOT/{SOCKET_NAME})",
    )
    tui.add_argument(
        "--token",
        default=None,
        help="bearer token for an http:// address (default: $LINECONTROL_TOKEN)",
    )
    tui.add_argument(
        "--client-id",
        default=None,
        metavar="ID",
        help="this client's name to the server, 1-64 of A-Z a-z 0-9 . _ : - (default: tui-PID)",
    )
    tui.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="data root whose socket is the default (default: $LINECONTROL_DATA or ./runs)",
    )
    tui.set_defaults(func=run_tui)


def run_tui(args: argparse.Namespace) -> int:
    from linecontrol.api import ApiClient, parse_address
    from linecontrol.errors import InvalidArgument
    from linecontrol.runlog import data_root

    text = args.connect or str(data_root(args.data_dir) / SOCKET_NAME)
    try:
        address = parse_address(text)
    except InvalidArgument as exc:
        error(f"--connect: {exc}")
        return EXIT_BAD_INPUT
    if args.token and address.path is not None:
        error("--token is for an http:// address; on the socket the server knows your user")
        return EXIT_BAD_INPUT
    token = (
        "" if address.path is not None else args.token or os.environ.get("LINECONTROL_TOKEN", "")
    )
    client_id = args.client_id or f"tui-{os.getpid()}"
    if not CLIENT_ID.fullmatch(client_id):
        error(f"--client-id {client_id!r}: 1-64 of A-Z a-z 0-9 . _ : -")
        return EXIT_BAD_INPUT
    if address.path is not None and not address.path.exists():
        error(f"no API socket at {address.path} (is linecontrol serve running?)")
        return EXIT_BAD_INPUT
    from linecontrol.tui import LineApp

    LineApp(ApiClient(address, client_id, token)).run()
    return EXIT_OK
