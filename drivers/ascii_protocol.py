"""ASCII query/answer protocols of the sputter instruments, sans I/O (pure).

``LineFramer`` cuts a byte stream into terminator-ended lines (split and merged
reads alike) and resynchronises after noise: a line longer than ``max_len``
without a terminator is dropped and reported.

Two protocols:

DC magnetron power supply (RS-232, 9600 8N1, CR terminator, no checksum):
``PSET 10.00`` → ``OK``; ``PSET?`` → ``PSET 10.00``; ``OUT 1`` → ``OK``;
``OUT?`` → ``OUT 1``; ``MEAS?`` → ``P 9.98 V 429.8 I 23.22``; ``STAT?`` → ``STAT 05``
(the status bits, exactly two hex digits); ``*IDN?`` → ``maker,model,serial,firmware``;
errors ``ERR <code> <text>`` (1 syntax, 2 not allowed now, 3 out of range).

Vacuum gauge and gas controller (RS-232, 9600 8N1, CR terminator, checksum):
a frame is ``@`` + body + ``*`` + two hex digits of the byte sum of the body mod 256.
Body: address (2 digits), a 2-letter parameter, and ``?`` (query), ``!value``
(set) or ``=value`` (answer); an error answer is ``NAK<code>`` (1 checksum,
2 unknown parameter, 3 out of range). ``@01PR?*42`` → ``@01PR=4.000E-01*xx``;
``@01ST?`` → ``@01ST=05*xx`` (exactly two hex digits); a parameter the gauge does
not know, such as ``@01ID?``, → ``@01NAK2*xx``.

Every answer is checked against its documented key and form, not merely split and
converted: ``OUT 1`` is not a status word, ``STAT -1`` or ``STAT 0x5`` is not a
status, ``PSET 1_0`` or ``PR=inf`` is not a number, a pressure or a setpoint is
never negative. Anything else is a ``FramingError`` (the drivers raise BadReply).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from drivers.errors import ProtocolError

CR = b"\r"


class FramingError(ProtocolError):
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

    @property
    def pending(self) -> int:
        """Bytes received after the last terminator (a line still coming, or noise)."""
        return len(self._buf)

    def clear(self) -> None:
        self._buf.clear()


# ------------------------------------------------------------------ PSU
PSU_ERRORS = {1: "syntax", 2: "not allowed now", 3: "out of range"}


# Plain decimal numbers, ASCII digits only (Python's float() would also take
# "1_0", "inf", "nan" and other scripts' digits).
_DECIMAL = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_SCIENTIFIC = _DECIMAL + r"(?:[Ee][+-]?[0-9]+)?"
_HEX2 = re.compile(r"[0-9A-Fa-f]{2}")


def _text(reply: bytes) -> str:
    return reply.decode("ascii", "replace")


def psu_value(reply: bytes, key: str, *, nonnegative: bool = True) -> float:
    """``PSET 10.00`` → 10.0; raises FramingError on anything else."""
    m = re.fullmatch(rf"{re.escape(key)} ({_DECIMAL})", _text(reply))
    if m is None:
        raise FramingError(f"expected '{key} <number>', got {reply!r}")
    return _finite(m[1], reply, nonnegative=nonnegative)


def psu_output(reply: bytes) -> int:
    """``OUT 1`` → 1: exactly 0 or 1."""
    m = re.fullmatch(r"OUT ([01])", _text(reply))
    if m is None:
        raise FramingError(f"expected 'OUT 0' or 'OUT 1', got {reply!r}")
    return int(m[1])


def psu_status(reply: bytes) -> int:
    """``STAT 05`` → 5: the key STAT and exactly two hex digits (so never negative)."""
    m = re.fullmatch(r"STAT ([0-9A-Fa-f]{2})", _text(reply))
    if m is None:
        raise FramingError(f"expected 'STAT <two hex digits>', got {reply!r}")
    return int(m[1], 16)


def psu_identity(reply: bytes) -> bool:
    """Is this the answer to ``*IDN?`` (IEEE 488.2: maker, model, serial, firmware)?
    No other answer of the supply has a comma, so it cannot be taken for one."""
    return re.fullmatch(r"[^,]+,[^,]+,[^,]*,[^,]*", _text(reply)) is not None


def psu_measurements(reply: bytes) -> dict[str, float]:
    """``P 9.98 V 429.8 I 23.22`` → {'P': 9.98, 'V': 429.8, 'I': 23.22}."""
    m = re.fullmatch(rf"P ({_DECIMAL}) V ({_DECIMAL}) I ({_DECIMAL})", _text(reply))
    if m is None:
        raise FramingError(f"expected 'P <kW> V <V> I <A>', got {reply!r}")
    return {k: _finite(v, reply, nonnegative=False) for k, v in zip("PVI", m.groups(), strict=True)}


def psu_error(reply: bytes) -> tuple[int, str] | None:
    text = _text(reply)
    if not text.startswith("ERR"):
        return None
    m = re.fullmatch(r"ERR ([0-9]{1,3})(?: (.*))?", text)
    if m is None:
        raise FramingError(f"malformed error reply {reply!r}")
    code = int(m[1])
    return code, m[2] if m[2] else PSU_ERRORS.get(code, "")


def _finite(text: str, reply: bytes, *, nonnegative: bool) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise FramingError(f"not a number {text!r} in {reply!r}") from exc
    if not math.isfinite(value):
        raise FramingError(f"non-finite value {text!r} in {reply!r}")
    if nonnegative and value < 0:
        raise FramingError(f"negative value {text!r} in {reply!r}")
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
    if re.fullmatch(r"[0-9]{2}", text[:2]) is None:
        raise FramingError(f"bad address in {line!r}")
    address = int(text[:2])
    rest = text[2:]
    if rest.startswith("NAK"):
        if re.fullmatch(r"[0-9]", rest[3:]) is None:
            raise FramingError(f"bad error code in {line!r}")
        return GaugeMessage(address, "", "NAK", rest[3:])
    param, op, value = rest[:2], rest[2:3], rest[3:]
    if op not in ("?", "!", "="):
        raise FramingError(f"bad operation in {line!r}")
    return GaugeMessage(address, param, op, value)


def gauge_body(address: int, param: str, op: str, value: str = "") -> bytes:
    return f"{address:02d}{param}{op}{value}".encode("ascii")


def gauge_number(value: str, *, nonnegative: bool = True) -> float:
    """The value of a ``PR=`` or ``AF=`` answer: a decimal or scientific number,
    finite, and (pressure, flow) not negative."""
    if re.fullmatch(_SCIENTIFIC, value) is None:
        raise FramingError(f"not a number {value!r}")
    return _finite(value, value.encode("ascii", "replace"), nonnegative=nonnegative)


def gauge_status(value: str) -> int:
    """The value of an ``ST=`` answer: exactly two hex digits."""
    if _HEX2.fullmatch(value) is None:
        raise FramingError(f"expected two hex digits, got {value!r}")
    return int(value, 16)
