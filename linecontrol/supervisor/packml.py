"""The PackML state machine (ISA-TR88.00.02): states, the transition table, unit
modes, and a pure machine that answers commands (no I/O, no clock: ``now`` is given).

States and numbers. ``State`` holds the PackTags ``StateCurrent`` numbers, the ones
the OPC UA PackML companion specification (OPC 30050) uses (Undefined 0, Clearing 1,
Stopped 2, ... Complete 17); ``TMC_NUMBER`` is the other numbering, OPC UA TMC's
``StateEnumeration`` (OPC 30060; Stopped 0, Idle 2, Execute 4...), which has no
Undefined. Each state is acting (it does something, then ends with state complete,
"SC") or waiting (it stays until a command); Execute is acting: its SC is "the job
is done" and leads to Completing.

The table. ``TRANSITIONS`` is the table of ``anchors.md`` 2.1 as (from, event, to)
rows that read top to bottom; an event is a command's wire name or ``SC``. Stop is
allowed from the twelve ``STOPPABLE`` states, Abort from the fifteen ``ABORTABLE``
ones (every state but Aborting, Aborted and Undefined). Three optional (dashed)
Hold transitions of the 2015 model are taken, as marked extensions: Hold from
Starting, Unholding and Unsuspending (a start that cannot reach readiness ends in
Held with its reason). ``TABLE`` is the same rows by
(from, event).

Unit modes (``Mode``: Production 1, Maintenance 2, Manual 3). Each mode is a subset
of the states and commands (``MODE_STATES``, ``MODE_COMMANDS``); a row of the table
applies in a mode when both its states are in the mode and its command is too.
Production has them all. Maintenance has no Suspending, Suspended, Unsuspending,
Completing or Complete, and no Suspend or Unsuspend: the line may run (Execute) but
a job never completes. Manual has no Starting, Execute or anything after it: the
machine goes no further than Idle, and only Reset, Stop, Abort and Clear are
buttons; jogging the web and setting values without a recipe are the supervisor
core's business in that mode. The mode changes (``SetMode``) only in Stopped, Idle
or Aborted (``MODE_CHANGE_STATES``), states every mode has, to a mode other than
the current one.

The machine (``PackML``, frozen) is the state, the mode, the first-out cause, the
request ids already handled and when the state was entered; the functions return
a new machine and the events to log:

- ``handle`` answers a PackML command or ``SetMode``. A command not allowed now
  changes nothing and gives a ``CommandRejected`` with its reason.
- Request ids: the same command (wire name) with a non-empty request id handled
  before (applied or rejected) is a duplicate: ``handle`` returns the machine unchanged
  and no event (neither applied again nor rejected as invalid); ``is_duplicate`` of its
  ``request_key`` tells the shell so it can answer "duplicate". The same id on another
  command, or from another caller (``by``), is a new request (an Abort is never lost to
  an old Reset's id, nor one client's command to another's). The last
  ``REMEMBERED`` keys are kept, the oldest forgotten first. An empty request id is never
  a duplicate. ``remember`` lets the supervisor core keep the keys of its own commands
  (recipes, setpoints) in the same memory.
- ``complete`` is state complete of the acting state (it does nothing in a wait
  state, in a state it is not for, or where the mode has no SC row).
- ``trip`` is an interlock or alarm: hold, stop, abort or suspend, with its cause.
- ``allowed_commands`` gives the wire names the operator may press now.
- ``boot`` starts the machine: Stopped after a clean stop, Aborted after an unclean
  one.

First out. The first cause that takes the machine into Stopping, Holding,
Suspending or Aborting (a command's wire name and who gave it, ``hold by ana``, or a
trip's cause) is recorded as ``first_out``; later causes (the cascade) do not replace
it. Accepting Reset, Clear, Unhold or Unsuspend forgets it. Every ``StateChanged`` carries it.

The machine never goes to Execute by itself: the only rows into Execute are SC of
Starting, Unholding and Unsuspending, which are entered by Start, Unhold and
Unsuspend; neither ``boot``, ``trip`` nor a mode change leads there.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import IntEnum
from types import MappingProxyType
from typing import Final, Literal, cast

from linecontrol.errors import InvalidArgument, LinecontrolError
from linecontrol.model import (
    Command,
    CommandRejected,
    Event,
    ModeChanged,
    ModeName,
    PackMLCommand,
    SetMode,
    StateChanged,
    StateName,
)


class State(IntEnum):
    """A PackML state, valued by its PackTags / OPC 30050 number."""

    UNDEFINED = 0
    CLEARING = 1
    STOPPED = 2
    STARTING = 3
    IDLE = 4
    SUSPENDED = 5
    EXECUTE = 6
    STOPPING = 7
    ABORTING = 8
    ABORTED = 9
    HOLDING = 10
    HELD = 11
    UNHOLDING = 12
    SUSPENDING = 13
    UNSUSPENDING = 14
    RESETTING = 15
    COMPLETING = 16
    COMPLETE = 17

    @property
    def label(self) -> StateName:
        """The state's name as events carry it (``Stopped``, ``Unsuspending``)."""
        return cast(StateName, self.name.title())

    @property
    def is_acting(self) -> bool:
        return self in ACTING

    @property
    def is_wait(self) -> bool:
        return self in WAIT

    @property
    def tmc(self) -> int | None:
        """The OPC UA TMC ``StateEnumeration`` number (``None`` for Undefined)."""
        return TMC_NUMBER.get(self)


