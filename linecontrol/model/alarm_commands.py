"""The alarms' operator commands (acknowledge, shelve, out of service): in the
imperative, frozen, typed, versioned (no I/O).

Registered in ``linecontrol.model.commands.COMMAND_TYPES`` by wire name through
``TYPES``; every command carries who gave it, a request id, when and why
(``linecontrol.model.command_base.Command``).
"""

from __future__ import annotations

from linecontrol.model.command_base import Command

TYPES: tuple[type[Command], ...] = ()
