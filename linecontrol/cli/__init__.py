"""The ``linecontrol`` command: one module per command (``recipe``, ``sim``, ``regmap``,
``record``, ``runs``), each adding its parser and running it; ``output`` holds what
they share in their output (exit codes, problems, JSON, tables), ``options`` their
shared options, ``parser`` the command line, ``entry`` the entry point ``main``
(``[project.scripts]`` and ``python -m linecontrol``)."""

from linecontrol.cli.entry import main
from linecontrol.cli.output import (
    EXIT_ACQUISITION,
    EXIT_BAD_INPUT,
    EXIT_DEVICES,
    EXIT_OK,
    EXIT_RUN_LOG,
    EXIT_VIOLATION,
)
from linecontrol.cli.parser import build_parser

__all__ = [
    "EXIT_ACQUISITION",
    "EXIT_BAD_INPUT",
    "EXIT_DEVICES",
    "EXIT_OK",
    "EXIT_RUN_LOG",
    "EXIT_VIOLATION",
    "build_parser",
    "main",
]
