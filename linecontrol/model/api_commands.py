"""The local API's own commands (the point of control): in the imperative, frozen,
typed, versioned (no I/O).

Registered in ``linecontrol.model.commands.COMMAND_TYPES`` by wire name through
``TYPES``; every command carries who gave it, a request id, when and why
(``linecontrol.model.command_base.Command``). The serve process answers them itself
(``linecontrol.server``); they never reach the supervisor. One client holds control
at a time; ``take_control`` with ``force`` hands it over from another holder.
"""

from __future__ import annotations

from typing import ClassVar

from linecontrol.model.command_base import Command


class TakeControl(Command):
    """Take the point of control (``force``: from another holder, a hand-over)."""

    name: ClassVar[str] = "take_control"

    force: bool = False


class ReleaseControl(Command):
    """Give the point of control up (nobody holds it after)."""

    name: ClassVar[str] = "release_control"


TYPES: tuple[type[Command], ...] = (TakeControl, ReleaseControl)
