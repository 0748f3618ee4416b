"""The recording room: headless runs of a line into a run log: recording (acquisition
only, ``record``) and supervised runs of a recipe (``run_recipe``), with the simulated
line as a child process on request."""

from linecontrol.recording.recorder import RecordError, RecordOptions, RecordResult, record
from linecontrol.recording.runner import (
    RecipeRefusedError,
    RunHandle,
    RunOptions,
    RunResult,
    SupervisorRunning,
    run_recipe,
)

__all__ = [
    "RecipeRefusedError",
    "RecordError",
    "RecordOptions",
    "RecordResult",
    "RunHandle",
    "RunOptions",
    "RunResult",
    "SupervisorRunning",
    "record",
    "run_recipe",
]
