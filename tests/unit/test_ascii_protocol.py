"""ASCII framing of the sputter instruments: split, merged and corrupt byte streams."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.ascii_protocol import (
    FramingError,
    LineFramer,
    checksum,
    gauge_body,
    gauge_frame,
    gauge_number,
    gauge_status,
    parse_gauge,
    psu_error,
    psu_measurements,
    psu_output,
    psu_status,
    psu_value,
)
from drivers.links.ascii_link import LateQueries


def test_split_and_merged_reads() -> None:
    f = LineFramer()
    assert f.feed(b"PSET 1") == []
    assert f.feed(b"0.00\rOK\rMEAS") == [b"PSET 10.00", b"OK"]
    assert f.feed(b"?\r") == [b"MEAS?"]


@given(
    st.lists(
        st.binary(min_size=0, max_size=20).map(lambda b: b.replace(b"\r", b"")),
        min_size=1,
        max_size=8,
    ),
    st.data(),
)
def test_any_split_gives_the_same_lines(lines: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(line + b"\r" for line in lines)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    f = LineFramer()
    out: list[bytes] = []
    prev = 0
    for c in [*cuts, len(stream)]:
        out += f.feed(stream[prev:c])
        prev = c
    assert out == lines


def test_overlong_noise_is_dropped_and_the_stream_resyncs() -> None:
    f = LineFramer(max_len=16)
    assert f.feed(b"\x00\xff" * 20) == []
    assert f.dropped == 40
    assert f.feed(b"OK\r") == [b"OK"]


def test_gauge_checksum_golden_and_corruption() -> None:
    assert checksum(b"01PR?") == b"42"  # 0x30+0x31+0x50+0x52+0x3F = 0x142
    frame = gauge_frame(gauge_body(1, "PR", "=", "4.000E-01"))
    assert frame.endswith(b"\r")
    msg = parse_gauge(frame[:-1])
    assert (msg.address, msg.param, msg.op, msg.value) == (1, "PR", "=", "4.000E-01")
    corrupt = bytearray(frame[:-1])
    corrupt[5] ^= 0x01
    with pytest.raises(FramingError, match="checksum"):
        parse_gauge(bytes(corrupt))
    for bad in (b"", b"01PR?*42", b"@01PR?42", b"@xxPR?*" + checksum(b"xxPR?")):
        with pytest.raises(FramingError):
            parse_gauge(bad)
    nak = parse_gauge(gauge_frame(gauge_body(1, "", "NAK", "2"))[:-1])
    assert (nak.op, nak.value) == ("NAK", "2")


def test_psu_replies() -> None:
    assert psu_value(b"PSET 10.00", "PSET") == 10.0
    assert psu_measurements(b"P 9.98 V 429.8 I 23.22") == {"P": 9.98, "V": 429.8, "I": 23.22}
    assert psu_error(b"ERR 3 out of range") == (3, "out of range")
    assert psu_error(b"OK") is None
    for bad in (b"PSET nan", b"PSET inf", b"PSET", b"POWER 1.0", b"P 1 V 2", b"P x V 1 I 2"):
        with pytest.raises(FramingError):
            if bad.startswith(b"P "):
                psu_measurements(bad)
            else:
                psu_value(bad, "PSET")
    with pytest.raises(FramingError):
        psu_error(b"ERR x")


def test_psu_status_is_stat_and_two_hex_digits() -> None:
    assert psu_status(b"STAT 05") == 5
    assert psu_status(b"STAT 1F") == 0x1F
    # Another answer's key, a sign, a prefix, too few or too many digits, two words.
    for bad in (
        b"OUT 1",
        b"PSET 05",
        b"STAT -1",
        b"STAT 0x5",
        b"STAT 5",
        b"STAT 005",
        b"STAT +5",
        b"STAT 05 1",
        b"STAT  05",
        b"STAT 5_0",
        b"STAT",
        b"STAT G0",
    ):
        with pytest.raises(FramingError):
            psu_status(bad)


def test_psu_numbers_have_the_documented_form() -> None:
    assert psu_output(b"OUT 0") == 0 and psu_output(b"OUT 1") == 1
    for bad in (b"OUT 2", b"OUT -1", b"OUT 1.0", b"STAT 01", b"OUT"):
        with pytest.raises(FramingError):
            psu_output(bad)
    # float() would take these; the protocol does not.
    for bad in (b"PSET 1_0", b"PSET -1.00", b"PSET 1e3", b"PSET infinity", b"PSET 10.00 1"):
        with pytest.raises(FramingError):
            psu_value(bad, "PSET")
    with pytest.raises(FramingError):
        psu_measurements(b"P 1_0 V 2 I 3")


def test_gauge_values_have_the_documented_form() -> None:
    assert gauge_number("4.000E-01") == 0.4
    assert gauge_number("120.0") == 120.0
    assert gauge_status("05") == 5
    for bad in ("-4.000E-01", "1_0", "inf", "nan", "", "0x10", "4.0E-01 "):
        with pytest.raises(FramingError):
            gauge_number(bad)
    for bad in ("-1", "0x1", "5", "005", "+5", "G0", ""):
        with pytest.raises(FramingError):
            gauge_status(bad)
    # The address is exactly two digits, a NAK code one digit.
    for body in (b"-1PR=4.0E-01", b" 1PR=4.0E-01", b"+1PR=4.0E-01", b"01NAK-1", b"01NAKx"):
        with pytest.raises(FramingError):
            parse_gauge(b"@" + body + b"*" + checksum(body))


@given(st.lists(st.booleans(), min_size=1, max_size=30), st.data())
def test_late_queries_keep_every_query_that_may_still_be_answered(
    forms: list[bool], data: st.DataObject
) -> None:
    """An instrument answers its queries at most once each and in order: whatever it
    does, every query that may still be answered stays listed with its form."""
    late = LateQueries()
    may_come: list[int] = []
    for i, form in enumerate(forms):
        late.append(form)
        may_come.append(i)
        while len(may_come) > 0 and data.draw(st.booleans()):
            k = data.draw(st.integers(0, len(may_come) - 1))
            assert late.strike(forms[may_come[k]])
            del may_come[: k + 1]  # those before it will never be answered now
        listed = iter(late.forms())
        assert all(any(forms[j] == x for x in listed) for j in may_come)
