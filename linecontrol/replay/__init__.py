"""Replay of a logged run: the pure player (``player``: recorded order, pause,
resume, speed, seek to a time or a metre, step; time injected) and the run opened
for it (``load``: samples through the run log's seek index, events from its log).

``linecontrol.server`` serves a replay through the local API (``serve_replay``)."""

from linecontrol.replay.load import OpenedRun, open_run
from linecontrol.replay.player import (
    MAX_SPEED,
    MIN_SPEED,
    ArrayRows,
    ArraySource,
    Due,
    InvalidSpeed,
    Player,
    Rows,
    RowsDue,
    SampleSource,
    SeekOutOfRange,
    check_speed,
)

__all__ = [
    "MAX_SPEED",
    "MIN_SPEED",
    "ArrayRows",
    "ArraySource",
    "Due",
    "InvalidSpeed",
    "OpenedRun",
    "Player",
    "Rows",
    "RowsDue",
    "SampleSource",
    "SeekOutOfRange",
    "check_speed",
    "open_run",
]
