"""The entry point: parse, configure logging (the one place it is configured), run
the command, and turn a closed pipe or a late Ctrl-C into an exit code."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence

from linecontrol import runtime
from linecontrol.cli.output import EXIT_BAD_INPUT, EXIT_OK, error
from linecontrol.cli.parser import build_parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # The one place logging is configured (no module does it when imported).
    log_level = getattr(args, "log_level", runtime.DEFAULT_LOG_LEVEL)
    log_file = getattr(args, "log_file", None)
    try:
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(runtime.configured(log_level, log_file))
            except OSError as exc:
                error(f"--log-file {log_file}: {exc.strerror or exc}")
                return EXIT_BAD_INPUT
            try:
                return int(args.func(args))
            except BrokenPipeError:
                # Output piped into a command that stopped reading (| head): not an error.
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                return EXIT_OK
    except KeyboardInterrupt:
        # Also one that lands while winding down, after the command's own handlers
        # are gone (Ctrl-C held through the end of a record): no traceback, one word.
        error("interrupted")
        return 130

