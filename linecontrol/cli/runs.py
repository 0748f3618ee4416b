"""``linecontrol runs list | show | export | report | trace``: the recorded runs under the
data root (``report`` and ``trace``: ``linecontrol.cli.report``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from linecontrol.cli.options import group_option, require_command, seconds
from linecontrol.cli.output import EXIT_BAD_INPUT, EXIT_OK, EXIT_RUN_LOG, error, utc, write_json
from linecontrol.cli.rundir import UNREADABLE, named_run, root_ok
from linecontrol.errors import UnknownChannel

if TYPE_CHECKING:
    from linecontrol.runlog import RunSummary



def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    runs = sub.add_parser("runs", help="recorded runs: list, show, export, report, trace")
    rsub = runs.add_subparsers(dest="runs_command", metavar="COMMAND")
    require_command(runs, rsub)
    lst = rsub.add_parser("list", help="every run under the data root")
    lst.set_defaults(func=list_runs)
    show = rsub.add_parser("show", help="duration, channels, alarms, time in band, metres")
    show.add_argument("run", metavar="RUN", help="run id (or a unique prefix, or a path)")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.set_defaults(func=show_run)
    exp = rsub.add_parser("export", help="samples as a wide CSV or Parquet table")
    exp.add_argument("run", metavar="RUN", help="run id (or a unique prefix, or a path)")
    exp.add_argument("--format", choices=["csv", "parquet"], required=True, help="file format")
    exp.add_argument(
        "--channels", default=None, help="comma-separated channel names (default: all)"
    )
    exp.add_argument(
        "--from",
        dest="from_s",
        type=seconds,
        default=None,
        metavar="S",
        help="seconds from the run start (default: its start)",
    )
    exp.add_argument(
        "--to",
        dest="to_s",
        type=seconds,
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
    exp.set_defaults(func=export_run)
    from linecontrol.cli import report

    group_option(
        runs,
        (lst, show, exp, *report.add_parsers(rsub)),
        "--data-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="data root (default: $LINECONTROL_DATA or ./runs)",
    )


def list_runs(args: argparse.Namespace) -> int:
    from linecontrol.runlog import data_root, list_runs, run_listing

    root = data_root(args.data_dir)
    if not root_ok(root):
        return EXIT_BAD_INPUT
    runs = list_runs(root)
    if not runs:
        print(f"no runs under {root}")
        return EXIT_OK
    status = EXIT_OK
    print(f"{'run':<24} {'start (UTC)':<20} {'duration':>9} {'rows':>8} {'ch':>4}  status")
    for r in runs:
        try:
            shown = _listing_line(run_listing(r))
        except UNREADABLE as exc:
            error(f"run {r.name} cannot be read: {exc}")
            status = EXIT_RUN_LOG
            continue
        print(shown)
    return status


def _listing_line(row: dict[str, Any]) -> str:
    """One row of ``runs list``; ``TypeError``/``ValueError`` for a listing whose fields
    are not what a summary holds (a crafted ``summary.json`` that passes its CRC)."""
    notes = []
    if row["torn"]:
        notes.append("torn tail")
    if row["corrupt"]:
        notes.append(f"{len(row['corrupt'])} corrupt")
    if row["problems"]:
        notes.append("; ".join(row["problems"]))
    return (
        f"{row['run_id']:<24} {row['start_utc'][:19] + 'Z':<20} {row['duration_s']:>8.1f}s "
        f"{row['rows']:>8} {row['channels']:>4}  {row['exit_status']}"
        + (f" ({'; '.join(notes)})" if notes else "")
    )


def show_run(args: argparse.Namespace) -> int:
    from linecontrol.runlog import summarize

    run_dir = named_run(args)
    if run_dir is None:
        return EXIT_BAD_INPUT
    try:
        s = summarize(run_dir)
    except UNREADABLE as exc:
        error(f"run {run_dir.name} cannot be read: {exc}")
        return EXIT_RUN_LOG
    if args.json:
        shown = s.as_dict()
        shown["alarms"] = [{**a, "time_utc": utc(a["t_wall"])} for a in s.alarms]
        write_json(shown, default=str)
        return EXIT_OK
    _show_text(s, run_dir)
    return EXIT_OK


def _show_text(s: RunSummary, run_dir: Path) -> None:
    from linecontrol.acquisition import DeviceReport
    from linecontrol.model import DeviceSummary
    from linecontrol.runlog import load_events

    print(f"run       {s.run_id} ({run_dir})")
    print(f"status    {s.exit_status}")
    print(f"start     {s.start_utc}")
    print(f"duration  {s.duration_s:.1f} s, {s.rows} samples of {s.channels} channels")
    if s.speedup != 1.0:
        print(
            f"clock     the line's clock ran {s.speedup:g}x real time (a simulated run): "
            "durations and times after the start are process time"
        )
    print(f"produced  {s.metres:.3f} m of web")
    print(
        "events    " + (", ".join(f"{k} {v}" for k, v in sorted(s.event_counts.items())) or "none")
    )
    summaries = [e.event for e in load_events(run_dir).events if isinstance(e.event, DeviceSummary)]
    if summaries:
        devices = {n: d.model_dump() for n, d in summaries[-1].devices.items()}
        print(DeviceReport(devices).line())
    if s.alarms:
        print(
            f"alarms    {len(s.alarms)} (events that are alarms: alarms raised, interlocks "
            "tripped, setpoints failed, devices failing)"
        )
        for a in s.alarms[:20]:
            print(f"  {utc(a['t_wall'])} {a['type']} {json.dumps(a['data'], default=str)}")
        if len(s.alarms) > 20:
            print(f"  ... {len(s.alarms) - 20} more (runs show --json lists them all)")
    if s.time_in_band:
        print("time in band (GOOD samples within the recipe's tolerance)")
        for ch, b in sorted(s.time_in_band.items()):
            print(
                f"  {ch:<32} {b['in_band_pct']:6.1f} % ({b['in_band_s']:.1f} s) in "
                f"{b['low']:g}..{b['high']:g}"
            )
    elif not s.recipe_recorded:
        print("time in band: no recipe recorded with this run, so no bands")
    elif any(p.startswith("time in band") for p in s.problems):
        print("time in band: none for the recorded recipe (see the problems below)")
    else:
        print("time in band: none, no channel bound by the recorded recipe has samples")
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


def export_run(args: argparse.Namespace) -> int:
    from linecontrol.runlog import export

    run_dir = named_run(args)
    if run_dir is None:
        return EXIT_BAD_INPUT
    if args.from_s is not None and args.to_s is not None and args.from_s >= args.to_s:
        error(
            f"--from {args.from_s:g} must be before --to {args.to_s:g}: the window "
            "[from, to) is half-open, so equal ends select nothing"
        )
        return EXIT_BAD_INPUT
    out = args.output or Path(f"{run_dir.name}.{args.format}")
    if out.is_dir():
        error(f"-o {out} is a directory; give a file name")
        return EXIT_BAD_INPUT
    if not out.parent.is_dir():
        error(f"-o {out}: the folder {out.parent} does not exist")
        return EXIT_BAD_INPUT
    channels = [c for c in args.channels.split(",") if c] if args.channels else None
    try:
        rows = export(run_dir, out, args.format, channels, args.from_s, args.to_s)
    except UnknownChannel as exc:
        error(str(exc))
        return EXIT_BAD_INPUT
    except OSError as exc:
        error(f"cannot write {out}: {exc.strerror or exc}")
        return EXIT_RUN_LOG
    print(f"{rows} rows written to {out}")
    return EXIT_OK
