"""Comparison at a stated resolution (``RESOLUTION``) and what the rules of several
sources share: number formatting, inclusive windows widened by half a step, the
ovens of a purpose."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from linecontrol.config import (
    Oven,
    Recipe,
)
from linecontrol.process.rules.table import Finding


def fmt(v: Any) -> str:
    """A number as a person reads it: four significant digits, no exponent below 1e6."""
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            return str(v)
        if v == 0 or 1e-3 <= abs(v) < 1e4:
            return f"{v:.4g}"
        return f"{v:.0f}" if abs(v) < 1e6 else f"{v:.4g}"
    return str(v)


# The resolution each quantity is compared at, by unit: the smallest step that
# means something for a setpoint or a derived value on this kind of line (a
# controller's display step or finer). A value within half a step of an edge is
# on the edge.
RESOLUTION: dict[str, float] = {
    "°C": 0.01,
    "kg/cm": 0.001,
    "kg": 0.01,
    "MPa": 0.0001,
    "µm": 0.0001,
    "mm": 0.01,
    "m/min": 0.0001,
    "min": 0.001,
    "h": 0.0001,
    "N": 0.01,
    "wt%": 0.01,
    "ppm": 0.01,
    "slm": 0.01,
    "sccm": 0.01,
    "kW": 0.001,
    "ml/min": 0.001,
}


def half_step(unit: str) -> float:
    """Half the resolution of ``unit``: how far past an edge a value is still on it."""
    return RESOLUTION[unit] / 2.0


def fmt_q(v: float, unit: str) -> str:
    """``v`` at the resolution of ``unit`` (trailing zeros dropped), so a value that
    fails is never shown equal to the edge it fails; very large or non-finite
    values as ``fmt`` shows them."""
    if not math.isfinite(v) or abs(v) >= 1e9:
        return fmt(v)
    decimals = max(0, -math.floor(math.log10(RESOLUTION[unit]) + 1e-9))
    text = f"{v:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def between(
    field: str,
    value: float,
    lo: float,
    hi: float,
    unit: str,
    lo_label: str | None = None,
    hi_label: str | None = None,
) -> Iterator[Finding]:
    h = half_step(unit)
    if not (lo - h <= value <= hi + h):
        lo_t = f"{lo_label} = {fmt_q(lo, unit)}" if lo_label else fmt_q(lo, unit)
        hi_t = f"{hi_label} = {fmt_q(hi, unit)}" if hi_label else fmt_q(hi, unit)
        yield Finding(
            field, value, f"between {lo_t} and {hi_t} {unit}".rstrip(), shown=fmt_q(value, unit)
        )


def at_least(
    field: str, value: float, lo: float, unit: str, label: str | None = None
) -> Iterator[Finding]:
    if not (value >= lo - half_step(unit)):
        lo_t = f"{label} = {fmt_q(lo, unit)}" if label else fmt_q(lo, unit)
        yield Finding(field, value, f"at least {lo_t} {unit}".rstrip(), shown=fmt_q(value, unit))


def at_most(
    field: str, value: float, hi: float, unit: str, label: str | None = None
) -> Iterator[Finding]:
    if not (value <= hi + half_step(unit)):
        hi_t = f"{label} = {fmt_q(hi, unit)}" if label else fmt_q(hi, unit)
        yield Finding(field, value, f"at most {hi_t} {unit}".rstrip(), shown=fmt_q(value, unit))


def below(
    field: str, value: float, hi: float, unit: str, label: str | None = None
) -> Iterator[Finding]:
    # Strictly below at the resolution: a value that rounds to the edge is on it, not below.
    if not (value < hi - half_step(unit)):
        hi_t = f"{label} = {fmt_q(hi, unit)}" if label else fmt_q(hi, unit)
        yield Finding(field, value, f"below {hi_t} {unit}".rstrip(), shown=fmt_q(value, unit))


def oven_field(oven: Oven, rest: str) -> str:
    return f"ovens[{oven.station}].{rest}"


def ovens(recipe: Recipe, purpose: str) -> Iterator[Oven]:
    return (o for o in recipe.ovens if o.purpose == purpose)


def peak_hold(oven: Oven) -> float:
    """The imidization temperature: the hottest hold (lower zones are the ramp to it),
    or the hottest zone when the oven states no hold."""
    holds = [s for s in oven.steps if s.kind == "hold"]
    peak = max((s.temperature_c for s in holds), default=None)
    return peak if peak is not None else max(z.temperature_c for z in oven.zones)


def cure_window(recipe: Recipe, lo: float, hi: float) -> Iterator[Finding]:
    for oven in ovens(recipe, "cure"):
        peak = peak_hold(oven)
        yield from between(oven_field(oven, "steps (peak hold temperature_c)"), peak, lo, hi, "°C")
        for sp in oven.zones:
            yield from at_most(
                oven_field(oven, f"zones[{sp.zone}].temperature_c"), sp.temperature_c, hi, "°C"
            )


def needs_bp(recipe: Recipe, oven: Oven) -> Iterator[Finding]:
    yield Finding(
        "material.solvent_bp_c",
        None,
        f"the solvent's boiling point (needed to check {oven.purpose} at {oven.station})",
    )
