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
    parse_gauge,
    psu_error,
    psu_measurements,
    psu_value,
)


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