S = State


class TableError(LinecontrolError, AssertionError):
    """The transition table contradicts itself (two rows for one state and event, or a
    state with no reaction to Abort): a programming error, found at import."""


ACTING: Final = frozenset(
    {
        S.CLEARING,
        S.STARTING,
        S.EXECUTE,
        S.STOPPING,
        S.ABORTING,
        S.HOLDING,
        S.UNHOLDING,
        S.SUSPENDING,
        S.UNSUSPENDING,
        S.RESETTING,
        S.COMPLETING,
    }
)
WAIT: Final = frozenset({S.STOPPED, S.IDLE, S.SUSPENDED, S.ABORTED, S.HELD, S.COMPLETE})

# OPC UA TMC StateEnumeration (OPC 30060 §11.9).
TMC_NUMBER: Final[Mapping[State, int]] = MappingProxyType(
    {
        S.STOPPED: 0,
        S.RESETTING: 1,
        S.IDLE: 2,
        S.STARTING: 3,
        S.EXECUTE: 4,
        S.COMPLETING: 5,
        S.COMPLETE: 6,
        S.ABORTING: 7,
        S.ABORTED: 8,
        S.STOPPING: 9,
        S.CLEARING: 10,
        S.SUSPENDING: 11,
        S.SUSPENDED: 12,
        S.UNSUSPENDING: 13,
        S.HOLDING: 14,
        S.HELD: 15,
        S.UNHOLDING: 16,
    }
)

Trigger = Literal[
    "reset", "start", "stop", "hold", "unhold", "suspend", "unsuspend", "abort", "clear", "SC"
]
SC: Final = "SC"
STATE_COMPLETE: Final = "state complete"  # the cause of an SC transition in StateChanged

STOPPABLE: Final = frozenset(
    {
        S.RESETTING,
        S.IDLE,
        S.STARTING,
        S.EXECUTE,
        S.COMPLETING,
        S.COMPLETE,
        S.HOLDING,
        S.HELD,
        S.UNHOLDING,
        S.SUSPENDING,
        S.SUSPENDED,
        S.UNSUSPENDING,
    }
)
ABORTABLE: Final = STOPPABLE | {S.CLEARING, S.STOPPED, S.STOPPING}

