"""The driver layer's own errors: every protocol library's failures become one of these.

Local errors (we refused to send something) are kept apart from remote ones (the
device did not answer, refused, or answered garbage), as in h11 and caproto.
"""

from __future__ import annotations


class DriverError(Exception):
    """Root of the driver errors. ``device`` names the instrument when known."""

    def __init__(self, message: str, *, device: str | None = None) -> None:
        self.device = device
        super().__init__(f"{device}: {message}" if device else message)


# ------------------------------------------------------------------ remote
class DeviceTimeout(DriverError, TimeoutError):
    """No (complete) reply within the request's total deadline."""


class DeviceUnreachable(DriverError, ConnectionError):
    """The link could not be opened, or dropped."""


class DeviceRejected(DriverError, RuntimeError):
    """The device answered with a protocol exception (Modbus exception code, ASCII error reply)."""

    def __init__(self, message: str, *, code: int, device: str | None = None) -> None:
        self.code = code
        super().__init__(message, device=device)


class BadReply(DriverError, ValueError):
    """A reply arrived but cannot be decoded (wrong length, checksum, garbage, NaN)."""


class ProtocolError(DriverError, ValueError):
    """Bytes (or a request) that do not fit the protocol, found by a pure codec or
    framer, which knows no device: the link that called it raises ``BadReply`` (a
    reply) naming the device, or passes a request's on."""


# ------------------------------------------------------------------ local
class SetpointError(DriverError, ValueError):
    """A setpoint refused before anything was sent: not finite, out of range, read-only."""


class ReadbackMismatch(DriverError, RuntimeError):
    """A setpoint was written but reading it back gave another value."""

    def __init__(
        self, message: str, *, written: float, read: float, device: str | None = None
    ) -> None:
        self.written = written
        self.read = read
        super().__init__(message, device=device)


class CodecError(DriverError, ValueError):
    """A value cannot be encoded into (or decoded from) its registers."""


class BadAddress(DriverError, ValueError):
    """A link address that cannot be used (a socket URL with no port, or with options)."""


# ------------------------------------------------------------------ declarations
class DeclarationError(DriverError, ValueError):
    """An instrument model, register map or channel table declared inconsistently
    (names that repeat, overlapping registers, a module without its MODEL): found
    when the driver package is imported, a programming error."""


class UnknownChannel(DriverError, KeyError):
    """A channel name the model does not have."""

    def __str__(self) -> str:  # KeyError's repr-quoting would wrap the whole message
        return str(self.args[0]) if self.args else ""
