"""Setpoint checks shared by every driver (pure): refuse before sending, verify after."""

from __future__ import annotations

import math
from typing import cast

from drivers.codec import is_integral, is_number
from drivers.errors import ReadbackMismatch, SetpointError


def check_setpoint(
    name: str,
    value: object,
    lo: float | None,
    hi: float | None,
    unit: str = "",
    *,
    integer: bool = False,
    device: str | None = None,
) -> float:
    """The value as a float if it is a finite number within lo..hi; else ``SetpointError``.

    Never clamps: NaN and infinities are refused. A number is any real number but
    a boolean (``int``, ``float``, numpy integer and float scalars). With
    ``integer`` (a count, a code, a 0/1 command) a value with a fractional part
    is refused: 0.6 is never rounded to 1."""
    if not is_number(value):
        raise SetpointError(f"{name}: not a number: {value!r}", device=device)
    value = cast(float, value)  # a numbers.Real: int, float or a numpy scalar
    try:
        float(value)
    except OverflowError:  # an int beyond any float (10**400): no instrument's range
        raise SetpointError(
            f"{name}: a {len(str(abs(int(value))))}-digit integer is outside any range",
            device=device,
        ) from None
    if not math.isfinite(value):
        raise SetpointError(f"{name} = {value!r}: non-finite setpoints are refused", device=device)
    if integer and not is_integral(value):
        raise SetpointError(
            f"{name} = {value!r}: takes whole numbers only (nothing is rounded)", device=device
        )
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
