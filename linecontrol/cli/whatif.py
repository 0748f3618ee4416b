"""``linecontrol whatif RUN --alarms FILE [--recipe FILE]``: a logged run's samples and
operator actions through the alarm engine again with other alarm definitions (or
recipe windows), compared with the run's own journal, with the EEMUA 191 measures of
both; ``linecontrol whatif --test FILE``: alarm-rule tests (promtool's style)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from linecontrol.cli.output import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    EXIT_RUN_LOG,
    EXIT_VIOLATION,
    error,
    write_json,
)
from linecontrol.cli.rundir import UNREADABLE, named_run
from linecontrol.errors import InputFileError

if TYPE_CHECKING:
    from linecontrol.whatif import Comparison, LoadedRun, Measures, Result


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "whatif",
        help="a logged run through other alarm definitions; alarm-rule tests",
        description=(
            "Re-evaluate a logged run's samples and operator actions with the alarms of "
            "FILE (a line config or a file of [alarms.<id>] tables) and compare the alarm "
            "journals, with the EEMUA 191 measures of both. With --test FILE: run the "
            "alarm-rule tests of FILE (exit 1 if one fails)."
        ),
    )
    p.add_argument("run", metavar="RUN", nargs="?", help="run id (or a unique prefix, or a path)")
    p.add_argument("--alarms", type=Path, metavar="FILE", help="alarm definitions to evaluate")
    p.add_argument(
        "--recipe", type=Path, metavar="FILE", help="a recipe whose windows replace the run's"
    )
    p.add_argument(
        "--data-dir", type=Path, default=None, metavar="DIR",
        help="data root (default: $LINECONTROL_DATA or ./runs)",
    )  # fmt: skip
    p.add_argument(
        "--operators", type=int, default=1, metavar="N",
        help="operators sharing the alarms, for the rates (default 1)",
    )  # fmt: skip
    p.add_argument("--test", type=Path, metavar="FILE", help="run the alarm-rule tests of FILE")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=whatif)


def whatif(args: argparse.Namespace) -> int:
    if args.test is not None:
        if args.run is not None or args.alarms is not None or args.recipe is not None:
            error("--test FILE takes no RUN, --alarms or --recipe")
            return EXIT_BAD_INPUT
        return rule_tests(args.test, args.json)
    if args.run is None or args.alarms is None:
        error("give RUN and --alarms FILE (or --test FILE)")
        return EXIT_BAD_INPUT
    if args.operators < 1:
        error(f"--operators = {args.operators}: at least 1")
        return EXIT_BAD_INPUT
    from linecontrol.whatif import (
        compare,
        evaluate,
        load_alarms,
        load_recipe_windows,
        load_run,
        measures,
        with_recipe,
    )

    run_dir = named_run(args)
    if run_dir is None:
        return EXIT_BAD_INPUT
    try:
        run = load_run(run_dir)
    except UNREADABLE as exc:
        error(f"run {run_dir.name} cannot be read: {exc}")
        return EXIT_RUN_LOG
    try:
        defs = load_alarms(args.alarms, run.line)
        logged = run.logged
        if args.recipe is not None:
            if run.line is None:
                error(f"--recipe: run {run_dir.name} has no line config to plan it on")
                return EXIT_BAD_INPUT
            w = load_recipe_windows(args.recipe, run.line)
            logged = with_recipe(logged, w.needed, w.setpoints, w.limits)
    except InputFileError as exc:
        for p in exc.problems:
            error(str(p))
        return EXIT_BAD_INPUT
    res = evaluate(defs, run.rows, logged)
    start, end = _span(run, res)
    live = [t for t in run.live if t.t >= start]
    cmp = compare(live, res.journal)
    m_live = measures(live, start, end, args.operators)
    m_new = measures(res.journal, start, end, args.operators)
    if args.json:
        write_json(
            {
                "run": run.meta.run_id,
                "alarms_file": str(args.alarms),
                "recipe_file": str(args.recipe) if args.recipe else None,
                "rows": res.rows,
                "start": start,
                "end": end,
                "warnings": run.warnings,
                "live_after_last_row": run.beyond,
                "rejected_commands": [{"t": t, "reason": r} for t, r in res.rejected],
                "comparison": cmp.as_dict(),
                "live": {
                    "journal": [t.as_dict() for t in live],
                    "measures": m_live.as_dict(),
                },
                "whatif": {
                    "journal": [t.as_dict() for t in res.journal],
                    "measures": m_new.as_dict(),
                },
            }
        )
        return EXIT_OK
    _show(run, res, cmp, m_live, m_new, start)
    return EXIT_OK


def _span(run: LoadedRun, res: Result) -> tuple[float, float]:
    if res.rows:
        return res.start, res.end
    t = run.rows.t
    return (float(t[0]), float(t[-1])) if len(t) else (0.0, 0.0)


def _show(
    run: LoadedRun, res: Result, cmp: Comparison, live: Measures, new: Measures, t0: float
) -> None:
    print(f"run       {run.meta.run_id} ({run.run_dir})")
    print(f"evaluated {res.rows} rows, {res.end - res.start if res.rows else 0.0:.1f} s")
    for w in run.warnings:
        print(f"warning   {w}")
    if run.beyond:
        print(
            f"note      {run.beyond} live transitions after the last complete batch: not compared"
        )
    for at, why in res.rejected:
        print(f"refused   at {at - t0:.3f} s an operator's command: {why}")
    verdict = "identical" if cmp.identical else "different"
    print(
        f"journals  {verdict}: {cmp.same} annunciations the same, {len(cmp.added)} added, "
        f"{len(cmp.removed)} removed, {len(cmp.moved)} moved"
    )
    for t in cmp.added:
        print(f"  added   {t.alarm} at {t.t - t0:.3f} s{_at(t.web_position_m)}")
    for t in cmp.removed:
        print(f"  removed {t.alarm} at {t.t - t0:.3f} s{_at(t.web_position_m)}")
    for mv in cmp.moved:
        print(
            f"  moved   {mv.alarm} #{mv.nth} from {mv.t_from - t0:.3f} s to {mv.t_to - t0:.3f} s "
            f"({mv.shift_s:+.3f} s)"
        )
    print("EEMUA 191 (annunciations; times from the first row evaluated)")
    rows = [
        ("", "live", "what-if"),
        ("alarms", str(live.alarms), str(new.alarms)),
        ("per 10 min per operator, average", f"{live.rate_avg:.2f}", f"{new.rate_avg:.2f}"),
        ("per 10 min per operator, peak", f"{live.rate_peak:g}", f"{new.rate_peak:g}"),
        ("floods (>10 in 10 min)", str(len(live.floods)), str(len(new.floods))),
        ("time in flood", f"{live.flood_s:.1f} s", f"{new.flood_s:.1f} s"),
        ("chattering alarms (>=3 in 60 s)", str(len(live.chattering)), str(len(new.chattering))),
        ("standing alarms", str(len(live.standing)), str(len(new.standing))),
    ]
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    for row in rows:
        print(f"  {row[0]:<{w0}}  {row[1]:>{w1}}  {row[2]}")
    for name, m in (("live", live), ("what-if", new)):
        for f in m.floods:
            print(
                f"  {name} flood from {f.start - t0:.1f} s for {f.duration_s:.1f} s, "
                f"peak {f.peak}, {f.alarms} alarms"
            )
        for a, n in m.chattering.items():
            print(f"  {name} chattering {a}: {n} in 60 s")
        for s in m.standing:
            print(f"  {name} standing {s.alarm} since {s.since - t0:.1f} s: {s.rule}")
        if m.top:
            print(f"  {name} most frequent: " + ", ".join(f"{a} {n}" for a, n in m.top))


def _at(web: float | None) -> str:
    return "" if web is None else f" (web at {web:.2f} m)"


def rule_tests(path: Path, as_json: bool) -> int:
    from linecontrol.whatif import load_tests, run_case

    try:
        suite = load_tests(path)
    except InputFileError as exc:
        for p in exc.problems:
            error(str(p))
        return EXIT_BAD_INPUT
    outcomes = [run_case(suite.definitions, c) for c in suite.cases]
    failed = [o for o in outcomes if not o.passed]
    if as_json:
        shown: list[dict[str, Any]] = [
            {"name": o.name, "passed": o.passed, "failures": o.failures} for o in outcomes
        ]
        write_json({"file": suite.file, "passed": not failed, "tests": shown})
    else:
        for o in outcomes:
            if o.passed:
                print(f"PASS  {o.name}")
                continue
            print(f"FAIL  {o.name}")
            for f in o.failures:
                print(f"        {f}")
        print(f"{len(outcomes) - len(failed)} of {len(outcomes)} tests passed ({suite.file})")
        sys.stdout.flush()
    return EXIT_VIOLATION if failed else EXIT_OK
