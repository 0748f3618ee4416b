"""``linecontrol run``: run a recipe headless from Stopped to Complete (or its first fault)."""

from __future__ import annotations

import argparse
import sys

from linecontrol import runtime
from linecontrol.cli.options import (
    DEFAULT_RECIPE,
    SIM_SPEEDUP_HELP,
    SignalledEarly,
    data_dir_option,
    early_stop_signals,
    line_option,
    recipe_option,
    seconds,
    sim_log_args,
    speedup_option,
    supervised_line,
)
from linecontrol.cli.output import EXIT_BAD_INPUT, EXIT_OK, EXIT_RUN_LOG, error
from linecontrol.errors import InputFileError

EXIT_NOT_COMPLETE = 6  # run: the line did not reach Complete (a fault, a signal, the deadline)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "run",
        help="run a recipe headless from Stopped to Complete; prints the run id",
        description="Load the recipe (it must pass the process rules), Reset and Start, and "
        "run until Complete or the first fault (Held, Stopped, Aborted); the run is logged "
        f"under the data directory. Exit 0: Complete; {EXIT_NOT_COMPLETE}: it ended "
        "otherwise (the first-out cause is printed); 2: bad input; 3: the run log failed.",
    )
    recipe_option(p, DEFAULT_RECIPE, "the recipe, a TOML file")
    line_option(p, "--config", "FILE", "line config")
    p.add_argument(
        "--sim", action="store_true", help="run against the simulated line of the config"
    )
    speedup_option(p, 1.0, SIM_SPEEDUP_HELP)
    p.add_argument(
        "--deadline",
        type=seconds,
        default=None,
        metavar="S",
        help="real seconds after which a run not yet ended is stopped (default: none)",
    )
    data_dir_option(p)
    p.add_argument(
        "--clear",
        action="store_true",
        help="after an unclean stop (the machine boots into Aborted), give Clear before the "
        "run; without it such a run starts nothing",
    )
    p.add_argument("--operator", default="", help="operator name, kept with the run")
    p.add_argument("--roll-id", default="", help="roll id, kept with the run")
    p.add_argument("--lot-id", default="", help="lot id, kept with the run")
    runtime.add_log_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        with early_stop_signals("anything started"):
            return _run(args)
    except SignalledEarly:
        error("stopped by a signal before anything started; nothing run")
        return EXIT_NOT_COMPLETE


def _run(args: argparse.Namespace) -> int:
    import asyncio

    from linecontrol.recording import (
        RecipeRefusedError,
        RecordError,
        RunOptions,
        StoppedBeforeStart,
        SupervisorRunning,
        run_recipe,
    )
    from linecontrol.runlog import RunLogError, data_root

    def bad_deadline() -> str | None:
        if args.deadline is not None and not args.deadline > 0:
            return f"--deadline = {args.deadline:g}: must be above 0"
        return None

    line = supervised_line(args.config, args.speedup, args.sim, "run", bad_deadline)
    if line is None:
        return EXIT_BAD_INPUT
    opts = RunOptions(
        config=args.config,
        line=line,
        recipe=args.recipe,
        data_dir=data_root(args.data_dir),
        sim=args.sim,
        speedup=args.speedup,
        operator=args.operator,
        roll_id=args.roll_id,
        lot_id=args.lot_id,
        deadline_s=args.deadline,
        clear_abort=args.clear,
        sim_log_args=sim_log_args(args),
    )
    try:
        result = asyncio.run(run_recipe(opts))
    except InputFileError as exc:
        for p in exc.problems:
            error(f"recipe: {p}")
        return EXIT_BAD_INPUT
    except RecipeRefusedError as exc:
        for problem in exc.problems:
            error(f"recipe {exc.path}: {problem}")
        error("nothing run")
        return EXIT_BAD_INPUT
    except SupervisorRunning as exc:
        error(f"{exc}; nothing run")
        return EXIT_BAD_INPUT
    except StoppedBeforeStart as exc:
        error(f"{exc}; nothing run")
        return EXIT_NOT_COMPLETE
    except RunLogError as exc:
        error(f"{exc}; nothing run")
        return EXIT_BAD_INPUT
    except RecordError as exc:
        error(str(exc))
        return EXIT_BAD_INPUT
    print(result.run_id)
    print(f"run {result.run_id}: {result.status} ({' -> '.join(result.states)})", file=sys.stderr)
    if result.run_log_errors:
        error(
            f"run {result.run_id}: the run log could not write everything "
            f"({'; '.join(result.run_log_errors)}); what was written is kept and readable"
        )
        return EXIT_RUN_LOG
    return EXIT_OK if result.final_state == "Complete" else EXIT_NOT_COMPLETE
