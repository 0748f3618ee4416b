"""Register codecs: golden vectors, both word orders, refusals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.codec import decode, decode_bits, encode, encode_bits
from drivers.errors import CodecError

# (type, scale, order, value, words) — independently computed:
# 3.75 as IEEE754 = 0x40700000; 1234567 = 0x0012D687; -2 as i32 = 0xFFFFFFFE.
GOLDEN = [
    ("u16", 1.0, "big", 1234, [0x04D2]),
    ("u16", 0.1, "big", 80.0, [800]),
    ("i16", 0.1, "big", 321.4, [3214]),
    ("i16", 0.1, "big", -12.5, [0xFF83]),
    ("u32", 1.0, "big", 1234567, [0x0012, 0xD687]),
    ("u32", 1.0, "little", 1234567, [0xD687, 0x0012]),
    ("u32", 0.001, "little", 1234.567, [0xD687, 0x0012]),
    ("i32", 1.0, "big", -2, [0xFFFF, 0xFFFE]),
    ("i32", 1.0, "little", -2, [0xFFFE, 0xFFFF]),
    ("f32", 1.0, "big", 3.75, [0x4070, 0x0000]),
    ("f32", 1.0, "little", 3.75, [0x0000, 0x4070]),
    ("f32", 1.0, "big", -1.0, [0xBF80, 0x0000]),
]


@pytest.mark.parametrize(("kind", "scale", "order", "value", "words"), GOLDEN)
def test_golden_vectors(
    kind: str, scale: float, order: str, value: float, words: list[int]
) -> None:
    assert encode(kind, value, scale=scale, order=order) == words  # type: ignore[arg-type]
    assert decode(kind, words, scale=scale, order=order) == pytest.approx(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("kind", ["u16", "i16", "u32", "i32", "f32"])
def test_non_finite_is_refused_never_clamped(kind: str, value: float) -> None:
    with pytest.raises(CodecError, match="non-finite"):
        encode(kind, value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "scale", "value"),
    [
        ("u16", 1.0, 65536),
        ("u16", 1.0, -1),
        ("u16", 0.1, 6553.6),
        ("i16", 0.1, 3276.8),
        ("i16", 0.1, -3276.9),
        ("u32", 1.0, 2**32),
        ("i32", 1.0, -(2**31) - 1),
        ("f32", 1.0, 1e39),
    ],
)
def test_out_of_type_range_is_refused(kind: str, scale: float, value: float) -> None:
    with pytest.raises(CodecError):
        encode(kind, value, scale=scale)  # type: ignore[arg-type]


@pytest.mark.parametrize("words", [[0x7FC0, 0x0000], [0x7F80, 0x0000], [0xFF80, 0x0000]])
def test_device_nan_or_infinity_is_a_decode_error(words: list[int]) -> None:
    with pytest.raises(CodecError, match="non-finite"):
        decode("f32", words)


def test_wrong_word_count_and_non_16_bit_words() -> None:
    with pytest.raises(CodecError):
        decode("f32", [1])
    with pytest.raises(CodecError):
        decode("u16", [70000])


def test_not_a_number_is_refused() -> None:
    with pytest.raises(CodecError):
        encode("u16", True)
    with pytest.raises(CodecError):
        encode("f32", "1.0")  # type: ignore[arg-type]


def test_bits_round_trip() -> None:
    names = {0: "running", 2: "web_break", 15: "estop"}
    word = encode_bits({"running": True, "estop": True}, names)
    assert word == 0x8001
    assert decode_bits(word, names) == {"running": True, "web_break": False, "estop": True}


@given(st.integers(-(2**31), 2**31 - 1), st.sampled_from(["big", "little"]))
def test_i32_round_trip(value: int, order: str) -> None:
    assert decode("i32", encode("i32", value, order=order), order=order) == value  # type: ignore[arg-type]


@given(
    st.floats(width=32, allow_nan=False, allow_infinity=False), st.sampled_from(["big", "little"])
)
def test_f32_round_trip(value: float, order: str) -> None:
    assert decode("f32", encode("f32", value, order=order), order=order) == value  # type: ignore[arg-type]


# ------------------------------------------------------------ decimal rounding
# Scaled integers round half away from zero on the decimal the user wrote; binary
# division would give 349.95 / 0.1 = 3499.4999999999995 and raw 3499.
ROUNDING = [
    ("i16", 0.1, 349.95, 3500),
    ("i16", 0.1, -349.95, -3500),
    ("u16", 0.1, 0.05, 1),
    ("u16", 0.1, 0.04, 0),
    ("i16", 0.1, -0.05, -1),
    ("u16", 0.1, 100.25, 1003),
    ("u32", 0.001, 1.0005, 1001),
    ("u32", 0.001, 4294967.295, 4294967295),
    ("i16", 0.1, 1.15, 12),  # binary 1.15 is 1.149999...; decimal says 11.5 -> 12
    ("i16", 0.1, 2.675, 27),
]


@pytest.mark.parametrize(("kind", "scale", "value", "raw"), ROUNDING)
def test_scaled_values_round_half_away_from_zero_in_decimal(
    kind: str, scale: float, value: float, raw: int
) -> None:
    words = encode(kind, value, scale=scale)  # type: ignore[arg-type]
    assert decode(kind, words, scale=1.0) == raw  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [0.6, 0.5, 1.5, 0.0001, -0.4, 2.5])
@pytest.mark.parametrize("kind", ["u16", "i16", "u32", "i32", "bits"])
def test_integer_types_at_scale_1_refuse_fractions(kind: str, value: float) -> None:
    with pytest.raises(CodecError, match="not an integer"):
        encode(kind, abs(value) if kind in ("u16", "u32", "bits") else value)  # type: ignore[arg-type]


def test_integral_floats_and_numpy_scalars_are_numbers() -> None:
    assert encode("u16", 1.0) == [1]
    assert encode("u16", np.int64(7)) == [7]  # type: ignore[arg-type]
    assert encode("u16", np.uint16(7)) == [7]  # type: ignore[arg-type]
    assert encode("u16", np.float64(1.0)) == [1]
    assert encode("i16", np.float64(349.95), scale=0.1) == [3500]
    assert encode("f32", np.float32(3.75)) == [0x4070, 0x0000]  # type: ignore[arg-type]
    with pytest.raises(CodecError, match="not an integer"):
        encode("u16", np.float64(0.6))
    with pytest.raises(CodecError, match="non-finite"):
        encode("f32", np.float64("nan"))
    for not_a_number in (np.bool_(True), np.array([1.0]), "1", None, 1 + 0j):
        with pytest.raises(CodecError, match="not a number"):
            encode("u16", not_a_number)  # type: ignore[arg-type]


@given(st.integers(0, 32766), st.booleans())
def test_half_counts_round_away_from_zero(counts: int, negative: bool) -> None:
    """Every value exactly half-way between two 0.1 counts, written as a user would
    ("349.95"), rounds to the count further from zero."""
    text = f"{'-' if negative else ''}{counts // 10}.{counts % 10}5"
    want = -(counts + 1) if negative else counts + 1
    (word,) = encode("i16", float(text), scale=0.1)
    assert (word - 0x10000 if word > 0x7FFF else word) == want, text


@given(
    st.floats(-3000.0, 3000.0, allow_nan=False),
    st.sampled_from([0.1, 0.01, 0.001, 0.5, 2.0]),
)
def test_scaled_encoding_is_the_nearest_count(value: float, scale: float) -> None:
    """The raw count is within half a count of value / scale, whatever the float."""
    words = encode("i32", value, scale=scale)
    raw = decode("i32", words)
    assert abs(raw - value / scale) <= 0.5 + 1e-9
