"""Register codecs: engineering values to and from 16-bit Modbus registers (pure).

Types: ``u16``/``i16`` with a scale (raw x scale = value, e.g. 0.1 °C), ``u32``/
``i32`` with a scale and ``f32`` (IEEE 754) over two registers in either word
order (``big``: high word first, "ABCD"; ``little``: low word first, "CDAB"),
and ``bits``: a 16-bit status word decoded into named flags.

Encoding refuses non-finite values and values whose raw form does not fit the
type; it never clamps. A number is any real number but a boolean: ``int``,
``float`` and numpy's integer and float scalars (``np.bool_``, like ``bool``, is
refused). An integer type at scale 1 (a count, a code, a 0/1 command) takes only
integral values: 0.6 is refused, never rounded to 1. A scaled integer is rounded
to its resolution half away from zero in decimal, on the shortest repr of the
float, so 349.95 °C at 0.1 °C is raw 3500 (binary 349.95 / 0.1 is
3499.4999999999995). Decoding an ``f32`` that is NaN or infinite is a
``CodecError``: a device that sends it is misbehaving, and its value must not be
used as good.
"""

from __future__ import annotations

import math
import numbers
import struct
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from drivers.errors import CodecError

RegType = Literal["u16", "i16", "u32", "i32", "f32", "bits"]
WordOrder = Literal["big", "little"]

WIDTH: dict[str, int] = {"u16": 1, "i16": 1, "bits": 1, "u32": 2, "i32": 2, "f32": 2}
_INT_RANGE: dict[str, tuple[int, int]] = {
    "u16": (0, 0xFFFF),
    "i16": (-0x8000, 0x7FFF),
    "bits": (0, 0xFFFF),
    "u32": (0, 0xFFFF_FFFF),
    "i32": (-0x8000_0000, 0x7FFF_FFFF),
}


def _split(raw32: bytes, order: WordOrder) -> list[int]:
    hi, lo = struct.unpack(">HH", raw32)
    return [hi, lo] if order == "big" else [lo, hi]


def _join(words: Sequence[int], order: WordOrder) -> bytes:
    hi, lo = (words[0], words[1]) if order == "big" else (words[1], words[0])
    return struct.pack(">HH", hi, lo)


def is_number(value: object) -> bool:
    """A real number that is not a boolean (Python's or numpy's)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_integral(value: float) -> bool:
    """True for a finite number with no fractional part (3, 3.0, np.int64(3))."""
    if isinstance(value, numbers.Integral):
        return True
    return math.isfinite(value) and float(value).is_integer()


def _decimal(x: float) -> Decimal:
    # The shortest repr of a float is the decimal the user wrote (349.95, not
    # 349.94999999999998863131622783839702606201171875).
    return Decimal(int(x)) if isinstance(x, numbers.Integral) else Decimal(repr(float(x)))


def raw_integer(value: float, scale: float = 1.0) -> int:
    """The raw integer of ``value`` at ``scale``: exact at scale 1 (a non-integral
    value is a ``CodecError``), else rounded half away from zero in decimal."""
    if scale == 1.0:
        if not is_integral(value):
            raise CodecError(f"{value!r} is not an integer")
        return int(value)
    raw = (_decimal(value) / _decimal(scale)).to_integral_value(rounding=ROUND_HALF_UP)
    return int(raw)


def encode(
    kind: RegType, value: float, *, scale: float = 1.0, order: WordOrder = "big"
) -> list[int]:
    """Engineering value → register words. Raises ``CodecError``; never clamps."""
    if not is_number(value):
        raise CodecError(f"not a number: {value!r}")
    try:
        float(value)
    except OverflowError:  # an int beyond any float (10**400) fits no register
        raise CodecError(f"a {len(str(abs(int(value))))}-digit integer fits no register") from None
    if not math.isfinite(value):
        raise CodecError(f"non-finite value {value!r} refused")
    if not (math.isfinite(scale) and scale > 0):
        raise CodecError(f"scale {scale!r} must be a positive finite number")
    if kind == "f32":
        f = float(value) / scale
        if abs(f) > 3.4028234663852886e38:
            raise CodecError(f"{value!r} does not fit a 32-bit float")
        return _split(struct.pack(">f", f), order)
    raw = raw_integer(value, scale)
    lo, hi = _INT_RANGE[kind]
    if not (lo <= raw <= hi):
        raise CodecError(
            f"{value!r} is raw {raw} at scale {scale:g}: outside {kind} range {lo}..{hi}"
        )
    if kind in ("u16", "bits"):
        return [raw]
    if kind == "i16":
        return [raw & 0xFFFF]
    fmt = ">I" if kind == "u32" else ">i"
    return _split(struct.pack(fmt, raw), order)


def decode(
    kind: RegType, words: Sequence[int], *, scale: float = 1.0, order: WordOrder = "big"
) -> float | int:
    """Register words → engineering value (``bits`` gives the raw word)."""
    n = WIDTH[kind]
    if len(words) != n:
        raise CodecError(f"{kind} needs {n} register(s), got {len(words)}")
    for w in words:
        if not (0 <= w <= 0xFFFF):
            raise CodecError(f"register value {w!r} is not 16-bit")
    if kind == "bits":
        return int(words[0])
    if kind == "u16":
        raw: float = words[0]
    elif kind == "i16":
        raw = struct.unpack(">h", struct.pack(">H", words[0]))[0]
    elif kind == "u32":
        raw = struct.unpack(">I", _join(words, order))[0]
    elif kind == "i32":
        raw = struct.unpack(">i", _join(words, order))[0]
    else:
        f: float = struct.unpack(">f", _join(words, order))[0]
        if not math.isfinite(f):
            raise CodecError(f"device sent a non-finite float ({f!r})")
        return f * scale
    value = raw * scale
    return int(value) if scale == 1.0 else float(value)


def decode_bits(word: int, names: Mapping[int, str]) -> dict[str, bool]:
    return {name: bool(word >> bit & 1) for bit, name in names.items()}


def encode_bits(flags: dict[str, bool], names: dict[int, str]) -> int:
    word = 0
    for bit, name in names.items():
        if flags.get(name):
            word |= 1 << bit
    return word
