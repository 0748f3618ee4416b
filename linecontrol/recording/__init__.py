"""The recording room: headless recording of a line (until the supervisor exists):
acquisition into a run log, with the simulated line as a child process on request."""

from linecontrol.recording.recorder import RecordError, RecordOptions, RecordResult, record

__all__ = [
    "RecordError",
    "RecordOptions",
    "RecordResult",
    "record",
]
