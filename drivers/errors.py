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


class DeviceRejected(DriverError):
    """The device answered with a protocol exception (Modbus exception code, ASCII error reply)."""

    def __init__(self, message: str, *, code: int, device: str | None = None) -> None:
        self.code = code
        super().__init__(message, device=device)


class BadReply(DriverError, ValueError):
    """A reply arrived but cannot be decoded (wrong length, checksum, garbage, NaN)."""


# ------------------------------------------------------------------ local
class SetpointError(DriverError, ValueError):
    """A setpoint refused before anything was sent: not finite, out of range, read-only."""


class ReadbackMismatch(DriverError):
    """A setpoint was written but reading it back gave another value."""

    def __init__(
        self, message: str, *, written: float, read: float, device: str | None = None
    ) -> None:
        self.written = written
        self.read = read
        super().__init__(message, device=device)


class CodecError(DriverError, ValueError):
    """A value cannot be encoded into (or decoded from) its registers."""
