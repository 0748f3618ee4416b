"""Rendering recipe check reports for people (text) and programs (JSON)."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from linecontrol.config import ROUTES
from linecontrol.process.rules import Report, Violation, fmt


def strict_json(node: Any, path: str, non_finite: dict[str, str]) -> Any:
    """``node`` with every non-finite float replaced by None (JSON has no NaN or
    infinity); each one is recorded in ``non_finite`` by its path ("inf", "-inf", "nan")."""
    if isinstance(node, dict):
        return {
            k: strict_json(v, f"{path}.{k}" if path else str(k), non_finite)
            for k, v in node.items()
        }
    if isinstance(node, list | tuple):
        return [strict_json(v, f"{path}[{i}]", non_finite) for i, v in enumerate(node)]
    if isinstance(node, float) and not math.isfinite(node):
        non_finite[path] = str(node)
        return None
    return node


def report_json(file: str, line_file: str, report: Report) -> dict[str, Any]:
    """One recipe's report as strict JSON data: a derived value that overflowed (or
    is otherwise not finite) is null, and ``non_finite`` maps its path to "inf",
    "-inf" or "nan"."""
    r = report.recipe
    non_finite: dict[str, str] = {}
    out: dict[str, Any] = {
        "file": file,
        "line": line_file,
        "recipe": r.recipe.name,
        "route": r.recipe.route,
        "ok": report.ok,
        "derived": strict_json(report.derived.as_dict(), "derived", non_finite),
        "errors": strict_json([v.as_dict() for v in report.errors], "errors", non_finite),
        "warnings": strict_json([v.as_dict() for v in report.warnings], "warnings", non_finite),
    }
    if non_finite:
        out["non_finite"] = non_finite
    return out


def violation_text(v: Violation) -> str:
    """One violation on one line, as ``recipe check`` prints it: ``[rule] message``."""
    return f"[{v.rule}] {v.message}"


NO_RUN_END = Violation(
    rule="run.end",
    severity="warning",
    field="run",
    value=None,
    window="length_m or time_min",
    source="linecontrol run",
    message="no [run] end (length_m or time_min): it can be checked, not run",
)


def with_run_end(report: Report) -> Report:
    """``report`` with a warning if its recipe has no ``[run]`` end: ``linecontrol run``
    (the supervisor) refuses such a recipe, since it would never end."""
    if report.recipe.run is not None:
        return report
    return replace(report, violations=[*report.violations, NO_RUN_END])


def _violations(title: str, items: list[Violation], mark: str) -> list[str]:
    out = [f"  {title} ({len(items)})"]
    out += [f"    {mark} {violation_text(v)}" for v in items]
    return out


UNWOUND_TEXT: dict[str, str] = {
    "metal_foil": "metal foil",
    "pi_film": "polyimide film",
    "pi_precursor_film": "self-supporting polyimide precursor film",
}


def report_text(file: str, line_name: str, line_file: str, report: Report) -> str:
    r = report.recipe
    d = report.derived
    out = [f"{file}: {r.recipe.name}" + (f" — {r.recipe.title}" if r.recipe.title else "")]
    out.append(f"  route     {r.recipe.route}: {ROUTES[r.recipe.route]}")
    out.append(f"  source    {r.recipe.source}")
    out.append(f"  unwinds   {UNWOUND_TEXT[r.material.unwound]}")
    out.append(f"  line      {line_name} ({line_file})")
    out.append("  derived")
    speed = f"{fmt(d.speed_m_min)} m/min"
    if d.max_speed_m_min is not None:
        speed += f" (ovens allow at most {fmt(d.max_speed_m_min)} m/min, set by {d.limiting_step})"
    out.append(f"    line speed          {speed}")
    if d.linear_pressure_kg_cm is not None:
        out.append(
            f"    linear pressure     {fmt(d.linear_pressure_kg_cm)} kg/cm "
            f"= {fmt(d.linear_pressure_n_mm)} N/mm"
        )
        if d.areal_pressure_mpa is not None:
            out.append(f"    areal pressure      {fmt(d.areal_pressure_mpa)} MPa")
        else:
            out.append("    areal pressure      unknown (line gives no nip contact width)")
    if d.sputter_thickness_um is not None:
        out.append(f"    sputtered Cu        {fmt(d.sputter_thickness_um)} µm")
    for c in d.coats:
        target = f" (target {fmt(c.target_cured_um)})" if c.target_cured_um is not None else ""
        out.append(
            f"    coat {c.station:<14} {c.layer}: wet {fmt(c.wet_um)} µm, "
            f"cured ≈ {fmt(c.cured_estimate_um)} µm{target}"
        )
    if d.zones:
        out.append("    residence per zone")
        for z in d.zones:
            out.append(
                f"      {z.oven:<10} {z.zone:<6} {fmt(z.setpoint_c):>6} °C "
                f"{fmt(z.length_m):>5} m  {fmt(z.residence_min):>7} min"
            )
    if d.steps:
        out.append("    thermal steps")
        for s in d.steps:
            out.append(
                f"      {s.oven:<10} [{s.index}] {s.kind:<4} {fmt(s.temperature_c):>6} °C "
                f"needs {fmt(s.required_min)} min, gets {fmt(s.residence_min)} min "
                f"over {'+'.join(s.zones)}; max speed {fmt(s.max_speed_m_min)} m/min"
            )
    out += _violations("errors", report.errors, "✗")
    out += _violations("warnings", report.warnings, "!")
    verdict = "PASS" if report.ok else "FAIL"
    if report.ok and report.warnings:
        verdict += " (with warnings)"
    out.append(f"  verdict   {verdict}")
    return "\n".join(out)
