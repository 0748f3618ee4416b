"""Modbus RTU framing as bytes (pure): the master's reply scanner, reply forms, and the
server's request sizing."""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from drivers.links.modbus_rtu import Unanswered
from drivers.modbus_rtu import ReplyScanner, Shape, crc16, crc_ok, frame, request_length


def read_reply(unit: int, words: list[int], fc: int = 3) -> bytes:
    return frame(unit, struct.pack(f">BB{len(words)}H", fc, 2 * len(words), *words))


replies = st.builds(
    read_reply,
    st.integers(1, 247),
    st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=20),
    st.sampled_from([3, 4]),
) | st.builds(
    lambda u, fc, code: frame(u, bytes([fc | 0x80, code])),
    st.integers(1, 247),
    st.sampled_from([3, 4, 16]),
    st.integers(1, 4),
)


def test_crc_golden() -> None:
    # Modbus over serial line, appendix B: "02 07" has CRC 0x1241, sent low byte first.
    assert crc16(b"\x02\x07") == 0x1241
    assert frame(2, b"\x07") == b"\x02\x07\x41\x12"


@given(st.lists(replies, min_size=1, max_size=6), st.data())
def test_any_split_of_a_reply_stream_gives_the_same_frames(
    frames: list[bytes], data: st.DataObject
) -> None:
    stream = b"".join(frames)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    s = ReplyScanner()
    out: list[bytes] = []
    prev = 0
    for c in [*cuts, len(stream)]:
        out += s.feed(stream[prev:c])
        prev = c
    assert out == frames
    assert s.junk == 0 and s.undecided == 0


@given(st.lists(st.binary(min_size=0, max_size=64), max_size=40))
def test_work_is_linear_in_the_bytes_received(chunks: list[bytes]) -> None:
    """At most one CRC per byte received, each over at most 256 bytes, however the
    bytes are split; every byte ends up in a frame, in junk, or still undecided."""
    s = ReplyScanner()
    frames: list[bytes] = []
    for c in chunks:
        frames += s.feed(c)
    total = sum(map(len, chunks))
    assert s.crc_checks <= total
    assert s.crc_bytes <= 256 * total
    assert all(crc_ok(f) for f in frames)
    assert sum(map(len, frames)) + s.junk + s.undecided == total


def test_noise_claiming_a_long_frame_does_not_hide_the_reply_behind_it() -> None:
    reply = read_reply(7, [0x1234])
    s = ReplyScanner()
    # unit 5, function 3, byte count 200: a 205-byte frame that never completes.
    assert s.feed(b"\x05\x03\xc8" + reply) == [reply]
    assert s.junk == 3


def test_a_frame_is_not_searched_again_for_frames_inside_it() -> None:
    inner = read_reply(9, [1])
    # A reply of unit 4 whose register values spell unit 9's reply.
    payload = inner + b"\x00" * (len(inner) % 2)
    outer = frame(4, bytes([3, len(payload)]) + payload)
    s = ReplyScanner()
    assert s.feed(outer) == [outer]


def test_reply_forms() -> None:
    read = Shape.for_request(1, struct.pack(">BHH", 3, 0, 2))
    assert read.answers(read_reply(1, [1, 2])) and not read.answers(read_reply(1, [1]))
    assert not read.answers(read_reply(2, [1, 2])) and not read.answers(read_reply(1, [1, 2], 4))
    assert read.refuses(frame(1, b"\x83\x02")) and not read.refuses(frame(1, b"\x84\x02"))
    write = Shape.for_request(1, struct.pack(">BHHBH", 16, 5, 1, 2, 99))
    assert write.answers(frame(1, struct.pack(">BHH", 16, 5, 1)))
    assert not write.answers(frame(1, struct.pack(">BHH", 16, 6, 1)))  # another address


def test_server_sizes_an_unknown_function_by_its_crc_and_keeps_what_follows() -> None:
    odd = frame(3, bytes([0x2B, 0x0E, 0x01, 0x00]))
    read = frame(3, struct.pack(">BHH", 3, 0, 1))
    assert request_length(odd + read) == len(odd)
    assert request_length(odd[:-1]) is None  # not yet: its CRC has not arrived
    assert request_length(bytes([3, 0x41]) + bytes(range(254))) == -1  # no frame within 256
    assert request_length(read + odd) == 8
    write = frame(3, struct.pack(">BHHBHH", 16, 0, 2, 4, 1, 2))
    assert request_length(write) == len(write)


def _subsequence(small: list[Shape], big: list[Shape]) -> bool:
    it = iter(big)
    return all(any(s == b for b in it) for s in small)


@given(st.lists(st.tuples(st.integers(1, 3), st.booleans()), min_size=1, max_size=30), st.data())
def test_unanswered_keeps_every_request_that_may_still_be_answered(
    requests: list[tuple[int, bool]], data: st.DataObject
) -> None:
    """A device answers its requests at most once each and in order (some never, some
    late, some with an exception): whatever it does, every request that may still
    be answered stays listed, so a frame of a form not listed answers the latest."""
    u = Unanswered()
    shapes = [Shape.for_request(1, struct.pack(">BHH", 3, 0, n)) for n, _exc in requests]
    may_come: list[int] = []  # requests sent and not answered, not overtaken by a later answer
    for i in range(len(requests)):
        u.append(shapes[i])
        may_come.append(i)
        while len(may_come) > 0 and data.draw(st.booleans()):
            k = data.draw(st.integers(0, len(may_come) - 1))
            j = may_come[k]
            n, exc = requests[j]
            reply = frame(1, b"\x83\x02") if exc else read_reply(1, [0] * n)
            assert u.strike(reply)
            del may_come[: k + 1]  # FIFO: those before j will never be answered now
        assert _subsequence([shapes[j] for j in may_come], u.shapes())
