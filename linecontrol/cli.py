"""The ``linecontrol`` command."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from linecontrol import __version__
from linecontrol.errors import InputFileError
from linecontrol.paths import DEFAULT_LINE

if TYPE_CHECKING:
    from linecontrol.line import LineConfig

EXIT_OK = 0
EXIT_VIOLATION = 1
EXIT_BAD_INPUT = 2


def _load_line(path: Path) -> LineConfig | None:
    """The line config, or None after printing each problem with it."""
    from linecontrol.line import load_line

    try:
        return load_line(path)
    except InputFileError as exc:
        for p in exc.problems:
            print(f"error: line config: {p}", file=sys.stderr)
        return None


def _recipe_check(args: argparse.Namespace) -> int:
    from linecontrol.recipe import load_recipe
    from linecontrol.recipe_report import report_json, report_text
    from linecontrol.rules import check

    line_file = str(args.line)
    line = _load_line(args.line)
    if line is None:
        return EXIT_BAD_INPUT
    status = EXIT_OK
    results: list[dict[str, object]] = []
    texts: list[str] = []
    for path in args.files:
        try:
            recipe = load_recipe(path)
        except InputFileError as exc:
            status = EXIT_BAD_INPUT
            results.append(
                {"file": str(path), "ok": False, "problems": [p.__dict__ for p in exc.problems]}
            )
            texts.append(
                "\n".join([f"{path}: cannot be checked"] + [f"  ✗ {p}" for p in exc.problems])
            )
            continue
        report = check(recipe, line)
        if not report.ok and status == EXIT_OK:
            status = EXIT_VIOLATION
        results.append(report_json(str(path), line_file, report))
        texts.append(report_text(str(path), line.line.name, line_file, report))
    if args.json:
        json.dump(results, sys.stdout, indent=2, ensure_ascii=False, default=str)
        sys.stdout.write("\n")
    else:
        print("\n\n".join(texts))
    return status


def _sim(args: argparse.Namespace) -> int:
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
    ]
    sys.stdout.flush()
    os.execv(sys.executable, argv)
    return EXIT_BAD_INPUT  # not reached


def _ascii_commands(model: str, as_json: bool) -> int:
    from drivers.devices import dc_psu, vacuum_gauge

    mod = {"dc_psu": dc_psu, "vacuum_gauge": vacuum_gauge}[model]
    doc = " ".join((mod.__doc__ or "").strip().split("\n\n")[0].split())
    cmds = [
        {"request": q, "answer": a, "meaning": m, "access": acc} for q, a, m, acc in mod.COMMANDS
    ]
    if as_json:
        json.dump(
            {"model": model, "description": doc, "link": "ascii", "commands": cmds},
            sys.stdout,
            indent=2,
            ensure_ascii=False,
        )
        sys.stdout.write("\n")
        return EXIT_OK
    print(f"{model}: {doc}")
    w1 = max(len(c["request"]) for c in cmds)
    w2 = max(len(c["answer"]) for c in cmds)
    for c in cmds:
        print(f"  {c['request']:<{w1}}  {c['answer']:<{w2}}  {c['access']:<2}  {c['meaning']}")
    return EXIT_OK


ASCII_MODELS = ("dc_psu", "vacuum_gauge")


def _regmap(args: argparse.Namespace) -> int:
    from drivers.devices import MODBUS_MAPS

    model = args.device
    if model in ASCII_MODELS:
        return _ascii_commands(model, args.json)
    if model not in MODBUS_MAPS:
        line = _load_line(args.line)
        if line is None:
            return EXIT_BAD_INPUT
        dev = line.devices.get(model)
        if dev is not None and dev.model in ASCII_MODELS:
            return _ascii_commands(dev.model, args.json)
        if dev is None or dev.model not in MODBUS_MAPS:
            known = sorted(MODBUS_MAPS) + list(ASCII_MODELS) + sorted(line.devices)
            print(f"error: unknown device {model!r}; known: {', '.join(known)}", file=sys.stderr)
            return EXIT_BAD_INPUT
        model = dev.model
    regmap = MODBUS_MAPS[model]
    if args.json:
        json.dump(regmap.describe(), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return EXIT_OK
    print(f"{regmap.model}: {regmap.description} ({regmap.link})")
    head = ("table", "addr", "n", "type", "order", "scale", "unit", "access", "range", "name")
    rows = [head]
    for r in sorted(regmap, key=lambda r: (r.table, r.address)):
        rng = "" if r.min is None else f"{r.min:g}..{r.max:g}"
        rows.append(
            (
                r.table,
                str(r.address),
                str(r.width),
                r.type,
                r.order if r.width == 2 else "",
                f"{r.scale:g}",
                r.unit,
                r.access,
                rng,
                r.name,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    for r in regmap:
        if r.bits:
            bits = ", ".join(f"{b}={n}" for b, n in sorted(r.bits.items()))
            print(f"{r.name} bits: {bits}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="linecontrol",
        description="Equipment control and data acquisition for roll-to-roll FCCL laminator lines.",
    )
    parser.add_argument("--version", action="version", version=f"linecontrol {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    recipe = sub.add_parser("recipe", help="recipes: check against the process windows")
    rsub = recipe.add_subparsers(dest="recipe_command", required=True)
    chk = rsub.add_parser(
        "check",
        help="check recipes against the seed process windows and the line's limits",
        description="Exit 0: no errors; 1: a recipe violates a rule; 2: a file cannot be read.",
    )
    chk.add_argument("files", nargs="+", type=Path, metavar="FILE")
    chk.add_argument(
        "--line",
        type=Path,
        default=DEFAULT_LINE,
        metavar="CONFIG",
        help=f"line config (default: the embedded {DEFAULT_LINE.name})",
    )
    chk.add_argument("--json", action="store_true", help="machine-readable output")
    chk.set_defaults(func=_recipe_check)

    sim = sub.add_parser(
        "sim",
        help="run the simulated line; prints its address map as JSON on line 1",
        description="Start every simulated instrument of the line config. The first line of "
        "output is one JSON object: which device is on which host and port (or bus). "
        "Runs until Ctrl-C or SIGTERM.",
    )
    sim.add_argument(
        "--config",
        type=Path,
        default=DEFAULT_LINE,
        help=f"line config (default: the embedded {DEFAULT_LINE.name})",
    )
    sim.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="simulated seconds per real second (default 1)",
    )
    sim.set_defaults(func=_sim)

    reg = sub.add_parser("regmap", help="print an instrument's register map")
    reg.add_argument(
        "device",
        metavar="DEVICE",
        help="a model (line_drive, coater, press, oven_zone, n2_mfc, o2_analyzer) "
        "or a device name of the line config",
    )
    reg.add_argument("--line", type=Path, default=DEFAULT_LINE, metavar="CONFIG")
    reg.add_argument("--json", action="store_true", help="machine-readable output")
    reg.set_defaults(func=_regmap)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Output piped into a command that stopped reading (| head): not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
