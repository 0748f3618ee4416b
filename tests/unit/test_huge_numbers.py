"""An integer too large for a float is out of range: a typed error, never OverflowError."""

from __future__ import annotations

import pytest

from drivers.codec import encode
from drivers.errors import CodecError, SetpointError
from drivers.setpoints import check_setpoint


@pytest.mark.parametrize("value", [10**400, -(10**400)])
def test_a_huge_integer_setpoint_is_refused_as_out_of_range(value: int) -> None:
    with pytest.raises(SetpointError, match="outside"):
        check_setpoint("speed", value, 0, 100)
    with pytest.raises(SetpointError, match="outside"):
        check_setpoint("speed", value, None, None)  # no range: still not a value to send


@pytest.mark.parametrize("kind", ["u16", "i32", "f32"])
@pytest.mark.parametrize("scale", [1.0, 0.1])
def test_a_huge_integer_does_not_fit_any_register(kind: str, scale: float) -> None:
    with pytest.raises(CodecError):
        encode(kind, 10**400, scale=scale)  # type: ignore[arg-type]
