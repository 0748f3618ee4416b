"""A report rendered: the strip charts with matplotlib (the Agg backend: no display),
the HTML from a jinja2 template with every picture embedded as a ``data:`` URI (one
self-contained file: it fetches nothing), and the PDF with fpdf2 (pure Python: the
same tables as text and the same charts as pictures, a font matplotlib ships for
the units' characters). ``tables`` is what both show, as plain rows of text."""

from __future__ import annotations

import base64
import io
import json
import math
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # before pyplot: never a display

import jinja2
import numpy as np
from matplotlib.figure import Figure

from linecontrol.report.figures import (
    Capability,
    InBand,
    ParamFigures,
    Report,
    Trace,
    pareto,
    values_of,
)

PER_FIGURE = 6  # strip charts per picture (a PDF page each)
MAX_POINTS = 3000  # drawn per chart: longer series are drawn as their min/max envelope
STATE_COLOURS = {
    "Held": "#f5b041",
    "Holding": "#f8c471",
    "Stopped": "#bfbfbf",
    "Stopping": "#d5d5d5",
    "Aborted": "#e74c3c",
    "Aborting": "#f1948a",
    "Suspended": "#f7dc6f",
    "Suspending": "#f9e79f",
}
OTHER_STATE = "#aed6f1"  # Idle, Starting, Resetting, ...: neither Execute nor a stop
TEMPLATE = Path(__file__).with_name("report.html.j2")


