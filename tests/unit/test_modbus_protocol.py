"""The simulators' Modbus PDU handler and MBAP framing, as bytes."""

from __future__ import annotations

import struct

from drivers.devices import MODBUS_MAPS
from simulators.modbus_protocol import MbapDecoder, RegisterBank, mbap


def bank() -> RegisterBank:
    return RegisterBank(MODBUS_MAPS["line_drive"])


def test_read_holding_returns_the_words() -> None:
    b = bank()
    b.set("speed_sp_m_min", 3.75)
    assert b.handle(bytes.fromhex("03 0002 0002")) == bytes.fromhex("03 04 4070 0000")


def test_read_input_and_illegal_address() -> None:
    b = bank()
    b.set("unwind_tension_pv_n", 80.0)
    assert b.handle(bytes.fromhex("04 0004 0001")) == bytes.fromhex("04 02 0320")
    assert b.handle(bytes.fromhex("04 0009 0002")) == bytes.fromhex("84 02")
    assert b.handle(bytes.fromhex("03 0000 0000")) == bytes.fromhex("83 03")


def test_writes_are_range_checked_by_the_instrument() -> None:
    b = bank()
    ok = bytes.fromhex("10 0002 0002 04 3F80 0000")  # 1.0 m/min
    assert b.handle(ok) == bytes.fromhex("10 0002 0002")
    assert b.get("speed_sp_m_min") == 1.0
    too_fast = bytes.fromhex("10 0002 0002 04 41C8 0000")  # 25.0
    assert b.handle(too_fast) == bytes.fromhex("90 03")
    nan = bytes.fromhex("10 0002 0002 04 7FC0 0000")
    assert b.handle(nan) == bytes.fromhex("90 03")
    assert b.get("speed_sp_m_min") == 1.0  # nothing written by a refused request
    assert b.handle(bytes.fromhex("06 0000 0001")) == bytes.fromhex("06 0000 0001")
    assert b.handle(bytes.fromhex("06 0000 0002")) == bytes.fromhex("86 03")


def test_a_command_register_takes_its_pulse_and_refuses_other_values() -> None:
    seen: list[tuple[str, float | int]] = []
    b = bank()
    b.on_write = lambda name, value: seen.append((name, value))
    assert b.handle(bytes.fromhex("10 0001 0001 02 0001")) == bytes.fromhex("10 0001 0001")
    assert seen == [("position_reset_cmd", 1)]
    assert b.handle(bytes.fromhex("06 0001 0000")) == bytes.fromhex("86 03")  # 0 is no command
    assert b.handle(bytes.fromhex("04 0000 0001"))[:2] == bytes.fromhex("04 02")
    assert b.handle(bytes.fromhex("06 0000 0001")) == bytes.fromhex("06 0000 0001")  # run_cmd


def test_write_to_half_a_register_pair_or_unmapped_is_refused_cleanly() -> None:
    b = bank()
    assert b.handle(bytes.fromhex("06 0063 0001")) == bytes.fromhex("86 02")
    assert b.handle(bytes.fromhex("2B 0E01 00")) == bytes.fromhex("AB 01")
    assert b.handle(bytes.fromhex("10 0002 0002 03 3F80 00")) == bytes.fromhex("90 03")


def test_mbap_split_and_merged_streams() -> None:
    req1 = mbap(1, 1, bytes.fromhex("03 0000 0006"))
    req2 = mbap(2, 1, bytes.fromhex("04 0000 000A"))
    d = MbapDecoder()
    assert d.feed(req1[:5]) == []
    assert d.feed(req1[5:] + req2[:3]) == [(1, 1, bytes.fromhex("03 0000 0006"))]
    assert d.feed(req2[3:]) == [(2, 1, bytes.fromhex("04 0000 000A"))]
    assert struct.unpack(">HHH", req1[:6]) == (1, 0, 6)
