"""Register codecs: golden vectors, both word orders, refusals."""

from __future__ import annotations

import math

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
