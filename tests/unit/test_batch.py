"""A batch is frozen all the way down: its fields cannot be rebound, its arrays cannot
be written, and arrays that do not line up are refused when it is built."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from linecontrol.model import Batch, BatchShapeError, Quality, Sample


def make(rows: int = 3, width: int = 2) -> Batch:
    t = np.arange(rows, dtype=float)
    return Batch(
        t, t + 1.7e9, t * 0.1, np.ones((rows, width)), np.zeros((rows, width), np.uint8)
    )


def test_fields_cannot_be_rebound() -> None:
    b = make()
    with pytest.raises(dataclasses.FrozenInstanceError):
        b.values = np.zeros((3, 2))  # type: ignore[misc]  # the point: frozen


@pytest.mark.parametrize("name", ["t_mono", "t_wall", "web_position_m", "values", "quality"])
def test_arrays_are_read_only(name: str) -> None:
    b = make()
    with pytest.raises(ValueError, match="read-only"):
        getattr(b, name)[0] = 7


def test_rows_and_width() -> None:
    b = make(4, 5)
    assert (b.rows, b.width) == (4, 5)


@pytest.mark.parametrize(
    "change",
    [
        {"t_wall": np.zeros(2)},
        {"web_position_m": np.zeros((3, 1))},
        {"values": np.ones((2, 2))},
        {"values": np.ones(3)},
        {"quality": np.zeros((3, 3), np.uint8)},
        {"quality": np.zeros((3, 2), np.int64)},
        {"t_mono": [0.0, 1.0, 2.0]},
    ],
)
def test_misaligned_arrays_are_refused(change: dict[str, object]) -> None:
    fields = {f.name: getattr(make(), f.name).copy() for f in dataclasses.fields(Batch)}
    fields.update(change)
    with pytest.raises(BatchShapeError):
        Batch(**fields)  # deliberately wrong shapes and types


def test_shape_error_is_a_value_error() -> None:
    assert issubclass(BatchShapeError, ValueError)


# ------------------------------------------------------------------ Sample
def sample() -> Sample:
    index = {"a.x": 0, "a.y": 1, "b.z": 2, "b.w": 3}
    values = np.array([1.5, 2.5, np.nan, np.inf])
    q = np.array([Quality.GOOD, Quality.STALE, Quality.GOOD, Quality.GOOD], np.uint8)
    return Sample(12.0, index, values, q, web_position_m=3.0)


def test_good_hands_out_only_good_finite_values() -> None:
    s = sample()
    assert s.good("a.x") == 1.5
    assert s.good("a.y") is None  # STALE: never a value to act on
    assert s.good("b.z") is None  # GOOD but NaN
    assert s.good("b.w") is None  # GOOD but infinite
    assert s.good("nope") is None


def test_raw_value_and_quality() -> None:
    s = sample()
    assert (s.value("a.y"), s.quality("a.y")) == (2.5, Quality.STALE)
    assert "a.x" in s and "nope" not in s
    with pytest.raises(KeyError):
        s.value("nope")


def test_sample_arrays_must_line_up() -> None:
    with pytest.raises(BatchShapeError):
        Sample(0.0, {}, np.zeros(2), np.zeros(3, np.uint8))
