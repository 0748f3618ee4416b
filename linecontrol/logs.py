"""Logging: loggers that name their device or run, and the one place that configures.

Every module logs to a named logger (``linecontrol.acquisition``,
``linecontrol.runlog``, ``linecontrol.record``); a line about a device or a run goes
through ``context_logger``, which puts the name first in the message (``device press:
...``, ``run 20261201-...: ...``) and in the record (``record.device``,
``record.run``) for filters and handlers. No module configures logging when
imported: ``configure`` is called by the command-line entry points only, with the
``--log-level`` and ``--log-file`` that ``add_log_options`` adds to every
long-running command.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from linecontrol.errors import InvalidArgument

LEVELS = ("debug", "info", "warning", "error")
DEFAULT_LEVEL = "warning"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
CONTEXT_KEYS = ("run", "device")
_HANDLER_NAME = "linecontrol"


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


def configure(level: str = DEFAULT_LEVEL, file: Path | None = None) -> None:
    """The process's logging: one handler on the root logger (standard error, or
    ``file`` appended to), lines at ``level`` and above. Raises ``OSError`` if the
    file cannot be opened. A second call replaces the handler the first installed
    (and only it: handlers others put on the root logger stay)."""
    if level not in LEVELS:
        raise InvalidArgument(f"log level {level!r}: one of {', '.join(LEVELS)}")
    handler: logging.Handler = (
        logging.FileHandler(file, encoding="utf-8") if file is not None else logging.StreamHandler()
    )
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.set_name(_HANDLER_NAME)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level.upper())
