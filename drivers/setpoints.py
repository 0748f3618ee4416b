"""Setpoint checks shared by every driver (pure): refuse before sending, verify after."""

from __future__ import annotations

import math

from drivers.errors import ReadbackMismatch, SetpointError


def check_setpoint(
    name: str,
    value: object,
    lo: float | None,
    hi: float | None,
    unit: str = "",
    *,
    device: str | None = None,
) -> float:
    """The value as a float if it is a finite number within lo..hi; else ``SetpointError``.
    Never clamps: NaN and infinities are refused."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SetpointError(f"{name}: not a number: {value!r}", device=device)
    if not math.isfinite(value):
        raise SetpointError(f"{name} = {value!r}: non-finite setpoints are refused", device=device)
    low = -math.inf if lo is None else lo
    high = math.inf if hi is None else hi
    if not (low <= value <= high):
        raise SetpointError(
            f"{name} = {value:g} {unit}: outside the instrument's range "
            f"{low:g}..{high:g} {unit}".rstrip(),
            device=device,
        )
    return float(value)


def verify_readback(
    name: str, written: float, back: float, tol: float, *, device: str | None = None
) -> float:
    if not math.isclose(float(back), float(written), abs_tol=tol):
        raise ReadbackMismatch(
            f"{name}: wrote {written:g}, read back {float(back):g}",
            written=float(written),
            read=float(back),
            device=device,
        )
    return float(back)
