"""ASCII query/answer protocols of the sputter instruments, sans I/O (pure).

``LineFramer`` cuts a byte stream into terminator-ended lines (split and merged
reads alike) and resynchronises after noise: a line longer than ``max_len``
without a terminator is dropped and reported.

Two protocols:

DC magnetron power supply (RS-232, 9600 8N1, CR terminator, no checksum):
``PSET 10.00`` → ``OK``; ``PSET?`` → ``PSET 10.00``; ``OUT 1`` → ``OK``;
``OUT?`` → ``OUT 1``; ``MEAS?`` → ``P 9.98 V 429.8 I 23.22``; ``STAT?`` → ``STAT 05``
(hex bits); errors ``ERR <code> <text>`` (1 syntax, 2 not allowed now, 3 out of range).

Vacuum gauge and gas controller (RS-232, 9600 8N1, CR terminator, checksum):
a frame is ``@`` + body + ``*`` + two hex digits of the byte sum of the body mod 256.
Body: address (2 digits), a 2-letter parameter, and ``?`` (query), ``!value``
(set) or ``=value`` (answer); an error answer is ``NAK<code>`` (1 checksum,
2 unknown parameter, 3 out of range). ``@01PR?*42`` → ``@01PR=4.000E-01*xx``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

CR = b"\r"


class FramingError(ValueError):
    """A line that breaks the protocol: bad checksum, malformed, overlong."""


class LineFramer:
    def __init__(self, terminator: bytes = CR, max_len: int = 128) -> None:
        self.terminator = terminator
        self.max_len = max_len
        self._buf = bytearray()
        self.dropped = 0  # bytes discarded while resynchronising

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        lines: list[bytes] = []
        while True:
            i = self._buf.find(self.terminator)
            if i < 0:
                if len(self._buf) > self.max_len:
                    self.dropped += len(self._buf)
                    self._buf.clear()
                return lines
            line = bytes(self._buf[:i])
            del self._buf[: i + len(self.terminator)]
            if len(line) > self.max_len:
                self.dropped += len(line)
                continue
            lines.append(line)

    def clear(self) -> None:
        self._buf.clear()


# ------------------------------------------------------------------ PSU
PSU_ERRORS = {1: "syntax", 2: "not allowed now", 3: "out of range"}


def psu_value(reply: bytes, key: str) -> float:
    """``PSET 10.00`` → 10.0; raises FramingError on anything else."""
    parts = reply.decode("ascii", "replace").split()
    if len(parts) != 2 or parts[0] != key:
        raise FramingError(f"expected '{key} <value>', got {reply!r}")
    return _finite(parts[1], reply)


def psu_measurements(reply: bytes) -> dict[str, float]:
    """``P 9.98 V 429.8 I 23.22`` → {'P': 9.98, 'V': 429.8, 'I': 23.22}."""
    parts = reply.decode("ascii", "replace").split()
    if len(parts) != 6 or parts[0::2] != ["P", "V", "I"]:
        raise FramingError(f"expected 'P <kW> V <V> I <A>', got {reply!r}")
    return {k: _finite(v, reply) for k, v in zip(parts[0::2], parts[1::2], strict=True)}


def psu_error(reply: bytes) -> tuple[int, str] | None:
    text = reply.decode("ascii", "replace")
    if not text.startswith("ERR"):
        return None
    parts = text.split(maxsplit=2)
    try:
        code = int(parts[1])
    except (IndexError, ValueError) as exc:
        raise FramingError(f"malformed error reply {reply!r}") from exc
    return code, parts[2] if len(parts) > 2 else PSU_ERRORS.get(code, "")


def _finite(text: str, reply: bytes) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise FramingError(f"not a number {text!r} in {reply!r}") from exc
    if not math.isfinite(value):
        raise FramingError(f"non-finite value {text!r} in {reply!r}")
    return value


# ------------------------------------------------------------------ gauge
GAUGE_ERRORS = {1: "checksum", 2: "unknown parameter", 3: "out of range"}


def checksum(body: bytes) -> bytes:
    return b"%02X" % (sum(body) % 256)


def gauge_frame(body: bytes) -> bytes:
    return b"@" + body + b"*" + checksum(body) + CR


@dataclass(frozen=True)
class GaugeMessage:
    address: int
    param: str
    op: str  # "?" query, "!" set, "=" answer, "NAK"
    value: str = ""


def parse_gauge(line: bytes) -> GaugeMessage:
    """One terminator-stripped frame → message. FramingError on a bad frame or checksum."""
    if len(line) < 8 or line[:1] != b"@" or line[-3:-2] != b"*":
        raise FramingError(f"malformed frame {line!r}")
    body, cs = line[1:-3], line[-2:]
    if checksum(body) != cs.upper():
        raise FramingError(f"checksum {cs!r} does not match {checksum(body)!r} in {line!r}")
    text = body.decode("ascii", "replace")
    try:
        address = int(text[:2])
    except ValueError as exc:
        raise FramingError(f"bad address in {line!r}") from exc
    rest = text[2:]
    if rest.startswith("NAK"):
        return GaugeMessage(address, "", "NAK", rest[3:])
    param, op, value = rest[:2], rest[2:3], rest[3:]
    if op not in ("?", "!", "="):
        raise FramingError(f"bad operation in {line!r}")
    return GaugeMessage(address, param, op, value)


def gauge_body(address: int, param: str, op: str, value: str = "") -> bytes:
    return f"{address:02d}{param}{op}{value}".encode("ascii")