# fmt: off
TRANSITIONS: Final[tuple[tuple[State | frozenset[State], Trigger, State], ...]] = (
    # from           event        to
    (S.ABORTING,     SC,          S.ABORTED),
    (S.ABORTED,      "clear",     S.CLEARING),
    (S.CLEARING,     SC,          S.STOPPED),
    (S.STOPPING,     SC,          S.STOPPED),
    (S.STOPPED,      "reset",     S.RESETTING),
    (S.RESETTING,    SC,          S.IDLE),
    (S.IDLE,         "start",     S.STARTING),
    (S.STARTING,     SC,          S.EXECUTE),
    (S.EXECUTE,      SC,          S.COMPLETING),  # the job is done
    (S.COMPLETING,   SC,          S.COMPLETE),
    (S.COMPLETE,     "reset",     S.RESETTING),
    (S.EXECUTE,      "hold",      S.HOLDING),
    (S.HOLDING,      SC,          S.HELD),
    (S.HELD,         "unhold",    S.UNHOLDING),
    (S.UNHOLDING,    SC,          S.EXECUTE),
    (S.EXECUTE,      "suspend",   S.SUSPENDING),
    (S.SUSPENDING,   SC,          S.SUSPENDED),
    (S.SUSPENDED,    "unsuspend", S.UNSUSPENDING),
    (S.UNSUSPENDING, SC,          S.EXECUTE),
    # Extensions: three of the 2015 model's optional (dashed) Hold transitions. A start
    # that cannot reach readiness ends in Held with its reason (the supervisor's
    # readiness timeout, issue 9), and an operator may hold a line still coming up.
    (S.STARTING,     "hold",      S.HOLDING),
    (S.UNHOLDING,    "hold",      S.HOLDING),
    (S.UNSUSPENDING, "hold",      S.HOLDING),
    (STOPPABLE,      "stop",      S.STOPPING),
    (ABORTABLE,      "abort",     S.ABORTING),
)
# fmt: on


def _by_key() -> Mapping[tuple[State, Trigger], State]:
    table: dict[tuple[State, Trigger], State] = {}
    for sources, event, target in TRANSITIONS:
        for source in sources if isinstance(sources, frozenset) else (sources,):
            if (source, event) in table:
                raise TableError(f"two rows for {source.label} on {event}")
            table[(source, event)] = target
    return MappingProxyType(table)


TABLE: Final = _by_key()
"""``TRANSITIONS`` by (from, event)."""


class Mode(IntEnum):
    """A PackML unit mode (OPC UA PackML ``ProductionMaintenanceModeEnum``)."""

    PRODUCTION = 1
    MAINTENANCE = 2
    MANUAL = 3

    @property
    def wire(self) -> ModeName:
        """The name ``SetMode`` and the events use (``production``...)."""
        return cast(ModeName, self.name.lower())

    @classmethod
    def of(cls, name: ModeName) -> Mode:
        return cls[name.upper()]


COMMANDS: Final[tuple[Trigger, ...]] = (
    "reset", "start", "stop", "hold", "unhold", "suspend", "unsuspend", "abort", "clear"
)  # fmt: skip
_ALL_STATES = frozenset(State) - {S.UNDEFINED}
MODE_STATES: Final[Mapping[Mode, frozenset[State]]] = MappingProxyType(
    {
        Mode.PRODUCTION: _ALL_STATES,
        Mode.MAINTENANCE: _ALL_STATES
        - {S.SUSPENDING, S.SUSPENDED, S.UNSUSPENDING, S.COMPLETING, S.COMPLETE},
        Mode.MANUAL: frozenset(
            {S.CLEARING, S.STOPPED, S.STOPPING, S.ABORTING, S.ABORTED, S.RESETTING, S.IDLE}
        ),
    }
)
MODE_COMMANDS: Final[Mapping[Mode, frozenset[Trigger]]] = MappingProxyType(
    {
        Mode.PRODUCTION: frozenset(COMMANDS),
        Mode.MAINTENANCE: frozenset(COMMANDS) - {"suspend", "unsuspend"},
        Mode.MANUAL: frozenset({"reset", "stop", "abort", "clear"}),
    }
)
MODE_CHANGE_STATES: Final = frozenset({S.STOPPED, S.IDLE, S.ABORTED})


def next_state(state: State, mode: Mode, event: Trigger) -> State | None:
    """Where ``event`` takes ``state`` in ``mode``; ``None`` when no row applies."""
    target = TABLE.get((state, event))
    if target is None or target not in MODE_STATES[mode] or state not in MODE_STATES[mode]:
        return None
    if event != SC and event not in MODE_COMMANDS[mode]:
        return None
    return target


REMEMBERED: Final = 1024
"""How many request ids the machine remembers (the oldest is forgotten first)."""

