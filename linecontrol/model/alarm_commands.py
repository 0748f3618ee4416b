"""The alarms' operator commands (acknowledge, shelve, out of service): in the
imperative, frozen, typed, versioned (no I/O).

Registered in ``linecontrol.model.commands.COMMAND_TYPES`` by wire name through
``TYPES``; every command carries who gave it, a request id, when and why
(``linecontrol.model.command_base.Command``). Each names one alarm by its id in the
line config (``[alarms.<id>]``); acknowledging one never acknowledges another. Which
state accepts which command is the engine's (``linecontrol.alarms.act``).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from linecontrol.model.command_base import Command


class AlarmCommand(Command):
    """Base of the alarm commands: the alarm's id. Not registered."""

    alarm: str = Field(min_length=1)


class AcknowledgeAlarm(AlarmCommand):
    name: ClassVar[str] = "acknowledge_alarm"


class ShelveAlarm(AlarmCommand):
    """Shelve for ``duration_s`` seconds (at most the alarm's ``max_shelve_s``); a
    reason is required."""

    name: ClassVar[str] = "shelve_alarm"

    reason: str = Field(min_length=1, pattern=r"\S")
    duration_s: float = Field(gt=0.0)


class UnshelveAlarm(AlarmCommand):
    name: ClassVar[str] = "unshelve_alarm"


class ResetAlarm(AlarmCommand):
    """Reset a latched alarm (accepted once it is acknowledged and its condition clear)."""

    name: ClassVar[str] = "reset_alarm"


class RemoveAlarmFromService(AlarmCommand):
    """Out of service, for maintenance; a reason is required."""

    name: ClassVar[str] = "remove_alarm_from_service"

    reason: str = Field(min_length=1, pattern=r"\S")


class ReturnAlarmToService(AlarmCommand):
    name: ClassVar[str] = "return_alarm_to_service"


TYPES: tuple[type[Command], ...] = (
    AcknowledgeAlarm,
    ShelveAlarm,
    UnshelveAlarm,
    ResetAlarm,
    RemoveAlarmFromService,
    ReturnAlarmToService,
)
