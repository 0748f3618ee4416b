"""Argument types and options that several commands share."""

from __future__ import annotations

import argparse
import contextlib
import math
import signal
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from linecontrol import runtime
from linecontrol.config import DEFAULT_LINE, RECIPES
from linecontrol.errors import LinecontrolError

if TYPE_CHECKING:
    from linecontrol.config import LineConfig

TIME_SCALE_MAX = 1e6  # the simulators refuse this time scale and above
SPEEDUP_MAX = 10_000.0  # run, serve, demo: the line's clock at most this much faster
SPEEDUP_MIN = 0.01  # and at least this fast: slower, its clock all but stands still
DEFAULT_RECIPE = RECIPES / "001-ex1.toml"  # 001 Example 1: the seed's own worked example
SIM_SPEEDUP_HELP = "with --sim: run the line's clock N times faster than real time (default 1)"


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


def speedup_option(parser: argparse.ArgumentParser, default: float, help: str) -> None:
    """``--speedup N``: the line's clock N times faster than real time."""
    parser.add_argument("--speedup", type=seconds, default=default, metavar="N", help=help)


def data_dir_option(parser: argparse.ArgumentParser, what: str = "data root") -> None:
    """``--data-dir DIR``, ``$LINECONTROL_DATA`` or ``./runs`` by default."""
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help=f"{what} (default: $LINECONTROL_DATA or ./runs)",
    )


def bad_speedup(speedup: float, sim: bool) -> str | None:
    """What is wrong with ``--speedup`` (run, serve, demo), or None: from ``SPEEDUP_MIN``
    to ``SPEEDUP_MAX``, and only with ``--sim`` (a real line runs in real time)."""
    if not SPEEDUP_MIN <= speedup <= SPEEDUP_MAX:
        return (
            f"--speedup = {speedup:g}: must be from {SPEEDUP_MIN:g} to {SPEEDUP_MAX:g} "
            "(the line's clock against real time)"
        )
    if speedup != 1.0 and not sim:
        return "--speedup needs --sim: a real line runs in real time"
    return None


def simulator_placeholders(line: LineConfig) -> list[str]:
    """The addresses of ``line`` only a simulated line gives a meaning: TCP port 0
    and the serial ports ``pty`` and ``socket`` (``--sim`` replaces them)."""
    from drivers.config import SIMULATED_PORTS, AsciiDevice, TcpDevice

    out = [
        f"buses.{n}.port = {b.port!r}" for n, b in line.buses.items() if b.port in SIMULATED_PORTS
    ]
    for name, d in line.devices.items():
        if isinstance(d, TcpDevice) and d.port == 0:
            out.append(f"devices.{name}.port = 0")
        elif isinstance(d, AsciiDevice) and d.serial_port in SIMULATED_PORTS:
            out.append(f"devices.{name}.serial_port = {d.serial_port!r}")
    return out


def recipe_option(parser: argparse.ArgumentParser, default: Path | None, help: str) -> None:
    """``--recipe FILE``: the recipe the command loads (``default``: none or embedded)."""
    if default is not None:
        help += f" (default: the embedded {default.name})"
    parser.add_argument("--recipe", type=Path, default=default, metavar="FILE", help=help)


def supervised_line(
    config: Path,
    speedup: float,
    sim: bool,
    command: str,
    check: Callable[[], str | None] | None = None,
) -> LineConfig | None:
    """The checks ``run``, ``serve`` and ``demo`` share before anything starts, each
    problem printed as ``error: ...``: ``--speedup`` (``bad_speedup``), then ``check``
    (the command's own options, before the config is read), the line config (it loads
    and has an instrument: ``command`` needs one) and, without ``sim``, addresses that
    are the simulator's placeholders. The line, or None (exit 2: bad input)."""
    from linecontrol.cli.output import error, load_line

    problem = bad_speedup(speedup, sim) or (check() if check is not None else None)
    if problem is not None:
        error(problem)
        return None
    line = load_line(config, need_devices=command)
    if line is None:
        return None
    placeholders = simulator_placeholders(line) if not sim else []
    if placeholders:
        error(
            f"{config}: the config's addresses are the simulator's placeholders "
            f"({', '.join(placeholders[:3])}{', ...' if len(placeholders) > 3 else ''}): "
            "use --sim"
        )
        return None
    return line


class SignalledEarly(LinecontrolError, RuntimeError):
    """A stop signal while run or serve imports its parts and reads its config, before
    the session's own handlers (``StopSignals``) take the signals: nothing started."""


@contextlib.contextmanager
def early_stop_signals(what: str) -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP (``runtime.stop_signals``) raise ``SignalledEarly``
    (``stopped by SIG before WHAT``) until the session installs its own handlers (else,
    for the second or more its imports take, SIGTERM's default action kills the process
    and SIGINT ends it as 'interrupted'); the previous handlers are back after. Only the
    half second Python takes to read the command line comes before this."""

    def signalled(signum: int, frame: object) -> None:
        raise SignalledEarly(f"stopped by {signal.Signals(signum).name} before {what}")

    old = {sig: signal.signal(sig, signalled) for sig in runtime.stop_signals()}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
