"""Register maps and the read planner."""

from __future__ import annotations

import math

import pytest

from drivers.devices import MODBUS_MAPS
from drivers.errors import SetpointError
from drivers.regmap import Register, RegisterMap


def test_contiguous_registers_make_one_block_per_table() -> None:
    m = RegisterMap(
        "t",
        [
            Register("a", 0, "u16"),
            Register("b", 1, "f32"),
            Register("c", 3, "u16"),
            Register("d", 0, "u16", table="input"),
            Register("e", 1, "u32", table="input"),
        ],
    )
    blocks = m.plan()
    assert [(b.table, b.start, b.count) for b in blocks] == [("holding", 0, 4), ("input", 0, 3)]


def test_gaps_split_blocks_unless_bridged() -> None:
    m = RegisterMap(
        "t", [Register("a", 0, "u16"), Register("b", 3, "u16"), Register("c", 10, "f32")]
    )
    assert [(b.start, b.count) for b in m.plan()] == [(0, 1), (3, 1), (10, 2)]
    assert [(b.start, b.count) for b in m.plan(max_gap=2)] == [(0, 4), (10, 2)]
    assert [(b.start, b.count) for b in m.plan(max_gap=10)] == [(0, 12)]


def test_blocks_respect_the_125_register_limit() -> None:
    m = RegisterMap("t", [Register(f"r{i}", i * 2, "f32") for i in range(100)])
    blocks = m.plan()
    assert all(b.count <= 125 for b in blocks)
    assert sum(len(b.registers) for b in blocks) == 100
    assert len(blocks) == 2


def test_plan_a_subset_of_channels() -> None:
    m = MODBUS_MAPS["press"]
    blocks = m.plan(["top_temp_pv_c", "roll_load_pv_kg"])
    assert [(b.table, b.start, b.count) for b in blocks] == [("input", 1, 1), ("input", 3, 2)]


def test_block_decode_isolates_a_bad_channel() -> None:
    m = RegisterMap("t", [Register("x", 0, "f32"), Register("y", 2, "u16", scale=0.1)])
    [block] = m.plan()
    values, errors = block.decode([0x7FC0, 0, 123])
    assert values == {"y": pytest.approx(12.3)}
    assert set(errors) == {"x"}


def test_overlapping_or_repeated_registers_are_refused() -> None:
    with pytest.raises(ValueError, match="overlap"):
        RegisterMap("t", [Register("a", 0, "f32"), Register("b", 1, "u16")])
    with pytest.raises(ValueError, match="repeats"):
        RegisterMap("t", [Register("a", 0, "u16"), Register("a", 1, "u16")])


@pytest.mark.parametrize("value", [math.nan, math.inf, 20.001, -1.0])
def test_write_check_refuses(value: float) -> None:
    with pytest.raises(SetpointError):
        MODBUS_MAPS["line_drive"]["speed_sp_m_min"].check_write(value)


def test_every_shipped_map_plans_in_few_blocks_and_describes_itself() -> None:
    for model, m in MODBUS_MAPS.items():
        blocks = m.plan()
        assert len(blocks) <= 2, model
        d = m.describe()
        assert d["model"] == model and len(d["registers"]) == len(m.registers)
        for r in m:
            if r.access != "r":
                assert r.min is not None and r.max is not None, (model, r.name)
            assert r.table != "input" or r.access == "r"


def test_compiled_block_decoding_agrees_with_the_codec() -> None:
    import random

    rnd = random.Random(7)
    for model, m in MODBUS_MAPS.items():
        for block in m.plan():
            for _ in range(200):
                words = [rnd.randrange(0, 0x10000) for _ in range(block.count)]
                values, errors = block.decode(words)
                for reg in block.registers:
                    off = reg.address - block.start
                    try:
                        want = reg.decode(words[off : off + reg.width])
                    except Exception:
                        assert reg.name in errors, (model, reg.name)
                        continue
                    assert values[reg.name] == want, (model, reg.name, words)
                    assert type(values[reg.name]) is type(want), (model, reg.name)