# The states a trip's reaction leads to, and the states where it is already met (the
# machine is there or on its way, or somewhere at least as safe).
TripTo = Literal["suspend", "hold", "stop", "abort"]
_STRONGER: Final[Mapping[TripTo, TripTo]] = MappingProxyType(
    {"suspend": "hold", "hold": "stop", "stop": "abort"}
)
_MET: Final[Mapping[TripTo, frozenset[State]]] = MappingProxyType(
    {
        "abort": frozenset({S.ABORTING, S.ABORTED}),
        "stop": frozenset({S.ABORTING, S.ABORTED, S.STOPPING, S.STOPPED, S.CLEARING}),
        "hold": frozenset(
            {S.ABORTING, S.ABORTED, S.STOPPING, S.STOPPED, S.CLEARING, S.HOLDING, S.HELD}
        ),
        "suspend": frozenset(
            {S.ABORTING, S.ABORTED, S.STOPPING, S.STOPPED, S.CLEARING, S.HOLDING, S.HELD}
            | {S.SUSPENDING, S.SUSPENDED}
        ),
    }
)
_FIRST_OUT_STATES: Final = frozenset({S.STOPPING, S.HOLDING, S.SUSPENDING, S.ABORTING})


@dataclass(frozen=True, slots=True)
class PackML:
    """The machine: its state and mode, the first-out cause ("" when none), the
    request ids handled (oldest first, at most ``REMEMBERED``) and when (``now``,
    monotonic seconds) the state was entered."""

    state: State
    mode: Mode
    first_out: str = ""
    handled: tuple[str, ...] = ()
    entered_at: float = 0.0


Result = tuple[PackML, tuple[Event, ...]]


def _check_now(now: float) -> None:
    if not math.isfinite(now):
        raise InvalidArgument(f"now must be a finite time, got {now!r}")


def boot(clean: bool, now: float, mode: Mode = Mode.PRODUCTION) -> Result:
    """The machine at start: Stopped after a clean stop; Aborted after an unclean one
    (its first-out cause ``unclean stop``), so Clear and Reset come before any run."""
    _check_now(now)
    state = S.STOPPED if clean else S.ABORTED
    cause = "boot" if clean else "boot after an unclean stop"
    machine = PackML(state, mode, "" if clean else "unclean stop", (), now)
    return machine, (_changed(S.UNDEFINED, machine, cause, ""),)


def request_key(command: Command) -> str:
    """What a request is remembered by: who gave it, its command's wire name and its
    request id ("" for a command without one). The same id on another command is another
    request: a client that restarts its counter must never lose an Abort to an old Reset's
    id; nor is one client's request a duplicate of another's that chose the same id."""
    if not command.request_id:
        return ""
    return f"{command.by}/{command.name}:{command.request_id}"


def is_duplicate(machine: PackML, request_id: str) -> bool:
    """Whether a command with this request id was handled already (never for "")."""
    return request_id != "" and request_id in machine.handled


def remember(machine: PackML, request_id: str) -> PackML:
    """The machine with ``request_id`` among the handled ones ("" is not kept)."""
    if request_id == "" or request_id in machine.handled:
        return machine
    return replace(machine, handled=(*machine.handled, request_id)[-REMEMBERED:])


def allowed_commands(machine: PackML) -> frozenset[str]:
    """The wire names of the commands the machine accepts now (the operator's
    buttons): the PackML commands with a row from here in this mode, and
    ``set_mode`` in ``MODE_CHANGE_STATES``."""
    out: set[str] = {c for c in COMMANDS if next_state(machine.state, machine.mode, c) is not None}
    if machine.state in MODE_CHANGE_STATES:
        out.add(SetMode.name)
    return frozenset(out)


