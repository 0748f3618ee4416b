"""``linecontrol runs report RUN`` and ``linecontrol runs trace RUN --metre M``: a run's
report as one self-contained HTML or PDF file, and what each station did to one metre
of its product (``linecontrol.report``)."""

from __future__ import annotations

import argparse
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

from linecontrol.cli.options import seconds
from linecontrol.cli.output import EXIT_BAD_INPUT, EXIT_OK, EXIT_RUN_LOG, error, write_json
from linecontrol.cli.rundir import UNREADABLE, named_run

FORMATS = ("html", "pdf")


def segment_metres(text: str) -> float:
    value = seconds(text)
    if value < 1.0:
        raise argparse.ArgumentTypeError(f"{text!r}: a segment is at least 1 m long")
    return value


def add_parsers(
    rsub: argparse._SubParsersAction[argparse.ArgumentParser],
) -> tuple[argparse.ArgumentParser, ...]:
    rep = rsub.add_parser(
        "report",
        help="a run's report: per-metre map, time in band, capability, stops, fitness for use",
    )
    rep.add_argument("run", metavar="RUN", help="run id (or a unique prefix, or a path)")
    rep.add_argument(
        "-o", "--output", type=Path, default=None, metavar="FILE",
        help="output file (default: RUN_ID.html or RUN_ID.pdf here)",
    )  # fmt: skip
    rep.add_argument(
        "--format", choices=FORMATS, default=None,
        help="html (default, or from the -o suffix) or pdf",
    )  # fmt: skip
    rep.add_argument(
        "--segment-m", type=segment_metres, default=10.0, metavar="N",
        help="segment length for the capability figures, in metres (default 10)",
    )  # fmt: skip
    rep.set_defaults(func=report_run)
    tr = rsub.add_parser("trace", help="what each station did to one metre of product")
    tr.add_argument("run", metavar="RUN", help="run id (or a unique prefix, or a path)")
    tr.add_argument(
        "--metre", type=seconds, required=True, metavar="M",
        help="the metre of product (the web position at the unwind when it left it)",
    )  # fmt: skip
    tr.add_argument("--json", action="store_true", help="machine-readable output")
    tr.set_defaults(func=trace_run)
    return rep, tr


def _report(args: argparse.Namespace, segment_m: float) -> tuple[Any, int]:
    """The run's report, or None and the exit code after saying why not."""
    from linecontrol.report import compute, load_run

    run_dir = named_run(args)
    if run_dir is None:
        return None, EXIT_BAD_INPUT
    try:
        return compute(load_run(run_dir), segment_m), EXIT_OK
    except UNREADABLE as exc:
        error(f"run {run_dir.name} cannot be read: {exc}")
        return None, EXIT_RUN_LOG


def report_run(args: argparse.Namespace) -> int:
    from linecontrol.report import render_html, render_pdf

    fmt = args.format
    if fmt is None:
        suffix = args.output.suffix.lower().lstrip(".") if args.output else ""
        fmt = suffix if suffix in FORMATS else "html"
    out: Path | None = args.output
    if out is not None and out.is_dir():
        error(f"-o {out} is a directory; give a file name")
        return EXIT_BAD_INPUT
    if out is not None and not out.parent.is_dir():
        error(f"-o {out}: the folder {out.parent} does not exist")
        return EXIT_BAD_INPUT
    report, code = _report(args, args.segment_m)
    if report is None:
        return int(code)
    out = out or Path(f"{report.run.run_id}.{fmt}")
    try:
        if fmt == "pdf":
            out.write_bytes(render_pdf(report))
        else:
            out.write_text(render_html(report), encoding="utf-8")
    except OSError as exc:
        error(f"cannot write {out}: {exc.strerror or exc}")
        return EXIT_RUN_LOG
    print(
        f"report of {report.run.run_id} written to {out}: {report.produced_m:.3f} m produced, "
        f"{report.fit_m} m fit for use, {report.not_fit_m} m not fit, "
        f"{report.unknown_m} m unknown"
    )
    return EXIT_OK


def _clean(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, float) and math.isinf(obj):
        return None  # an open window edge
    return obj


def trace_run(args: argparse.Namespace) -> int:
    from linecontrol.report import ReportInputError, trace, trace_text

    report, code = _report(args, 10.0)
    if report is None:
        return int(code)
    try:
        tr = trace(report, args.metre)
    except ReportInputError as exc:
        error(str(exc))
        return EXIT_BAD_INPUT
    t0 = float(report.run.t[0]) if len(report.run.t) else 0.0
    if args.json:
        rows = []
        for r in tr.rows:
            d = asdict(r)
            p = d.pop("param")
            d.update(
                channel=p["channel"], label=p["label"], unit=p["unit"], station=p["station"],
                distance_m=p["distance_m"], length_m=p["length_m"], band=p["band"],
                window=p["window"],
                arrived_s=None if r.arrived_t is None else r.arrived_t - t0,
                left_s=None if r.left_t is None else r.left_t - t0,
            )  # fmt: skip
            rows.append(d)
        status = {1: "fit", 0: "not fit", -1: "unknown"}[tr.status]
        write_json(_clean({
            "run_id": report.run.run_id, "metre": tr.metre, "status": status,
            "reason": tr.reason, "produced": list(tr.produced), "reference": report.reference,
            "stations": rows,
        }))  # fmt: skip
        return EXIT_OK
    print(f"run {report.run.run_id}; metres are web positions at {report.reference}")
    for line in trace_text(tr, t0):
        print(line)
    return EXIT_OK