def utc(t_wall: float) -> str:
    return datetime.fromtimestamp(t_wall, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def num(v: float | None, fmt: str = ".4g") -> str:
    if v is None or not math.isfinite(v):
        return "-"
    return format(v, fmt)


def wall_at(report: Report, t: float) -> float:
    run = report.run
    if len(run.t) == 0:
        return run.start_wall
    return float(np.interp(t, run.t, run.t_wall))


# ------------------------------------------------------------------ tables
@dataclass(frozen=True)
class Tables:
    summary: list[tuple[str, str]]
    params: list[dict[str, str]]
    capability: list[dict[str, str]]
    stops: list[dict[str, str]]
    pareto: list[dict[str, str]]
    actions: list[dict[str, str]]
    alarms: list[dict[str, str]]
    metres: list[dict[str, str]]
    rule_check: list[str]
    notes: list[str]
    recipe: str  # the recipe as meta.json recorded it (indented JSON), "" without one


def _band_cells(ib: InBand | None, prefix: str) -> dict[str, str]:
    if ib is None:
        return {f"{prefix}_pct": "-", f"{prefix}_metres": "-", f"{prefix}_longest": "-"}
    ex = ib.longest
    longest = "none"
    if ex is not None:
        longest = (
            f"metres {ex.metre_from:g}..{ex.metre_to:g} ({ex.metres} m, "
            f"{ex.duration_s:.0f} s, worst {ex.worst:.4g})"
        )
    return {
        f"{prefix}_pct": f"{ib.in_pct:.1f} % ({ib.in_s:.0f} of {ib.execute_s:.0f} s)",
        f"{prefix}_metres": f"{ib.metres_in} in, {ib.metres_out} out, {ib.metres_unknown} unknown",
        f"{prefix}_longest": longest,
    }


def _cap_cells(c: Capability | None) -> str:
    if c is None:
        return "none (no such limits)"
    if c.cpk is None or c.ppk is None:
        return f"no figure: {c.why_none}"
    note = " (indicative: few segments)" if c.indicative else ""
    return f"Cpk {c.cpk:.2f}, Ppk {c.ppk:.2f} over {c.segments} segments{note}"


def metre_runs(report: Report) -> list[tuple[int, int, int, str]]:
    """Consecutive whole metres of one status and reason: (from, to, status, reason)."""
    out: list[tuple[int, int, int, str]] = []
    first = report.metre_first
    for k, (s, r) in enumerate(zip(report.metre_status, report.metre_reasons, strict=True)):
        if out and out[-1][2] == int(s) and out[-1][3] == r and out[-1][1] == first + k:
            a, _, st, rr = out[-1]
            out[-1] = (a, first + k + 1, st, rr)
        else:
            out.append((first + k, first + k + 1, int(s), r))
    return out


def tables(report: Report) -> Tables:
    run = report.run
    t0 = float(run.t[0]) if len(run.t) else 0.0
    t1 = float(run.t[-1]) if len(run.t) else 0.0
    lo, hi = report.metre_range
    summary = [
        ("run", run.run_id),
        ("roll / lot", f"{run.roll_id or '-'} / {run.lot_id or '-'}"),
        ("operator", run.operator or "-"),
        ("start", utc(run.start_wall)),
        ("duration", f"{t1 - t0:.0f} s of the line's clock"),
        ("exit status", run.exit_status),
        ("recipe", f"{report.recipe_name or '-'}"),
        ("recipe SHA-256", f"{report.recipe_hash or '-'} ({report.recipe_hash_of})"),
        ("web positions", f"{lo:.3f} to {hi:.3f} m at the reference point"),
        ("reference point", report.reference),
        ("produced", f"{report.produced_m:.3f} m ({len(report.metre_status)} whole metres judged)"),
        ("fit for use", f"{report.fit_m} m"),
        ("not fit", f"{report.not_fit_m} m"),
        ("unknown", f"{report.unknown_m} m (no GOOD data, or not through every station)"),
    ]
    if run.speedup != 1.0:
        summary.insert(5, ("clock", f"the line's clock ran {run.speedup:g}x real time "
                                    "(a simulated run): times are process time"))  # fmt: skip
    params = []
    caps = []
    for pf in report.params:
        p = pf.param
        row = {
            "param": p.label,
            "unit": p.unit,
            "station": p.station,
            "distance": _distance(p.distance_m, p.length_m),
            "band": f"{p.band[0]:.4g}..{p.band[1]:.4g}" if p.band else "none",
            "window": p.window.text(p.unit) if p.window else (p.no_window or "none"),
            "source": p.window.source if p.window else "",
        }
        row.update(_band_cells(pf.band, "b"))
        row.update(_band_cells(pf.window, "w"))
        params.append(row)
        caps.append({
            "param": p.label,
            "band": _cap_cells(pf.capability_band),
            "window": _cap_cells(pf.capability_window),
            "mean": num(_mean(pf)),
        })  # fmt: skip
    stops = [
        {
            "state": s.state,
            "from": f"t{s.t_from - t0:+.0f} s ({utc(wall_at(report, s.t_from))})",
            "duration": f"{s.duration_s:.0f} s",
            "cause": s.cause,
            "by": s.by or "-",
            "first_out": s.first_out or "-",
        }
        for s in report.stops
    ]
    par = [{"cause": c, "count": str(n), "total": f"{d:.0f} s"} for c, n, d in pareto(report.stops)]
    actions = [
        {
            "when": utc(a.t_wall),
            "by": a.by or "-",
            "what": a.command + (f" ({a.detail})" if a.detail else ""),
            "reason": a.reason or "-",
            "result": a.result,
        }
        for a in report.actions
    ]
    alarms = [
        {
            "when": f"t{m.t - t0:+.0f} s",
            "alarm": m.alarm,
            "priority": m.priority + (" (critical)" if m.critical else ""),
            "value": num(m.value),
            "where": f"{m.station or '-'}, metre {num(m.metre, '.2f')}",
        }
        for m in report.alarms
    ]
    names = {1: "fit", 0: "not fit", -1: "unknown"}
    metres = [
        {"from": str(a), "to": str(b), "status": names[s], "reason": r or "-"}
        for a, b, s, r in metre_runs(report)
    ]
    recipe = "" if run.recipe_data is None else json.dumps(run.recipe_data, indent=1, default=str)
    return Tables(summary, params, caps, stops, par, actions, alarms, metres,
                  report.rule_check, report.notes, recipe)  # fmt: skip


def _distance(d: float, length: float) -> str:
    return f"{d:g}..{d + length:g}" if length else f"{d:g}"


def _mean(pf: ParamFigures) -> float | None:
    c = pf.capability_window or pf.capability_band
    return c.mean if c is not None else None


# ------------------------------------------------------------------ charts
def _envelope(x: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(x)
    per = math.ceil(n / MAX_POINTS)
    m = n // per
    xs = x[: m * per].reshape(m, per)
    vs = v[: m * per].reshape(m, per)
    # A stretch without GOOD data is an all-NaN slice: a gap in the picture, no warning.
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(xs, axis=1), np.nanmin(vs, axis=1), np.nanmax(vs, axis=1)


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return buf.getvalue()


def strip_charts(report: Report) -> list[bytes]:
    """PNG pictures of the strip charts, ``PER_FIGURE`` a picture: each parameter's GOOD
    values against product metres (its station's transport delay applied), its control
    band shaded, its process window dashed, the PackML states other than Execute as
    bands and the alarms raised as red lines, both where they were at that station; the
    first picture opens with the metres' fitness."""
    run, pos = report.run, report.pos
    lo, hi = report.metre_range
    spans = [(s, s.state) for s in report.states if s.state != "Execute"]
    pics: list[bytes] = []
    groups = [report.params[i : i + PER_FIGURE] for i in range(0, len(report.params), PER_FIGURE)]
    for g, group in enumerate(groups or [[]]):
        rows = len(group) + (1 if g == 0 else 0)
        fig = Figure(figsize=(11, 1.0 + 1.55 * max(rows, 1)))
        axes = fig.subplots(max(rows, 1), 1, sharex=True, squeeze=False)[:, 0]
        k = 0
        if g == 0:
            ax = axes[0]
            st = report.metre_status.astype(float)
            cmap = matplotlib.colors.ListedColormap(["#bfbfbf", "#e74c3c", "#27ae60"])
            if len(st):
                ax.imshow(st[None, :] + 1, aspect="auto", cmap=cmap, vmin=0, vmax=2,
                          extent=(report.metre_first, report.metre_first + len(st), 0, 1),
                          interpolation="nearest")  # fmt: skip
            ax.set_yticks([])
            ax.set_ylabel("fit", rotation=0, ha="right", va="center")
            ax.set_title("fitness per metre: green fit, red not fit, grey unknown", fontsize=9,
                         loc="left")  # fmt: skip
            k = 1
        for pf, ax in zip(group, axes[k:], strict=True):
            p = pf.param
            v, good = values_of(run, p)
            x = pos - p.distance_m
            y = np.where(good, v, np.nan)
            finite = np.isfinite(x)
            x, y = x[finite], y[finite]
            for s, state in spans:
                a = _pos_at(report, s.t_from) - p.distance_m
                b = _pos_at(report, s.t_to) - p.distance_m
                if b > a:
                    ax.axvspan(a, b, color=STATE_COLOURS.get(state, OTHER_STATE), alpha=0.5,
                               lw=0)  # fmt: skip
                else:
                    ax.axvline(a, color=STATE_COLOURS.get(state, OTHER_STATE), lw=2, alpha=0.8)
            if p.band is not None:
                ax.axhspan(p.band[0], p.band[1], color="#27ae60", alpha=0.15, lw=0)
            if p.window is not None:
                for edge in (p.window.low, p.window.high):
                    if math.isfinite(edge):
                        ax.axhline(edge, color="#c0392b", ls="--", lw=0.8)
            if len(x) > MAX_POINTS:
                xm, ymin, ymax = _envelope(x, y)
                ax.fill_between(xm, ymin, ymax, color="#1f4e79", lw=0.6, step="mid")
            else:
                ax.step(x, y, where="post", color="#1f4e79", lw=1.0)
            for m in report.alarms:
                ax.axvline(_pos_at(report, m.t) - p.distance_m, color="#e74c3c", lw=0.9)
            _ylim(ax, y, p)
            ax.set_ylabel(p.unit, fontsize=8)
            ax.set_title(f"{p.label} at {p.station} ({p.distance_m:g} m)", fontsize=9,
                         loc="left")  # fmt: skip
            ax.tick_params(labelsize=8)
        axes[-1].set_xlabel("metre of product (web position at the unwind - path distance)")
        if hi > lo:
            axes[-1].set_xlim(lo, hi)
        fig.tight_layout()
        pics.append(_png(fig))
    return pics


def _ylim(ax: Any, y: np.ndarray, p: Any) -> None:
    vals = y[np.isfinite(y)]
    if not len(vals):
        ax.text(0.5, 0.5, "no GOOD value", transform=ax.transAxes, ha="center", va="center")
        return
    a, b = float(vals.min()), float(vals.max())
    if p.band is not None:
        a, b = min(a, p.band[0]), max(b, p.band[1])
    pad = (b - a) * 0.08 or max(abs(a) * 0.05, 1.0)
    ax.set_ylim(a - pad, b + pad)


def _pos_at(report: Report, t: float) -> float:
    run, pos = report.run, report.pos
    if len(pos) == 0:
        return 0.0
    i = int(np.searchsorted(run.t, t, side="right")) - 1
    i = min(max(i, 0), len(pos) - 1)
    p = float(pos[i])
    return p if math.isfinite(p) else 0.0


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


# ------------------------------------------------------------------ HTML and PDF
def render_html(report: Report, pictures: list[bytes] | None = None) -> str:
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    template = env.from_string(TEMPLATE.read_text(encoding="utf-8"))
    pics = strip_charts(report) if pictures is None else pictures
    return template.render(
        r=report, t=tables(report), pictures=[data_uri(p) for p in pics], caveat=report.caveat
    )


def _font(pdf: Any) -> str:
    fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    pdf.add_font("dejavu", "", str(fonts / "DejaVuSans.ttf"))
    pdf.add_font("dejavu", "B", str(fonts / "DejaVuSans-Bold.ttf"))
    return "dejavu"


def render_pdf(report: Report, pictures: list[bytes] | None = None) -> bytes:
    from fpdf import FPDF

    t = tables(report)
    pics = strip_charts(report) if pictures is None else pictures
    pdf = FPDF(orientation="landscape", format="A4")
    pdf.set_auto_page_break(True, margin=12)
    font = _font(pdf)

    def heading(text: str) -> None:
        pdf.set_font(font, "B", 12)
        pdf.cell(0, 8, text, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(font, "", 8)

    def para(text: str) -> None:
        pdf.multi_cell(0, 4.5, text, new_x="LMARGIN", new_y="NEXT")

    def table(rows: list[dict[str, str]], cols: list[tuple[str, str]]) -> None:
        if not rows:
            para("none")
            return
        with pdf.table(text_align="LEFT", line_height=4.5) as tab:
            head = tab.row()
            for _, title in cols:
                head.cell(title)
            for r in rows:
                row = tab.row()
                for key, _ in cols:
                    row.cell(r[key])
        pdf.ln(2)

    pdf.add_page()
    heading(f"Run report {report.run.run_id}")
    table([{"k": k, "v": v} for k, v in t.summary], [("k", ""), ("v", "")])
    for png in pics:
        pdf.add_page()
        pdf.image(io.BytesIO(png), x=10, y=10, w=277 * 0.7)
    pdf.add_page()
    heading("Time and metres in band")
    table(t.params, [("param", "parameter"), ("station", "station"), ("band", "control band"),
                     ("b_pct", "time in band"), ("b_metres", "metres (band)"),
                     ("b_longest", "longest excursion (band)"), ("window", "process window"),
                     ("w_pct", "time in window"), ("w_metres", "metres (window)"),
                     ("w_longest", "longest excursion (window)")])  # fmt: skip
    heading("Capability over segment means")
    para(report.caveat)
    table(t.capability, [("param", "parameter"), ("mean", "mean"), ("band", "control band"),
                         ("window", "process window")])  # fmt: skip
    heading("Stops")
    table(t.stops, [("state", "state"), ("from", "from"), ("duration", "duration"),
                    ("cause", "cause"), ("by", "by"), ("first_out", "first out")])  # fmt: skip
    table(t.pareto, [("cause", "cause"), ("count", "stops"), ("total", "total")])
    heading("Operator actions")
    table(t.actions, [("when", "when"), ("by", "who"), ("what", "what"), ("reason", "reason"),
                      ("result", "result")])  # fmt: skip
    heading("Alarms raised")
    table(t.alarms, [("when", "when"), ("alarm", "alarm"), ("priority", "priority"),
                     ("value", "value"), ("where", "where")])  # fmt: skip
    heading("Product metres")
    table(t.metres, [("from", "from"), ("to", "to"), ("status", "status"),
                     ("reason", "why")])  # fmt: skip
    heading("Recipe rule check")
    para("\n".join(t.rule_check) or "every rule passes")
    if t.recipe:
        heading(f"Recipe {report.recipe_name}, SHA-256 {report.recipe_hash}")
        para(t.recipe)
    if t.notes:
        heading("Notes")
        para("\n".join(t.notes))
    return bytes(pdf.output())


def trace_text(tr: Trace, t0: float) -> list[str]:
    names = {1: "inside", 0: "OUTSIDE", -1: "unknown", None: "-"}
    fit = {1: "fit for use", 0: "NOT fit for use", -1: "unknown"}[tr.status]
    lines = [f"metre {tr.metre:g}: {fit}" + (f" ({tr.reason})" if tr.reason else "")]
    for r in tr.rows:
        p = r.param
        when = "not reached" if r.arrived_t is None else f"t{r.arrived_t - t0:+.0f} s"
        res = f", {r.residence_s / 60.0:.2f} min in the zone" if r.residence_s is not None else ""
        speed = f", speed {r.speed_m_min:.4g} m/min" if r.speed_m_min is not None else ""
        vals = (
            f"{num(r.low)}..{num(r.high)} (mean {num(r.mean)}) {p.unit}"
            if r.mean is not None else "no GOOD value"
        )  # fmt: skip
        bad = f", {r.not_good} samples not GOOD" if r.not_good else ""
        lines.append(
            f"  {p.station:<18} {p.label:<44} at {when}{res}{speed}: {vals}{bad}; "
            f"band {names[r.in_band]}, window {names[r.in_window]}"
        )
    return lines
