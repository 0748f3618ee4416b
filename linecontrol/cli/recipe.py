"""``linecontrol recipe check``: recipes against the process windows and the line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from linecontrol.cli.options import line_option, require_command
from linecontrol.cli.output import EXIT_BAD_INPUT, EXIT_OK, EXIT_VIOLATION, load_line
from linecontrol.errors import InputFileError


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    recipe = sub.add_parser("recipe", help="recipes: check against the process windows")
    rsub = recipe.add_subparsers(dest="recipe_command", metavar="COMMAND")
    require_command(recipe, rsub)
    chk = rsub.add_parser(
        "check",
        help="check recipes against the seed process windows and the line's limits",
        description="Exit 0: no errors; 1: a recipe violates a rule; 2: a file cannot be read.",
    )
    chk.add_argument("files", nargs="+", type=Path, metavar="FILE", help="recipe files (TOML)")
    line_option(chk, "--line", "CONFIG", "line config")
    chk.add_argument("--json", action="store_true", help="machine-readable output")
    chk.set_defaults(func=check)


def check(args: argparse.Namespace) -> int:
    from linecontrol.config import load_recipe
    from linecontrol.process import check, report_json, report_text, with_run_end

    line_file = str(args.line)
    line = load_line(args.line)
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
        report = with_run_end(check(recipe, line))  # no [run]: checked, but not runnable
        if not report.ok and status == EXIT_OK:
            status = EXIT_VIOLATION
        results.append(report_json(str(path), line_file, report))
        texts.append(report_text(str(path), line.line.name, line_file, report))
    if args.json:
        # Strict JSON: report_json has already turned non-finite numbers into null.
        json.dump(results, sys.stdout, indent=2, ensure_ascii=False, allow_nan=False, default=str)
        sys.stdout.write("\n")
    else:
        print("\n\n".join(texts))
    return status
