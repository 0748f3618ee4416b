"""The ``linecontrol`` command."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from linecontrol import __version__
from linecontrol.errors import InputFileError
from linecontrol.paths import DEFAULT_LINE

EXIT_OK = 0
EXIT_VIOLATION = 1
EXIT_BAD_INPUT = 2


def _recipe_check(args: argparse.Namespace) -> int:
    from linecontrol.line import load_line
    from linecontrol.recipe import load_recipe
    from linecontrol.recipe_report import report_json, report_text
    from linecontrol.rules import check

    line_file = str(args.line)
    try:
        line = load_line(args.line)
    except InputFileError as exc:
        for p in exc.problems:
            print(f"error: line config: {p}", file=sys.stderr)
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
