"""Argument types and options that several commands share."""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path

from linecontrol.config import DEFAULT_LINE

TIME_SCALE_MAX = 1e6  # the simulators refuse this time scale and above


def seconds(text: str) -> float:
    """A finite number (seconds, hertz, a time scale): NaN and infinities are refused."""
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from exc
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not finite (NaN and infinities are refused)")
    return value


def bad_time_scale(value: float) -> str | None:
    if 0 < value < TIME_SCALE_MAX:
        return None
    return f"--time-scale = {value:g}: must be above 0 and below {TIME_SCALE_MAX:g}"


def sim_log_args(args: argparse.Namespace) -> list[str]:
    """The simulators' logging options: the command's own."""
    out = ["--log-level", args.log_level]
    if args.log_file is not None:
        out += ["--log-file", str(args.log_file)]
    return out


def line_option(parser: argparse.ArgumentParser, flag: str, metavar: str, help: str) -> None:
    """The line config option (``--line`` or ``--config``), the embedded one by default."""
    parser.add_argument(
        flag,
        type=Path,
        default=DEFAULT_LINE,
        metavar=metavar,
        help=f"{help} (default: the embedded {DEFAULT_LINE.name})",
    )


def require_command(
    parser: argparse.ArgumentParser, sub: argparse._SubParsersAction[argparse.ArgumentParser]
) -> None:
    """A command group run without its command says what to type, in the user's words
    (never the parser's internal destination names)."""

    def missing(args: argparse.Namespace) -> int:
        parser.error(f"choose a command: {', '.join(sub.choices)}")

    parser.set_defaults(func=missing)


def group_option(
    group: argparse.ArgumentParser,
    commands: Sequence[argparse.ArgumentParser],
    *flags: str,
    **kwargs: object,
) -> None:
    """An option of a command group, accepted before its command and after it
    (``runs --data-dir X list`` and ``runs list --data-dir X``); after wins."""
    group.add_argument(*flags, **kwargs)  # type: ignore[arg-type]
    # Unset unless given after the command, so it never overwrites the group's value.
    after = {**kwargs, "default": argparse.SUPPRESS}
    for cmd in commands:
        cmd.add_argument(*flags, **after)  # type: ignore[arg-type]
