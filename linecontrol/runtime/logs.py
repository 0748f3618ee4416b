"""Logging: loggers that name their device or run, and the one place that configures.

Every module logs to a named logger (``linecontrol.acquisition``,
``linecontrol.runlog``, ``linecontrol.record``); a line about a device or a run goes
through ``context_logger``, which puts the name first in the message (``device press:
...``, ``run 20261201-...: ...``) and in the record (``record.device``,
``record.run``) for filters and handlers. No module configures logging when
imported: ``configured`` is entered by the command-line entry points only, with the
``--log-level`` and ``--log-file`` that ``add_log_options`` adds to every
long-running command.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import logging
import os
import stat
import sys
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

from linecontrol.errors import InvalidArgument, LinecontrolError

LEVELS = ("debug", "info", "warning", "error")
DEFAULT_LEVEL = "warning"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
CONTEXT_KEYS = ("run", "device")


class ContextLogger(logging.LoggerAdapter[logging.Logger]):
    """A logger adapter whose every line names its context (``run``, ``device``):
    first in the message and as attributes of the record."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, Any]:
        ctx = dict(self.extra or {})
        prefix = "".join(f"{k} {ctx[k]}: " for k in CONTEXT_KEYS if k in ctx)
        kwargs["extra"] = {**ctx, **kwargs.get("extra", {})}
        return f"{prefix}{msg}", kwargs


def context_logger(logger: logging.Logger, **context: str) -> ContextLogger:
    """``logger`` with ``context`` (``device=...`` or ``run=...``) on every line."""
    return ContextLogger(logger, context)


def add_log_options(parser: argparse.ArgumentParser) -> None:
    """``--log-level`` and ``--log-file``, for a long-running command."""
    parser.add_argument(
        "--log-level",
        choices=LEVELS,
        default=DEFAULT_LEVEL,
        help=f"least severe log lines shown (default {DEFAULT_LEVEL})",
    )
    parser.add_argument(
        "--log-file",
        type=Path,
        default=None,
        metavar="FILE",
        help="append log lines to FILE instead of standard error",
    )


class LogFileHandler(logging.FileHandler):
    """A log file that reports its first failed write (a disk that fills up during a
    run) once, as one line on standard error, and sends that line and every later
    one to standard error: no traceback per line, no line lost."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, encoding="utf-8")
        self.failed = False
        self._fallback = logging.StreamHandler(sys.stderr)

    def setFormatter(self, fmt: logging.Formatter | None) -> None:
        super().setFormatter(fmt)
        self._fallback.setFormatter(fmt)

    def emit(self, record: logging.LogRecord) -> None:
        if self.failed:
            self._fallback.emit(record)
        else:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:
        exc = sys.exc_info()[1]
        if not isinstance(exc, OSError):
            super().handleError(record)
            return
        self._report(exc)
        self._fallback.emit(record)

    def close(self) -> None:
        try:
            super().close()  # flushes what a failed write left in the buffer
        except OSError as exc:
            self._report(exc)

    def _report(self, exc: OSError) -> None:
        if self.failed:
            return
        self.failed = True
        sys.stderr.write(
            f"error: --log-file {self.baseFilename}: cannot write ({exc.strerror or exc}); "
            "log lines go to standard error from now on\n"
        )


class LogFileError(LinecontrolError, OSError):
    """A log file that takes no line (``probe_log_file``)."""


def probe_log_file(path: Path) -> None:
    """Raise ``OSError`` unless a line can be appended to ``path``: one newline is
    written, and for a regular file cut off again (a device such as a terminal keeps
    it, an empty line), so a full disk or ``/dev/full`` is found before a command
    starts, as the data directory is."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        st = os.fstat(fd)
        if os.write(fd, b"\n") != 1:
            raise LogFileError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        if stat.S_ISREG(st.st_mode):
            os.ftruncate(fd, st.st_size)
    finally:
        os.close(fd)


@contextlib.contextmanager
def configured(level: str = DEFAULT_LEVEL, file: Path | None = None) -> Iterator[None]:
    """The process's logging for the length of a command: one handler on the root
    logger (standard error, or ``file`` appended to), lines at ``level`` and above.
    Raises ``OSError`` if the file cannot be opened or written (``probe_log_file``);
    a write that fails later is reported once (``LogFileHandler``). On exit the
    handler is removed and closed and the root level restored, so a command run
    in-process (a test) leaves logging as it found it; handlers others installed are
    never touched."""
    if level not in LEVELS:
        raise InvalidArgument(f"log level {level!r}: one of {', '.join(LEVELS)}")
    handler: logging.Handler
    if file is not None:
        probe_log_file(file)
        handler = LogFileHandler(file)
    else:
        handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(level.upper())
    try:
        yield
    finally:
        root.removeHandler(handler)
        handler.close()
        root.setLevel(old_level)