def handle(machine: PackML, command: PackMLCommand | SetMode, now: float) -> Result:
    """Answer a command: the new machine and its events (a ``StateChanged`` or a
    ``ModeChanged``), or the machine unchanged (but for the request id) and a
    ``CommandRejected`` with the reason; a duplicate request id gives the machine
    unchanged and no event."""
    _check_now(now)
    if not isinstance(command, PackMLCommand | SetMode):
        raise InvalidArgument(f"the PackML machine does not handle {command.name!r}")
    key = request_key(command)
    if is_duplicate(machine, key):
        return machine, ()
    after = remember(machine, key)
    if isinstance(command, SetMode):
        return _set_mode(after, command)
    name = cast(Trigger, command.name)
    target = next_state(machine.state, machine.mode, name)
    if target is None:
        return after, (CommandRejected(command=command, reason=_why_not(machine, name)),)
    # Reset and Clear end an episode; Unhold and Unsuspend take the line back towards
    # Execute, so the next stop's first-out cause is its own, not the hold's.
    forget = name in ("reset", "clear", "unhold", "unsuspend")
    return _enter(after, target, name, command.by, now, forget=forget)


def complete(machine: PackML, now: float, state: State | None = None) -> Result:
    """State complete of the acting state (of ``state`` when given: an SC for a
    state the machine has left already does nothing). Nothing happens in a wait
    state or where the mode has no SC row (Execute in Maintenance)."""
    _check_now(now)
    if state is not None and state is not machine.state:
        return machine, ()
    target = next_state(machine.state, machine.mode, SC)
    if target is None:
        return machine, ()
    return _enter(machine, target, STATE_COMPLETE, "", now)


def trip(machine: PackML, to: TripTo, cause: str, now: float) -> Result:
    """An interlock or alarm asks for ``to`` (suspend, hold, stop or abort) because
    of ``cause``. Nothing happens when the machine is there already, on its way, or
    somewhere at least as safe (abort > stop > hold > suspend: Stopping, Stopped and
    Clearing meet a stop, a hold and a suspend; Holding and Held a hold and a
    suspend). Otherwise the table's row for that command from the current state (in
    this mode) is taken; where there is none, the next stronger reaction: a suspend
    outside Execute, or in Maintenance, becomes a hold; a hold where no row holds
    (Idle, Suspended, Completing...) becomes a stop; Abort is allowed from
    every state left. ``cause`` becomes the first-out cause if none is recorded."""
    _check_now(now)
    if not cause:
        raise InvalidArgument("a trip needs a cause")
    reaction: TripTo | None = to
    while reaction is not None:
        if machine.state in _MET[reaction]:
            return machine, ()
        target = next_state(machine.state, machine.mode, reaction)
        if target is not None:
            return _enter(machine, target, cause, "", now)
        reaction = _STRONGER.get(reaction)
    raise TableError(f"no reaction from {machine.state.label}")  # Abort is from all 15


def _enter(
    machine: PackML, target: State, cause: str, by: str, now: float, forget: bool = False
) -> Result:
    """Into ``target``; ``forget``: the first-out cause is forgotten (Reset, Clear,
    Unhold, Unsuspend)."""
    first_out = machine.first_out
    if forget:
        first_out = ""
    elif target in _FIRST_OUT_STATES and not first_out:
        # An operator's own command says so ("hold by ana"): it is no trip's cause.
        first_out = f"{cause} by {by}" if by else cause
    after = replace(machine, state=target, first_out=first_out, entered_at=now)
    return after, (_changed(machine.state, after, cause, by),)


def _changed(old: State, machine: PackML, cause: str, by: str) -> StateChanged:
    return StateChanged(
        old=old.label,
        new=machine.state.label,
        mode=machine.mode.wire,
        cause=cause,
        by=by,
        first_out=machine.first_out,
    )


def _set_mode(machine: PackML, command: SetMode) -> Result:
    new = Mode.of(command.mode)
    if new is machine.mode:
        reason = f"the unit is in {new.wire} mode already"
    elif machine.state not in MODE_CHANGE_STATES:
        reason = f"the mode changes only in Stopped, Idle or Aborted, not in {machine.state.label}"
    else:
        after = replace(machine, mode=new)
        return after, (ModeChanged(old=machine.mode.wire, new=new.wire, by=command.by),)
    return machine, (CommandRejected(command=command, reason=reason),)


def _why_not(machine: PackML, command: Trigger) -> str:
    here = f"{command} is not allowed in {machine.state.label}"
    if TABLE.get((machine.state, command)) is not None:
        return f"{here} in {machine.mode.wire} mode"
    return here
