"""The recording room: headless runs of a line into a run log: recording (acquisition
only, ``record``) and supervised runs of a recipe (``run_recipe``), with the simulated
line as a child process on request."""

from linecontrol.recording.recorder import RecordError, RecordOptions, RecordResult, record
from linecontrol.recording.runner import RunHandle, RunOptions, RunResult, run_recipe

__all__ = [
    "RecordError",
    "RecordOptions",
    "RecordResult",
    "RunHandle",
    "RunOptions",
    "RunResult",
    "record",
    "run_recipe",
]
