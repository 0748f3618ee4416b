"""The PackML state machine, table-driven and without an event loop: the numbering and
the transition table against ``anchors.md`` 2.1, every row, every command the table has
no row for, unit modes, first-out, request ids, trips, boot, and a hypothesis stateful
test on random sequences of commands, state completes and trips."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, get_args

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from linecontrol.errors import InvalidArgument
from linecontrol.model import (
    COMMAND_TYPES,
    PACKML_COMMANDS,
    CommandRejected,
    LoadRecipe,
    ModeChanged,
    PackMLCommand,
    SetMode,
    StateChanged,
    StateName,
)
from linecontrol.supervisor import (
    ABORTABLE,
    COMMANDS,
    MODE_CHANGE_STATES,
    MODE_STATES,
    REMEMBERED,
    SC,
    STOPPABLE,
    TABLE,
    TMC_NUMBER,
    Mode,
    PackML,
    State,
    Trigger,
    allowed_commands,
    boot,
    complete,
    handle,
    is_duplicate,
    next_state,
    remember,
    request_key,
    trip,
)

S = State
P = Mode.PRODUCTION


def cmd(name: str, request_id: str = "", by: str = "ana") -> PackMLCommand:
    c = COMMAND_TYPES[name](by=by, request_id=request_id)
    assert isinstance(c, PackMLCommand)
    return c


def at(state: State, mode: Mode = P, first_out: str = "") -> PackML:
    return PackML(state, mode, first_out, (), 0.0)


# ------------------------------------------------------------------ numbering
# anchors.md 2.1: state, kind, PackTags StateCurrent (OPC 30050), OPC UA TMC (OPC 30060).
ANCHORS = [
    ("Undefined", None, 0, None),
    ("Clearing", "acting", 1, 10),
    ("Stopped", "wait", 2, 0),
    ("Starting", "acting", 3, 3),
    ("Idle", "wait", 4, 2),
    ("Suspended", "wait", 5, 12),
    ("Execute", "acting", 6, 4),
    ("Stopping", "acting", 7, 9),
    ("Aborting", "acting", 8, 7),
    ("Aborted", "wait", 9, 8),
    ("Holding", "acting", 10, 14),
    ("Held", "wait", 11, 15),
    ("Unholding", "acting", 12, 16),
    ("Suspending", "acting", 13, 11),
    ("Unsuspending", "acting", 14, 13),
    ("Resetting", "acting", 15, 1),
    ("Completing", "acting", 16, 5),
    ("Complete", "wait", 17, 6),
]


def test_numbering_is_the_anchors_table() -> None:
    assert [(s.label, int(s), s.tmc) for s in State] == [(n, v, t) for n, _, v, t in ANCHORS]
    assert {
        s.label: ("acting" if s.is_acting else "wait" if s.is_wait else None) for s in State
    } == {n: k for n, k, _, _ in ANCHORS}
    assert sorted(TMC_NUMBER.values()) == list(range(17))  # one number each
    assert [s.label for s in State] == list(get_args(StateName))  # the events' names
    assert [(m.wire, int(m)) for m in Mode] == [
        ("production", 1),
        ("maintenance", 2),
        ("manual", 3),
    ]


# ------------------------------------------------------------------ the table
# anchors.md 2.1, row by row (the last two rows by their groups).
ANCHOR_ROWS: list[tuple[str, Trigger, str]] = [
    ("Aborting", SC, "Aborted"),
    ("Aborted", "clear", "Clearing"),
    ("Clearing", SC, "Stopped"),
    ("Stopping", SC, "Stopped"),
    ("Stopped", "reset", "Resetting"),
    ("Resetting", SC, "Idle"),
    ("Idle", "start", "Starting"),
    ("Starting", SC, "Execute"),
    ("Execute", SC, "Completing"),
    ("Completing", SC, "Complete"),
    ("Complete", "reset", "Resetting"),
    ("Execute", "hold", "Holding"),
    ("Holding", SC, "Held"),
    ("Held", "unhold", "Unholding"),
    ("Unholding", SC, "Execute"),
    ("Execute", "suspend", "Suspending"),
    ("Suspending", SC, "Suspended"),
    ("Suspended", "unsuspend", "Unsuspending"),
    ("Unsuspending", SC, "Execute"),
]
ANCHOR_STOPPABLE = {
    *("Resetting", "Idle", "Starting", "Execute", "Completing", "Complete"),
    *("Holding", "Held", "Unholding", "Suspending", "Suspended", "Unsuspending"),
}


def test_the_table_is_the_anchors_table() -> None:
    assert {s.label for s in STOPPABLE} == ANCHOR_STOPPABLE and len(STOPPABLE) == 12
    # Abort from every state but Aborting and Aborted (and Undefined, never entered): 15.
    assert set(State) - {S.ABORTING, S.ABORTED, S.UNDEFINED} == ABORTABLE
    assert len(ABORTABLE) == 15
    expected = {(State[f.upper()], e): State[t.upper()] for f, e, t in ANCHOR_ROWS}
    # The marked extensions: the 2015 model's optional Hold from a state coming up.
    expected |= {(s, "hold"): S.HOLDING for s in (S.STARTING, S.UNHOLDING, S.UNSUSPENDING)}
    expected |= {(s, "stop"): S.STOPPING for s in STOPPABLE}
    expected |= {(s, "abort"): S.ABORTING for s in ABORTABLE}
    assert dict(TABLE) == expected
    assert len(TABLE) == 19 + 3 + 12 + 15
    # Only SC of Starting, Unholding and Unsuspending reaches Execute.
    assert {k for k, v in TABLE.items() if v is S.EXECUTE} == {
        (S.STARTING, SC),
        (S.UNHOLDING, SC),
        (S.UNSUSPENDING, SC),
    }


@pytest.mark.parametrize(("source", "event"), sorted(TABLE))
def test_every_row(source: State, event: Trigger) -> None:
    target = TABLE[(source, event)]
    before = PackML(source, P, "", (), 1.0)
    if event == SC:
        after, events = complete(before, 7.0)
        cause, by = "state complete", ""
    else:
        after, events = handle(before, cmd(event, "r1"), 7.0)
        cause, by = event, "ana"
    assert after.state is target and after.mode is P and after.entered_at == 7.0
    # A command's first out names who gave it: an operator's own stop is no trip.
    own = f"{cause} by {by}" if by else cause
    first_out = own if target in (S.STOPPING, S.HOLDING, S.SUSPENDING, S.ABORTING) else ""
    assert after.first_out == first_out
    assert events == (
        StateChanged(
            old=source.label,
            new=target.label,
            mode="production",
            cause=cause,
            by=by,
            first_out=first_out,
        ),
    )


NOT_IN_TABLE = [
    (s, c) for s in State if s is not S.UNDEFINED for c in COMMANDS if (s, c) not in TABLE
]


@pytest.mark.parametrize(("state", "name"), NOT_IN_TABLE)
def test_a_command_the_table_has_no_row_for_is_rejected_with_no_change(
    state: State, name: str
) -> None:
    before = PackML(state, P, "web break", ("r0",), 3.0)
    command = cmd(name, "r1")
    after, events = handle(before, command, 9.0)
    key = request_key(command)
    assert after == PackML(state, P, "web break", ("r0", key), 3.0)  # only the request kept
    assert events == (
        CommandRejected(command=command, reason=f"{name} is not allowed in {state.label}"),
    )
    assert name not in allowed_commands(before)


@pytest.mark.parametrize("state", [s for s in State if (s, SC) not in TABLE])
def test_state_complete_of_a_wait_state_does_nothing(state: State) -> None:
    before = at(state)
    assert complete(before, 5.0) == (before, ())


def test_a_state_complete_for_a_state_already_left_does_nothing() -> None:
    # Stop came while Starting's work was finishing: its SC must not end Stopping.
    stopping = at(S.STOPPING)
    assert complete(stopping, 5.0, S.STARTING) == (stopping, ())
    assert complete(stopping, 5.0, S.STOPPING)[0].state is S.STOPPED


@pytest.mark.parametrize("state", [s for s in State if s is not S.UNDEFINED])
def test_allowed_commands_are_the_rows_from_here(state: State) -> None:
    buttons: set[str] = {c for c in COMMANDS if (state, c) in TABLE}
    if state in MODE_CHANGE_STATES:
        buttons.add("set_mode")
    assert allowed_commands(at(state)) == buttons


# ------------------------------------------------------------------ modes
def test_mode_subsets() -> None:
    everything = set(State) - {S.UNDEFINED}
    assert MODE_STATES[Mode.PRODUCTION] == everything
    assert MODE_STATES[Mode.MAINTENANCE] == everything - {
        S.SUSPENDING,
        S.SUSPENDED,
        S.UNSUSPENDING,
        S.COMPLETING,
        S.COMPLETE,
    }
    assert MODE_STATES[Mode.MANUAL] == {
        S.CLEARING,
        S.STOPPED,
        S.STOPPING,
        S.ABORTING,
        S.ABORTED,
        S.RESETTING,
        S.IDLE,
    }
    assert all(MODE_STATES[m] >= MODE_CHANGE_STATES for m in Mode)
    # Each mode's rows stay inside it.
    for m in Mode:
        for (source, event), _ in TABLE.items():
            target = next_state(source, m, event)
            if target is not None:
                assert {source, target} <= MODE_STATES[m], (m, source, event)


def test_maintenance_runs_but_never_suspends_or_completes() -> None:
    m = at(S.EXECUTE, Mode.MAINTENANCE)
    assert allowed_commands(m) == {"hold", "stop", "abort"}
    after, [rejected] = handle(m, cmd("suspend"), 1.0)
    assert after.state is S.EXECUTE
    assert rejected == CommandRejected(
        command=cmd("suspend"), reason="suspend is not allowed in Execute in maintenance mode"
    )
    assert complete(m, 1.0) == (m, ())  # a job never completes in Maintenance
    held, _ = handle(m, cmd("hold"), 1.0)
    assert held.state is S.HOLDING


def test_manual_goes_no_further_than_idle() -> None:
    idle = at(S.IDLE, Mode.MANUAL)
    assert allowed_commands(idle) == {"stop", "abort", "set_mode"}
    after, [rejected] = handle(idle, cmd("start"), 1.0)
    assert after.state is S.IDLE and isinstance(rejected, CommandRejected)
    assert rejected.reason == "start is not allowed in Idle in manual mode"
    assert allowed_commands(at(S.STOPPED, Mode.MANUAL)) == {"reset", "abort", "set_mode"}
    assert allowed_commands(at(S.ABORTED, Mode.MANUAL)) == {"clear", "set_mode"}


@pytest.mark.parametrize("state", sorted(MODE_CHANGE_STATES))
def test_the_mode_changes_in_stopped_idle_and_aborted(state: State) -> None:
    before = PackML(state, P, "o2 trip", (), 2.0)
    after, events = handle(before, SetMode(by="eve", request_id="m1", mode="manual"), 9.0)
    assert after == PackML(state, Mode.MANUAL, "o2 trip", ("eve/set_mode:m1",), 2.0)
    assert events == (ModeChanged(old="production", new="manual", by="eve"),)


@pytest.mark.parametrize("state", sorted(set(State) - MODE_CHANGE_STATES - {S.UNDEFINED}))
def test_the_mode_does_not_change_elsewhere(state: State) -> None:
    before = at(state)
    command = SetMode(by="eve", mode="maintenance")
    after, events = handle(before, command, 9.0)
    assert after == before
    assert events == (
        CommandRejected(
            command=command,
            reason=f"the mode changes only in Stopped, Idle or Aborted, not in {state.label}",
        ),
    )


def test_the_same_mode_is_rejected() -> None:
    command = SetMode(by="eve", mode="production")
    after, [event] = handle(at(S.STOPPED), command, 1.0)
    assert after == at(S.STOPPED)
    reason = "the unit is in production mode already"
    assert event == CommandRejected(command=command, reason=reason)


# ------------------------------------------------------------------ first out
def test_first_out_is_the_first_cause_not_the_cascade() -> None:
    m = at(S.EXECUTE)
    m, [e1] = trip(m, "hold", "web break", 1.0)
    assert m.state is S.HOLDING and m.first_out == "web break"
    assert isinstance(e1, StateChanged) and e1.first_out == "web break" and e1.by == ""
    m, [e2] = trip(m, "abort", "press overload", 2.0)
    assert m.state is S.ABORTING and m.first_out == "web break"
    assert e2 == StateChanged(
        old="Holding",
        new="Aborting",
        mode="production",
        cause="press overload",
        first_out="web break",
    )
    m, _ = complete(m, 3.0)
    m, _ = handle(m, cmd("stop"), 4.0)  # rejected: no change to the first out
    assert (m.state, m.first_out) == (S.ABORTED, "web break")
    m, [cleared] = handle(m, cmd("clear"), 5.0)
    assert m.first_out == "" and isinstance(cleared, StateChanged) and cleared.first_out == ""
    m, _ = complete(m, 6.0)
    m, [stopped_by] = handle(at(S.IDLE), cmd("stop", by="ana"), 7.0)
    assert stopped_by == StateChanged(
        old="Idle",
        new="Stopping",
        mode="production",
        cause="stop",
        by="ana",
        first_out="stop by ana",
    )


def test_reset_forgets_the_first_out() -> None:
    m = at(S.STOPPED, first_out="o2 trip")
    m, [e] = handle(m, cmd("reset"), 1.0)
    assert m.first_out == "" and isinstance(e, StateChanged) and e.first_out == ""
    m = at(S.COMPLETE, first_out="x")
    assert handle(m, cmd("reset"), 1.0)[0].first_out == ""


# ------------------------------------------------------------------ trips
@pytest.mark.parametrize(
    ("state", "mode", "to", "expected"),
    [
        (S.EXECUTE, P, "hold", S.HOLDING),
        (S.EXECUTE, P, "suspend", S.SUSPENDING),
        (S.EXECUTE, P, "stop", S.STOPPING),
        (S.EXECUTE, P, "abort", S.ABORTING),
        (S.EXECUTE, Mode.MAINTENANCE, "suspend", S.HOLDING),  # no Suspended there
        (S.STARTING, P, "hold", S.HOLDING),  # the marked extension row
        (S.IDLE, P, "suspend", S.STOPPING),
        (S.UNHOLDING, P, "hold", S.HOLDING),
        (S.IDLE, P, "hold", S.STOPPING),  # no Hold row from Idle
        (S.SUSPENDED, P, "hold", S.STOPPING),
        (S.IDLE, Mode.MANUAL, "hold", S.STOPPING),
        (S.STOPPED, P, "abort", S.ABORTING),
        (S.CLEARING, P, "abort", S.ABORTING),
        (S.STOPPING, P, "abort", S.ABORTING),
        # met already: there, on the way, or somewhere at least as safe
        (S.HELD, P, "hold", None),
        (S.HOLDING, P, "suspend", None),
        (S.SUSPENDED, P, "suspend", None),
        (S.STOPPED, P, "hold", None),
        (S.STOPPING, P, "stop", None),
        (S.CLEARING, P, "stop", None),
        (S.ABORTED, P, "stop", None),
        (S.ABORTING, P, "abort", None),
        (S.ABORTED, P, "abort", None),
    ],
)
def test_trip(state: State, mode: Mode, to: Any, expected: State | None) -> None:
    before = at(state, mode)
    after, events = trip(before, to, "interlock", 4.0)
    if expected is None:
        assert (after, events) == (before, ())
    else:
        assert after.state is expected and after.first_out == "interlock"
        assert events == (
            StateChanged(
                old=state.label,
                new=expected.label,
                mode=mode.wire,
                cause="interlock",
                first_out="interlock",
            ),
        )


def test_every_trip_from_every_state_is_safe() -> None:
    strength = {"suspend": 0, "hold": 1, "stop": 2, "abort": 3}
    reached = {
        S.SUSPENDING: "suspend",
        S.HOLDING: "hold",
        S.STOPPING: "stop",
        S.ABORTING: "abort",
    }
    for mode in Mode:
        for state in sorted(MODE_STATES[mode]):
            for to in strength:
                after, events = trip(at(state, mode), to, "x", 1.0)  # type: ignore[arg-type]
                assert after.state is not S.EXECUTE
                assert after.state in MODE_STATES[mode]
                if events:  # a reaction at least as strong as asked
                    assert strength[reached[after.state]] >= strength[to]


# ------------------------------------------------------------------ request ids
def test_the_same_request_twice_acts_once() -> None:
    m, _ = boot(True, 0.0)
    m, [e] = handle(m, cmd("reset", "r1"), 1.0)
    assert m.state is S.RESETTING and isinstance(e, StateChanged)
    m, _ = complete(m, 2.0)
    assert m.state is S.IDLE
    assert is_duplicate(m, request_key(cmd("reset", "r1")))
    # The same id on another command is another request (an Abort is never lost to it).
    assert not is_duplicate(m, request_key(cmd("abort", "r1")))
    # So is the same command with the same id from another caller (two API clients
    # counting their ids alike): not a duplicate of ana's.
    assert not is_duplicate(m, request_key(cmd("reset", "r1", by="bob@tui-2")))
    # Sent again (a client retrying): neither applied nor rejected as invalid.
    assert handle(m, cmd("reset", "r1"), 3.0) == (m, ())
    # A rejected request is handled too: its retry is a duplicate, not a second rejection.
    m, [rejected] = handle(m, cmd("unhold", "r2"), 4.0)
    assert isinstance(rejected, CommandRejected)
    assert handle(m, cmd("unhold", "r2"), 5.0) == (m, ())
    # An empty request id is never a duplicate.
    m, _ = handle(m, cmd("stop", ""), 6.0)
    assert m.state is S.STOPPING
    assert m.handled == (request_key(cmd("reset", "r1")), request_key(cmd("unhold", "r2")))
    assert not is_duplicate(m, "")


def test_the_oldest_request_ids_are_forgotten_first() -> None:
    m = at(S.STOPPED)
    for i in range(REMEMBERED + 1):
        m = remember(m, f"r{i}")
    assert len(m.handled) == REMEMBERED
    assert not is_duplicate(m, "r0") and is_duplicate(m, "r1") and is_duplicate(m, f"r{REMEMBERED}")
    assert remember(m, "r5") is m  # known already: kept where it was
    m = remember(m, "ana/reset:r9")
    assert handle(m, cmd("reset", "r9"), 1.0) == (m, ())  # remembered: a duplicate
    after, events = handle(m, cmd("reset", "r0"), 1.0)  # never seen as ana/reset:r0: acts
    assert after.state is S.RESETTING and after.handled[-1] == "ana/reset:r0" and events


# ------------------------------------------------------------------ boot, bad input
def test_boot() -> None:
    clean, [e] = boot(True, 5.0)
    assert clean == PackML(S.STOPPED, P, "", (), 5.0)
    assert e == StateChanged(old="Undefined", new="Stopped", mode="production", cause="boot")
    unclean, [e] = boot(False, 5.0, Mode.MAINTENANCE)
    assert unclean == PackML(S.ABORTED, Mode.MAINTENANCE, "unclean stop", (), 5.0)
    cause = "boot after an unclean stop"
    assert e == StateChanged(
        old="Undefined", new="Aborted", mode="maintenance", cause=cause, first_out="unclean stop"
    )
    assert allowed_commands(unclean) == {"clear", "set_mode"}


@pytest.mark.parametrize("now", [math.nan, math.inf, -math.inf])
def test_a_non_finite_time_is_refused(now: float) -> None:
    m = at(S.STOPPED)
    calls: list[Callable[[], object]] = [
        lambda: handle(m, cmd("reset"), now),
        lambda: complete(m, now),
        lambda: trip(m, "stop", "x", now),
        lambda: boot(True, now),
    ]
    for call in calls:
        with pytest.raises(InvalidArgument, match="finite"):
            call()


def test_what_the_machine_does_not_handle_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="load_recipe"):
        handle(at(S.IDLE), LoadRecipe(by="ana", path="r.toml"), 1.0)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="cause"):
        trip(at(S.EXECUTE), "hold", "", 1.0)


# ------------------------------------------------------------------ random sequences
NAMES = [c.name for c in PACKML_COMMANDS]


class Sequences(RuleBasedStateMachine):
    """Random commands, state completes, trips, mode changes, repeated request ids."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.ids: list[str] = []
        self.cleared = self.reset = True

    @initialize(clean=st.booleans())
    def start(self, clean: bool) -> None:
        self.m, _ = boot(clean, 0.0)
        self.cleared = self.reset = clean

    def _tick(self) -> float:
        self.now += 1.0
        return self.now

    def _moved(self, before: PackML, after: PackML, events: tuple[Any, ...]) -> None:
        changes = [e for e in events if isinstance(e, StateChanged)]
        if after.state is not before.state:
            assert [(e.old, e.new) for e in changes] == [(before.state.label, after.state.label)]
            assert after.entered_at == self.now
        else:
            assert changes == []
        if after.state is S.EXECUTE and before.state is not S.EXECUTE:
            assert before.state in (S.STARTING, S.UNHOLDING, S.UNSUSPENDING)
            assert self.cleared and self.reset  # never Execute after Aborted without both
        if after.state is S.ABORTED:
            self.cleared = self.reset = False
        if after.state is S.CLEARING and before.state is not S.CLEARING:
            self.cleared = True
        if after.state is S.RESETTING and before.state is not S.RESETTING and self.cleared:
            self.reset = True
        self.m = after

    @rule(data=st.data())
    def press_a_button(self, data: st.DataObject) -> None:
        """An allowed command, mostly one that leads on (so that runs reach the deep
        states too: Abort and Stop are buttons almost everywhere)."""
        buttons = sorted(allowed_commands(self.m) - {"set_mode"})
        onwards = [b for b in buttons if b not in ("abort", "stop")]
        if onwards and data.draw(st.integers(0, 5)) < 5:
            buttons = onwards
        if buttons:
            self.command(data.draw(st.sampled_from(buttons)), True, True)

    @rule(data=st.data(), steps=st.integers(1, 10))
    def run_on(self, data: st.DataObject, steps: int) -> None:
        """Several steps forward: complete an acting state, press a button that leads on
        in a wait state (the way a run goes, into Execute, Held, Suspended, Complete)."""
        for _ in range(steps):
            if self.m.state.is_acting and self.m.state is not S.EXECUTE:
                self.state_complete()
                continue
            onwards = sorted(allowed_commands(self.m) - {"set_mode", "abort", "stop"})
            if self.m.state is S.EXECUTE:
                onwards.append(SC)
            if not onwards:
                return
            pick = data.draw(st.sampled_from(onwards))
            if pick == SC:
                self.state_complete()
            else:
                self.command(pick, True, True)

    @rule(name=st.sampled_from(NAMES), fresh=st.booleans(), now=st.integers(0, 2).map(bool))
    def command(self, name: str, fresh: bool, now: bool) -> None:
        """Any command, allowed or not, with a new request id or the last one again
        (a third of the time: the buttons lead the runs)."""
        if not now:
            return
        if fresh or not self.ids:
            request_id = f"r{len(self.ids)}"
            self.ids.append(request_id)
        else:
            request_id = self.ids[-1]
        before = self.m
        buttons = allowed_commands(before)
        after, events = handle(before, cmd(name, request_id), self._tick())
        if is_duplicate(before, request_key(cmd(name, request_id))):
            assert (after, events) == (before, ())
            return
        accepted = [e for e in events if isinstance(e, StateChanged)]
        assert bool(accepted) == (name in buttons)
        if not accepted:
            assert len(events) == 1 and isinstance(events[0], CommandRejected)
            assert (after.state, after.mode, after.first_out) == (
                before.state,
                before.mode,
                before.first_out,
            )
        if name == "abort" and before.state not in (S.ABORTING, S.ABORTED):
            assert after.state is S.ABORTING
        self._moved(before, after, events)

    @rule()
    def state_complete(self) -> None:
        before = self.m
        after, events = complete(before, self._tick())
        assert (after is before) == (not before.state.is_acting or not events)
        self._moved(before, after, events)

    @rule(
        to=st.sampled_from(["suspend", "hold", "stop", "abort"]),
        cause=st.sampled_from(["web break", "o2 trip", "press overload"]),
        now=st.integers(0, 3).map(lambda n: n == 3),
    )
    def interlock(self, to: Any, cause: str, now: bool) -> None:
        if not now:  # most of the time the line runs without a fault
            return
        before = self.m
        after, events = trip(before, to, cause, self._tick())
        if to == "abort" and before.state not in (S.ABORTING, S.ABORTED):
            assert after.state is S.ABORTING
        if events and not before.first_out:
            assert after.first_out == cause
        if before.first_out:
            assert after.first_out == before.first_out  # the cascade never replaces it
        self._moved(before, after, events)

    @rule(mode=st.sampled_from(["production", "maintenance", "manual"]), now=st.booleans())
    def set_mode(self, mode: Any, now: bool) -> None:
        if not now:
            return
        before = self.m
        after, events = handle(before, SetMode(by="eve", mode=mode), self._tick())
        assert after.state is before.state
        changed = [e for e in events if isinstance(e, ModeChanged)]
        assert bool(changed) == (before.state in MODE_CHANGE_STATES and before.mode.wire != mode)
        self.m = after

    @invariant()
    def consistent(self) -> None:
        m = getattr(self, "m", None)
        if m is None:
            return
        assert m.state in MODE_STATES[m.mode]
        assert len(m.handled) <= REMEMBERED
        if m.state in (S.STOPPING, S.HOLDING, S.SUSPENDING, S.ABORTING):
            assert m.first_out != ""


Sequences.TestCase.settings = settings(max_examples=150, stateful_step_count=60, deadline=None)
test_random_sequences = Sequences.TestCase
