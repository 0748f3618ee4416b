"""The recording room: headless runs of a line into a run log: recording (acquisition
only, ``record``) and supervised runs of a recipe (``run_recipe``), with the simulated
line as a child process on request; ``open_line`` is the wiring of a supervised line
(acquisition, supervisor, run log, simulators) that ``run`` and ``serve`` share."""

from linecontrol.recording.recorder import (
    RecordError,
    RecordOptions,
    RecordResult,
    StopSignals,
    record,
)
from linecontrol.recording.runner import (
    RecipeRefusedError,
    RunHandle,
    RunOptions,
    RunResult,
    StoppedBeforeStart,
    SupervisorRunning,
    run_recipe,
)
from linecontrol.recording.session import (
    LineSession,
    LineSetup,
    make_safe,
    open_line,
    take_state_lock,
)

__all__ = [
    "LineSession",
    "LineSetup",
    "RecipeRefusedError",
    "RecordError",
    "RecordOptions",
    "RecordResult",
    "RunHandle",
    "RunOptions",
    "RunResult",
    "StopSignals",
    "StoppedBeforeStart",
    "SupervisorRunning",
    "make_safe",
    "open_line",
    "record",
    "run_recipe",
    "take_state_lock",
]
