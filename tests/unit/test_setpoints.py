"""Setpoint and command checks: what is refused before anything is sent (pure)."""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.device import ModbusDevice
from drivers.devices import MODBUS_MAPS
from drivers.errors import SetpointError
from drivers.regmap import Register, RegisterMap
from drivers.setpoints import check_setpoint

DRIVE = MODBUS_MAPS["line_drive"]
PRESS = MODBUS_MAPS["press"]


class RecordingLink:
    """In-memory link: records writes, reads back what was written."""

    name = "memory"
    transactions = 0

    def __init__(self) -> None:
        self.writes: list[tuple[int, list[int]]] = []
        self.regs: dict[int, int] = {}

    async def read(self, table: str, address: int, count: int, unit: int) -> list[int]:
        return [self.regs.get(address + i, 0) for i in range(count)]

    async def write(self, address: int, words: list[int], unit: int) -> None:
        self.writes.append((address, list(words)))
        for i, w in enumerate(words):
            self.regs[address + i] = w

    async def close(self) -> None:
        pass


def device(regmap: RegisterMap) -> tuple[ModbusDevice, RecordingLink]:
    link = RecordingLink()
    return ModbusDevice("dev", regmap, link), link


@pytest.mark.parametrize("value", [0.6, 0.5, 0.4, 1.0000001, np.float64(0.6)])
async def test_a_0_1_command_refuses_fractions_and_sends_nothing(value: float) -> None:
    dev, link = device(DRIVE)
    with pytest.raises(SetpointError, match="whole numbers only"):
        await dev.write_setpoint("run_cmd", value)
    assert link.writes == []


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("run_cmd", True),
        ("run_cmd", np.bool_(True)),
        ("run_cmd", "1"),
        ("run_cmd", 2),
        ("run_cmd", -1),
        ("top_temp_sp_c", math.nan),
        ("top_temp_sp_c", np.float64("inf")),
        ("top_temp_sp_c", 450.05),
        ("top_temp_sp_c", None),
        ("nip_cmd", 0.6),
        ("roll_load_sp_kg", np.float32("nan")),
        ("top_temp_pv_c", 20.0),
    ],
)
async def test_bad_values_send_nothing(name: str, value: object) -> None:
    regmap = DRIVE if name == "run_cmd" else PRESS
    dev, link = device(regmap)
    with pytest.raises(SetpointError):
        await dev.write_setpoint(name, value)  # type: ignore[arg-type]
    assert link.writes == []


@pytest.mark.parametrize(
    ("name", "value", "words", "back"),
    [
        ("run_cmd", 1, [1], 1),
        ("run_cmd", 1.0, [1], 1),
        ("run_cmd", np.int64(0), [0], 0),
        ("top_temp_sp_c", 349.95, [3500], 350.0),
        ("top_temp_sp_c", np.float64(349.95), [3500], 350.0),
        ("top_temp_sp_c", np.int64(320), [3200], 320.0),
        ("top_temp_sp_c", 0.04, [0], 0.0),
        ("roll_load_sp_kg", np.float32(1500.5), [0x44BB, 0x9000], 1500.5),
    ],
)
async def test_good_values_are_written_as_golden_words(
    name: str, value: float, words: list[int], back: float
) -> None:
    regmap = DRIVE if name == "run_cmd" else PRESS
    dev, link = device(regmap)
    assert await dev.write_setpoint(name, value) == pytest.approx(back)
    assert link.writes == [(regmap[name].address, words)]


@given(st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(2**40), 2**40))
def test_a_0_1_register_sends_0_or_1_or_nothing(value: float) -> None:
    dev, link = device(DRIVE)
    try:
        asyncio.run(dev.write_setpoint("run_cmd", value))
    except SetpointError:
        assert link.writes == []
        assert value not in (0, 1)
    else:
        assert value in (0, 1)
        assert link.writes == [(0, [int(value)])]


@given(st.floats(-10.0, 460.0, allow_nan=False))
def test_scaled_setpoint_sends_the_nearest_count_or_nothing(value: float) -> None:
    dev, link = device(PRESS)
    try:
        back = asyncio.run(dev.write_setpoint("top_temp_sp_c", value))
    except SetpointError:
        assert link.writes == []
        assert not 0.0 <= value <= 450.0
    else:
        assert 0.0 <= value <= 450.0
        ((_, [raw]),) = link.writes
        assert abs(raw - value * 10) <= 0.5 + 1e-9
        assert back == pytest.approx(raw / 10)


def test_check_setpoint_takes_numpy_scalars_and_refuses_booleans() -> None:
    assert check_setpoint("x", np.float64(1.5), 0, 2) == 1.5
    assert check_setpoint("x", np.int64(2), 0, 2, integer=True) == 2.0
    with pytest.raises(SetpointError, match="not a number"):
        check_setpoint("x", np.bool_(False), 0, 2)
    with pytest.raises(SetpointError, match="whole numbers only"):
        check_setpoint("x", 1.5, 0, 2, integer=True)


# ------------------------------------------------------------------ commands
async def test_a_self_clearing_command_is_not_a_setpoint() -> None:
    dev, link = device(DRIVE)
    with pytest.raises(SetpointError, match="self-clearing command"):
        await dev.write_setpoint("position_reset_cmd", 1)
    for bad in (0, 0.6, 2, True, math.nan):
        with pytest.raises(SetpointError):
            await dev.command("position_reset_cmd", bad)  # type: ignore[arg-type]
    with pytest.raises(SetpointError, match="not a command register"):
        await dev.command("run_cmd", 1)
    assert link.writes == []
    # Sent once, never read back: the PLC would have cleared it already.
    await dev.command("position_reset_cmd")
    assert link.writes == [(1, [1])]


def test_command_registers_must_be_integer_holding_registers() -> None:
    with pytest.raises(ValueError, match="must be an integer register"):
        RegisterMap("t", [Register("c", 0, "f32", access="pulse", min=1, max=1)])
    with pytest.raises(ValueError, match="writable but in the input table"):
        RegisterMap("t", [Register("c", 0, "u16", table="input", access="pulse")])
    assert DRIVE["position_reset_cmd"].access == "pulse"
    assert DRIVE.describe()["registers"][1]["access"] == "pulse"
