"""Finding the run a command names (``runs``, ``whatif``, ``replay``): an id, a unique
prefix or a path, under the data root, with the one error a person can act on."""

from __future__ import annotations

import argparse
from pathlib import Path

from linecontrol.cli.output import error

# What reading a damaged run can raise: the run is reported unreadable, the rest go on.
UNREADABLE = (OSError, ValueError, KeyError, TypeError, OverflowError, RecursionError)


def root_ok(root: Path) -> bool:
    """Whether the data root can be read, after saying why not."""
    from linecontrol.runlog import DataRootError, check_root

    try:
        check_root(root)
    except DataRootError as exc:
        error(str(exc))
        return False
    return True


def named_run(args: argparse.Namespace) -> Path | None:
    """The run that ``args.run`` names (an id, a unique prefix, or a path) under
    ``args.data_dir``, or None after saying why not."""
    from linecontrol.runlog import RunNotFound, data_root, find_run

    root = data_root(args.data_dir)
    if not Path(args.run).is_dir() and not root_ok(root):
        return None
    try:
        return find_run(root, args.run)
    except RunNotFound as exc:
        error(str(exc))
        return None
