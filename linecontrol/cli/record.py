"""``linecontrol record``: record a line headless into a run log."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from linecontrol import runtime
from linecontrol.cli.options import bad_time_scale, line_option, seconds, sim_log_args
from linecontrol.cli.output import (
    EXIT_ACQUISITION,
    EXIT_BAD_INPUT,
    EXIT_DEVICES,
    EXIT_OK,
    EXIT_RUN_LOG,
    EXIT_VIOLATION,
    error,
    load_line,
)
from linecontrol.errors import InputFileError


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rec = sub.add_parser(
        "record",
        help="record a line headless into a run log; prints the run id",
        description="Poll every instrument of the line config at its rate and record the "
        "run (metadata, events, samples) under the data directory.",
    )
    line_option(rec, "--config", "FILE", "line config")
    rec.add_argument(
        "--sim",
        action="store_true",
        help="start the simulated line of this config first, stop it after",
    )
    rec.add_argument(
        "--duration",
        type=seconds,
        required=True,
        metavar="S",
        help="seconds to record (SIGINT/SIGTERM stop earlier, cleanly)",
    )
    rec.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="data root (default: $LINECONTROL_DATA or ./runs)",
    )
    rec.add_argument(
        "--recipe",
        type=Path,
        default=None,
        metavar="FILE",
        help="recipe run (checked first; gives the tolerance bands)",
    )
    rec.add_argument("--operator", default="", help="operator name, kept with the run")
    rec.add_argument("--roll-id", default="", help="roll id, kept with the run")
    rec.add_argument("--lot-id", default="", help="lot id, kept with the run")
    rec.add_argument(
        "--sample-hz",
        type=seconds,
        default=10.0,
        metavar="HZ",
        help="samples of the whole line per second (default 10)",
    )
    rec.add_argument(
        "--time-scale",
        type=seconds,
        default=1.0,
        metavar="X",
        help="with --sim: simulated seconds per real second (default 1)",
    )
    runtime.add_log_options(rec)
    rec.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from linecontrol.recording import RecordError, RecordOptions, record
    from linecontrol.runlog import RunLogError, data_root

    for flag, value, hi in (
        ("--duration", args.duration, 1e7),
        ("--sample-hz", args.sample_hz, 1000.0),
    ):
        if not (0 < value <= hi):
            error(f"{flag} = {value:g}: must be above 0 and at most {hi:g}")
            return EXIT_BAD_INPUT
    problem = bad_time_scale(args.time_scale)
    if problem is not None:
        error(problem)
        return EXIT_BAD_INPUT
    line = load_line(args.config, need_devices="record")
    if line is None:
        return EXIT_BAD_INPUT
    recipe = None
    if args.recipe is not None:
        from linecontrol.config import load_recipe
        from linecontrol.process import check

        try:
            recipe = load_recipe(args.recipe)
        except InputFileError as exc:
            for p in exc.problems:
                error(f"recipe: {p}")
            return EXIT_BAD_INPUT
        report = check(recipe, line)
        if not report.ok:
            for v in report.errors:
                error(f"recipe {args.recipe}: {v.message}")
            error("the recipe violates the process windows; nothing recorded")
            return EXIT_VIOLATION
    opts = RecordOptions(
        config=args.config,
        line=line,
        duration_s=args.duration,
        data_dir=data_root(args.data_dir),
        sim=args.sim,
        time_scale=args.time_scale,
        sample_hz=args.sample_hz,
        operator=args.operator,
        roll_id=args.roll_id,
        lot_id=args.lot_id,
        recipe=recipe,
        # The simulators log at the same level, into the log file if one is given;
        # otherwise to their stderr, which record reads into its own log.
        sim_log_args=sim_log_args(args),
    )
    try:
        result = asyncio.run(record(opts))
    except RunLogError as exc:
        error(f"{exc}; nothing recorded")
        return EXIT_BAD_INPUT
    except RecordError as exc:
        error(str(exc))
        return EXIT_BAD_INPUT
    run_id, status = result.run_id, result.status
    print(run_id)
    print(result.devices, file=sys.stderr)
    if result.run_log_errors:
        error(
            f"run {run_id}: the run log could not write everything "
            f"({'; '.join(result.run_log_errors)}); what was written is kept and readable"
        )
        return EXIT_RUN_LOG
    if result.crashed:
        error(f"run {run_id} ended: {status}")
        return EXIT_ACQUISITION
    if result.devices_failed:
        error(f"run {run_id} ended: {status}")
        return EXIT_DEVICES
    if status != "ok":
        print(f"run {run_id} ended: {status}", file=sys.stderr)
    return EXIT_OK
