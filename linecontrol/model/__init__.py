"""The shared vocabulary of the application: typed events and commands (frozen,
no I/O), and the channels and sample batches acquisition produces and the run log
stores. Other modules import from ``linecontrol.model``, not its modules."""

from linecontrol.model.channels import Batch, BatchShapeError, Channel, Quality, Sample
from linecontrol.model.command_base import Command
from linecontrol.model.commands import COMMAND_TYPES, StartRecording, command_from_data
from linecontrol.model.event_base import DeviceState, Event, QualityName
from linecontrol.model.events import (
    ALARM_TYPES,
    EVENT_TYPES,
    CommandGiven,
    DeviceError,
    DeviceFailed,
    DeviceRecovered,
    DeviceStats,
    DeviceSummary,
    LoggedEvent,
    QualityChanged,
    RunLogBacklog,
    RunLogError,
    RunLogRecovered,
    RunStarted,
    RunStopped,
    UnknownEvent,
    decode_event,
)

__all__ = [
    "ALARM_TYPES",
    "COMMAND_TYPES",
    "EVENT_TYPES",
    "Batch",
    "BatchShapeError",
    "Channel",
    "Command",
    "CommandGiven",
    "DeviceError",
    "DeviceFailed",
    "DeviceRecovered",
    "DeviceState",
    "DeviceStats",
    "DeviceSummary",
    "Event",
    "LoggedEvent",
    "Quality",
    "QualityChanged",
    "QualityName",
    "RunLogBacklog",
    "RunLogError",
    "RunLogRecovered",
    "RunStarted",
    "RunStopped",
    "Sample",
    "StartRecording",
    "UnknownEvent",
    "command_from_data",
    "decode_event",
]
