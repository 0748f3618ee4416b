"""The TCP link's reply checks, as bytes (sans I/O): only the exact answer passes."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.errors import DeviceRejected
from drivers.links.modbus_tcp import check_header, check_pdu, frame, read_request, write_request


def test_requests_and_frames_are_the_documented_bytes() -> None:
    assert read_request("holding", 2, 2) == bytes.fromhex("03 0002 0002")
    assert read_request("input", 6, 4) == bytes.fromhex("04 0006 0004")
    assert write_request(1, [1]) == bytes.fromhex("10 0001 0001 02 0001")
    assert frame(7, 1, bytes.fromhex("03 0002 0002")) == bytes.fromhex(
        "0007 0000 0006 01 03 0002 0002"
    )
    for bad in ((0,), (126,)):
        with pytest.raises(ValueError):
            read_request("holding", 0, *bad)
    with pytest.raises(ValueError):
        write_request(0, [0x10000])


def test_header_checks() -> None:
    assert check_header(bytes.fromhex("0007 0000 0007 01"), 7, 1) == 6
    for header, match in [
        ("0000 0000 0007 01", "transaction id 0"),
        ("0008 0000 0007 01", "transaction id 8"),
        ("0007 0001 0007 01", "protocol id 1"),
        ("0007 0000 0002 01", "header length 2"),
        ("0007 0000 00ff 01", "header length 255"),
        ("0007 0000 0007 02", "unit id 2"),
    ]:
        with pytest.raises(ValueError, match=match):
            check_header(bytes.fromhex(header), 7, 1)


def test_exception_replies() -> None:
    req = read_request("holding", 0, 1)
    with pytest.raises(DeviceRejected) as info:
        check_pdu(req, bytes([0x83, 2]))
    assert info.value.code == 2
    for reply in (bytes([0x84, 2]), bytes([0x83, 2, 0]), bytes([0x83]), bytes([0x90, 1])):
        with pytest.raises(ValueError):
            check_pdu(req, reply)


@given(st.integers(1, 125), st.sampled_from(["holding", "input"]), st.binary(max_size=260))
def test_any_read_reply_is_the_exact_answer_or_refused(
    count: int, table: str, reply: bytes
) -> None:
    """Whatever the bytes, a read yields exactly 2 x count data bytes from a reply of
    the request's own function with that byte count, or an error."""
    req = read_request(table, 0, count)  # type: ignore[arg-type]
    try:
        data = check_pdu(req, reply)
    except (ValueError, DeviceRejected):
        return
    assert reply == bytes([req[0], 2 * count]) + data
    assert len(data) == 2 * count


@given(st.integers(1, 125), st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=125))
def test_well_formed_read_replies_pass(count: int, words: list[int]) -> None:
    words = (words * count)[:count]
    req = read_request("holding", 10, count)
    reply = struct.pack(f">BB{count}H", 3, 2 * count, *words)
    assert check_pdu(req, reply) == struct.pack(f">{count}H", *words)
    wrong_fc = bytes([4]) + reply[1:]
    with pytest.raises(ValueError, match="function 4"):
        check_pdu(req, wrong_fc)


def test_write_reply_must_echo_address_and_count() -> None:
    req = write_request(5, [1, 2])
    assert check_pdu(req, bytes.fromhex("10 0005 0002")) == b""
    for reply in ("10 0006 0002", "10 0005 0001", "10 0005 0002 00", "06 0005 0001"):
        with pytest.raises(ValueError):
            check_pdu(req, bytes.fromhex(reply))
