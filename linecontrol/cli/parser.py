"""The ``linecontrol`` command line: one subcommand per module of this room, each
adding its own parser."""

from __future__ import annotations

import argparse

from linecontrol import __version__
from linecontrol.cli import (
    api,
    demo,
    recipe,
    record,
    regmap,
    replay,
    run,
    runs,
    serve,
    sim,
    tui,
    whatif,
)
from linecontrol.cli.options import require_command

COMMANDS = (recipe, sim, regmap, record, run, runs, whatif, replay, tui, serve, api, demo)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="linecontrol",
        description="Equipment control and data acquisition for roll-to-roll FCCL laminator lines.",
    )
    parser.add_argument("--version", action="version", version=f"linecontrol {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    require_command(parser, sub)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser
