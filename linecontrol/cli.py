"""The ``linecontrol`` command."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from linecontrol import __version__, runtime
from linecontrol.config import DEFAULT_LINE
from linecontrol.errors import InputFileError, UnknownChannel

if TYPE_CHECKING:
    from drivers.spec import ModelSpec
    from linecontrol.config import LineConfig

EXIT_OK = 0
EXIT_VIOLATION = 1
EXIT_BAD_INPUT = 2
EXIT_RUN_LOG = 3  # record: the run log could not write everything; runs: a run unreadable
EXIT_DEVICES = 4  # record: a device never answered, or was not answering at the end
EXIT_ACQUISITION = 5  # record: acquisition stopped on an error of its own


def _load_line(path: Path) -> LineConfig | None:
    """The line config, or None after printing each problem with it."""
    from linecontrol.config import load_line

    try:
        return load_line(path)
    except InputFileError as exc:
        for p in exc.problems:
            print(f"error: line config: {p}", file=sys.stderr)
        return None


def _recipe_check(args: argparse.Namespace) -> int:
    from linecontrol.config import load_recipe
    from linecontrol.process import check, report_json, report_text

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
        # Strict JSON: report_json has already turned non-finite numbers into null.
        json.dump(results, sys.stdout, indent=2, ensure_ascii=False, allow_nan=False, default=str)
        sys.stdout.write("\n")
    else:
        print("\n\n".join(texts))
    return status


def _sim_log_args(args: argparse.Namespace) -> list[str]:
    """The simulators' logging options: the command's own."""
    out = ["--log-level", args.log_level]
    if args.log_file is not None:
        out += ["--log-file", str(args.log_file)]
    return out


TIME_SCALE_MAX = 1e6  # the simulators refuse this time scale and above


def _bad_time_scale(value: float) -> str | None:
    if 0 < value < TIME_SCALE_MAX:
        return None
    return f"--time-scale = {value:g}: must be above 0 and below {TIME_SCALE_MAX:g}"


def _sim(args: argparse.Namespace) -> int:
    import signal

    stop_signals = {signal.SIGINT, signal.SIGTERM}
    # Blocked from here and across the exec: a SIGINT or SIGTERM from now on stays pending
    # until the simulators have their handlers in place (they unblock them), so it stops
    # them cleanly, also one that comes while the input is checked.
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    # Checked here, so that a mistake is named as the user typed it (not in the words of
    # the simulators' own command line).
    problem = _bad_time_scale(args.time_scale)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
    if problem is not None or _load_line(args.config) is None:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        return EXIT_BAD_INPUT
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
        *_sim_log_args(args),
    ]
    sys.stdout.flush()
    os.execv(sys.executable, argv)
    return EXIT_BAD_INPUT  # not reached


def _ascii_commands(spec: ModelSpec, as_json: bool) -> int:
    described = spec.describe()
    cmds = described["commands"]
    if as_json:
        json.dump(described, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return EXIT_OK
    print(f"{spec.model}: {spec.description}")
    w1 = max(len(c["request"]) for c in cmds)
    w2 = max(len(c["answer"]) for c in cmds)
    for c in cmds:
        print(f"  {c['request']:<{w1}}  {c['answer']:<{w2}}  {c['access']:<2}  {c['meaning']}")
    return EXIT_OK


def _models() -> list[str]:
    """Every instrument model ``regmap`` knows (the drivers' registry): Modbus, then ASCII."""
    from drivers.devices import MODELS

    return sorted(MODELS, key=lambda m: (MODELS[m].protocol != "modbus", m))


def _regmap(args: argparse.Namespace) -> int:
    from drivers.devices import MODELS

    model = args.device
    # A model needs no line config; one the user names is read all the same.
    if model not in MODELS or args.line != DEFAULT_LINE:
        line = _load_line(args.line)
        if line is None:
            return EXIT_BAD_INPUT
        dev = line.devices.get(model)
        if dev is None and model not in MODELS:
            known = _models() + sorted(line.devices)
            print(f"error: unknown device {model!r}; known: {', '.join(known)}", file=sys.stderr)
            return EXIT_BAD_INPUT
        if dev is not None:
            model = dev.model
    spec = MODELS[model]
    if spec.regmap is None:
        return _ascii_commands(spec, args.json)
    regmap = spec.regmap
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


def _record(args: argparse.Namespace) -> int:
    import asyncio

    from linecontrol.recording import RecordError, RecordOptions, record
    from linecontrol.runlog import RunLogError, data_root

    for flag, value, hi in (
        ("--duration", args.duration, 1e7),
        ("--sample-hz", args.sample_hz, 1000.0),
    ):
        if not (0 < value <= hi):
            print(f"error: {flag} = {value:g}: must be above 0 and at most {hi:g}", file=sys.stderr)
            return EXIT_BAD_INPUT
    problem = _bad_time_scale(args.time_scale)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    line = _load_line(args.config)
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
                print(f"error: recipe: {p}", file=sys.stderr)
            return EXIT_BAD_INPUT
        report = check(recipe, line)
        if not report.ok:
            for v in report.errors:
                print(f"error: recipe {args.recipe}: {v.message}", file=sys.stderr)
            print(
                "error: the recipe violates the process windows; nothing recorded", file=sys.stderr
            )
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
        sim_log_args=_sim_log_args(args),
    )
    try:
        result = asyncio.run(record(opts))
    except RunLogError as exc:
        print(f"error: {exc}; nothing recorded", file=sys.stderr)
        return EXIT_BAD_INPUT
    except RecordError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    run_id, status = result.run_id, result.status
    print(run_id)
    print(result.devices, file=sys.stderr)
    if result.run_log_errors:
        print(
            f"error: run {run_id}: the run log could not write everything "
            f"({'; '.join(result.run_log_errors)}); what was written is kept and readable",
            file=sys.stderr,
        )
        return EXIT_RUN_LOG
    if result.crashed:
        print(f"error: run {run_id} ended: {status}", file=sys.stderr)
        return EXIT_ACQUISITION
    if result.devices_failed:
        print(f"error: run {run_id} ended: {status}", file=sys.stderr)
        return EXIT_DEVICES
    if status != "ok":
        print(f"run {run_id} ended: {status}", file=sys.stderr)
    return EXIT_OK


def _utc(t_wall: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(t_wall, UTC).isoformat(timespec="milliseconds")


def _runs(args: argparse.Namespace) -> int:
    from linecontrol.acquisition import DeviceReport
    from linecontrol.model import DeviceSummary
    from linecontrol.runlog import (
        DataRootError,
        RunNotFound,
        check_root,
        data_root,
        export,
        find_run,
        list_runs,
        load_events,
        run_listing,
        summarize,
    )

    root = data_root(args.data_dir)
    unreadable = (OSError, ValueError, KeyError, TypeError)
    if args.runs_command == "list" or not Path(args.run).is_dir():
        try:
            check_root(root)
        except DataRootError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
    if args.runs_command == "list":
        runs = list_runs(root)
        if not runs:
            print(f"no runs under {root}")
            return EXIT_OK
        status = EXIT_OK
        print(f"{'run':<24} {'start (UTC)':<20} {'duration':>9} {'rows':>8} {'ch':>4}  status")
        for r in runs:
            try:
                row = run_listing(r)
            except unreadable as exc:
                print(f"error: run {r.name} cannot be read: {exc}", file=sys.stderr)
                status = EXIT_RUN_LOG
                continue
            notes = []
            if row["torn"]:
                notes.append("torn tail")
            if row["corrupt"]:
                notes.append(f"{len(row['corrupt'])} corrupt")
            if row["problems"]:
                notes.append("; ".join(row["problems"]))
            print(
                f"{row['run_id']:<24} {row['start_utc'][:19] + 'Z':<20} {row['duration_s']:>8.1f}s "
                f"{row['rows']:>8} {row['channels']:>4}  {row['exit_status']}"
                + (f" ({'; '.join(notes)})" if notes else "")
            )
        return status
    try:
        run_dir = find_run(root, args.run)
    except RunNotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.runs_command == "show":
        try:
            s = summarize(run_dir)
        except unreadable as exc:
            print(f"error: run {run_dir.name} cannot be read: {exc}", file=sys.stderr)
            return EXIT_RUN_LOG
        if args.json:
            shown = s.as_dict()
            shown["alarms"] = [{**a, "time_utc": _utc(a["t_wall"])} for a in s.alarms]
            json.dump(shown, sys.stdout, indent=2, default=str, ensure_ascii=False)
            sys.stdout.write("\n")
            return EXIT_OK
        print(f"run       {s.run_id} ({run_dir})")
        print(f"status    {s.exit_status}")
        print(f"start     {s.start_utc}")
        print(f"duration  {s.duration_s:.1f} s, {s.rows} samples of {s.channels} channels")
        print(f"produced  {s.metres:.3f} m of web")
        print(
            "events    "
            + (", ".join(f"{k} {v}" for k, v in sorted(s.event_counts.items())) or "none")
        )
        summaries = [
            e.event for e in load_events(run_dir).events if isinstance(e.event, DeviceSummary)
        ]
        if summaries:
            devices = {n: d.model_dump() for n, d in summaries[-1].devices.items()}
            print(DeviceReport(devices).line())
        if s.alarms:
            print(f"alarms    {len(s.alarms)}")
            for a in s.alarms[:20]:
                print(f"  {_utc(a['t_wall'])} {a['type']} {json.dumps(a['data'], default=str)}")
            if len(s.alarms) > 20:
                print(f"  ... {len(s.alarms) - 20} more (runs show --json lists them all)")
        if s.time_in_band:
            print("time in band (GOOD samples within the recipe's tolerance)")
            for ch, b in sorted(s.time_in_band.items()):
                print(
                    f"  {ch:<32} {b['in_band_pct']:6.1f} % ({b['in_band_s']:.1f} s) in "
                    f"{b['low']:g}..{b['high']:g}"
                )
        else:
            print("time in band: no recipe recorded with this run, so no bands")
        bad = {ch: q for ch, q in s.quality.items() if q["STALE"] or q["INVALID"]}
        if bad:
            print("quality   channels with STALE or INVALID samples:")
            for ch, q in sorted(bad.items())[:30]:
                print(
                    f"  {ch:<32} GOOD {q['GOOD']}, STALE {q['STALE']}, INVALID {q['INVALID']}, "
                    f"WAITING {q['WAITING']}"
                )
            if len(bad) > 30:
                print(f"  ... and {len(bad) - 30} more (runs show --json lists all)")
        never = sorted(
            ch
            for ch, q in s.quality.items()
            if q["WAITING"] and not sum(v for k, v in q.items() if k != "WAITING")
        )
        if never:
            print(
                f"waiting   {len(never)} channels never had a value (WAITING throughout): "
                + ", ".join(never[:10])
                + (" ..." if len(never) > 10 else "")
            )
        for t in s.torn:
            print(f"torn      {t}")
        for c in s.corrupt:
            print(f"corrupt   {c}")
        for p in s.problems:
            print(f"problem   {p}")
        return EXIT_OK
    if args.from_s is not None and args.to_s is not None and args.from_s >= args.to_s:
        print(
            f"error: --from {args.from_s:g} must be before --to {args.to_s:g}: the window "
            "[from, to) is half-open, so equal ends select nothing",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    out = args.output or Path(f"{run_dir.name}.{args.format}")
    if out.is_dir():
        print(f"error: -o {out} is a directory; give a file name", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not out.parent.is_dir():
        print(f"error: -o {out}: the folder {out.parent} does not exist", file=sys.stderr)
        return EXIT_BAD_INPUT
    channels = [c for c in args.channels.split(",") if c] if args.channels else None
    try:
        rows = export(run_dir, out, args.format, channels, args.from_s, args.to_s)
    except UnknownChannel as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:
        print(f"error: cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_RUN_LOG
    print(f"{rows} rows written to {out}")
    return EXIT_OK


def _seconds(text: str) -> float:
    import math

    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from exc
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not finite (NaN and infinities are refused)")
    return value


def _require_command(parser: argparse.ArgumentParser, sub: argparse._SubParsersAction) -> None:
    """A command group run without its command says what to type, in the user's words
    (never the parser's internal destination names)."""

    def missing(args: argparse.Namespace) -> int:
        parser.error(f"choose a command: {', '.join(sub.choices)}")

    parser.set_defaults(func=missing)


def _group_option(
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="linecontrol",
        description="Equipment control and data acquisition for roll-to-roll FCCL laminator lines.",
    )
    parser.add_argument("--version", action="version", version=f"linecontrol {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _require_command(parser, sub)

    recipe = sub.add_parser("recipe", help="recipes: check against the process windows")
    rsub = recipe.add_subparsers(dest="recipe_command", metavar="COMMAND")
    _require_command(recipe, rsub)
    chk = rsub.add_parser(
        "check",
        help="check recipes against the seed process windows and the line's limits",
        description="Exit 0: no errors; 1: a recipe violates a rule; 2: a file cannot be read.",
    )
    chk.add_argument("files", nargs="+", type=Path, metavar="FILE", help="recipe files (TOML)")
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
        metavar="CONFIG",
        help=f"line config (default: the embedded {DEFAULT_LINE.name})",
    )
    sim.add_argument(
        "--time-scale",
        type=_seconds,
        default=1.0,
        metavar="X",
        help="simulated seconds per real second (default 1)",
    )
    runtime.add_log_options(sim)
    sim.set_defaults(func=_sim)

    reg = sub.add_parser(
        "regmap",
        help="print an instrument's register map",
        description="Print an instrument's register map (Modbus) or command set (ASCII).",
    )
    reg.add_argument(
        "device",
        metavar="DEVICE",
        help=f"a model ({', '.join(_models())}) or a device name of the line config",
    )
    reg.add_argument(
        "--line",
        type=Path,
        default=DEFAULT_LINE,
        metavar="CONFIG",
        help=f"line config whose device names DEVICE may be (default: the embedded "
        f"{DEFAULT_LINE.name})",
    )
    reg.add_argument("--json", action="store_true", help="machine-readable output")
    reg.set_defaults(func=_regmap)

    rec = sub.add_parser(
        "record",
        help="record a line headless into a run log; prints the run id",
        description="Poll every instrument of the line config at its rate and record the "
        "run (metadata, events, samples) under the data directory.",
    )
    rec.add_argument(
        "--config",
        type=Path,
        default=DEFAULT_LINE,
        metavar="FILE",
        help=f"line config (default: the embedded {DEFAULT_LINE.name})",
    )
    rec.add_argument(
        "--sim",
        action="store_true",
        help="start the simulated line of this config first, stop it after",
    )
    rec.add_argument(
        "--duration",
        type=_seconds,
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
        type=_seconds,
        default=10.0,
        metavar="HZ",
        help="samples of the whole line per second (default 10)",
    )
    rec.add_argument(
        "--time-scale",
        type=_seconds,
        default=1.0,
        metavar="X",
        help="with --sim: simulated seconds per real second (default 1)",
    )
    runtime.add_log_options(rec)
    rec.set_defaults(func=_record)

    runs = sub.add_parser("runs", help="recorded runs: list, show, export")
    rsub2 = runs.add_subparsers(dest="runs_command", metavar="COMMAND")
    _require_command(runs, rsub2)
    lst = rsub2.add_parser("list", help="every run under the data root")
    show = rsub2.add_parser("show", help="duration, channels, alarms, time in band, metres")
    show.add_argument("run", metavar="RUN", help="run id (or a unique prefix, or a path)")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    exp = rsub2.add_parser("export", help="samples as a wide CSV or Parquet table")
    exp.add_argument("run", metavar="RUN", help="run id (or a unique prefix, or a path)")
    exp.add_argument("--format", choices=["csv", "parquet"], required=True, help="file format")
    exp.add_argument(
        "--channels", default=None, help="comma-separated channel names (default: all)"
    )
    exp.add_argument(
        "--from",
        dest="from_s",
        type=_seconds,
        default=None,
        metavar="S",
        help="seconds from the run start (default: its start)",
    )
    exp.add_argument(
        "--to",
        dest="to_s",
        type=_seconds,
        default=None,
        metavar="S",
        help="seconds from the run start, excluded (default: its end)",
    )
    exp.add_argument(
        "--output",
        "-o",
        type=Path,
        default=None,
        metavar="FILE",
        help="output file (default: RUN_ID.FORMAT here)",
    )
    for cmd in (lst, show, exp):
        cmd.set_defaults(func=_runs)
    _group_option(
        runs,
        (lst, show, exp),
        "--data-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="data root (default: $LINECONTROL_DATA or ./runs)",
    )
    return parser


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
                print(f"error: --log-file {log_file}: {exc.strerror or exc}", file=sys.stderr)
                return EXIT_BAD_INPUT
            try:
                return int(args.func(args))
            except BrokenPipeError:
                # Output piped into a command that stopped reading (| head): not an error.
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                return EXIT_OK
    except KeyboardInterrupt:
        # Also one that lands while winding down, after the command's own handlers
        # are gone (Ctrl-C held through the end of a record): no traceback.
        return 130


if __name__ == "__main__":
    sys.exit(main())
