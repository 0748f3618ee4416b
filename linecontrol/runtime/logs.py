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
import logging
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

from linecontrol.errors import InvalidArgument

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


@contextlib.contextmanager
def configured(level: str = DEFAULT_LEVEL, file: Path | None = None) -> Iterator[None]:
    """The process's logging for the length of a command: one handler on the root
    logger (standard error, or ``file`` appended to), lines at ``level`` and above.
    Raises ``OSError`` if the file cannot be opened. On exit the handler is removed
    and closed and the root level restored, so a command run in-process (a test)
    leaves logging as it found it; handlers others installed are never touched."""
    if level not in LEVELS:
        raise InvalidArgument(f"log level {level!r}: one of {', '.join(LEVELS)}")
    handler: logging.Handler = (
        logging.FileHandler(file, encoding="utf-8") if file is not None else logging.StreamHandler()
    )
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
