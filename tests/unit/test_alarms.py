"""The alarm engine (pure): every transition of the ISA-18.2 lifecycle (anchors.md 2.2)
with ``now`` passed in, delays and deadbands at their exact edges, chatter, bad values,
communication loss as its own class, shelving and its expiry, consequences, persistence
and its damage, and properties over random samples and operator actions."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from linecontrol.alarms import (
    LABELS,
    AlarmContext,
    AlarmState,
    AlarmStateError,
    Rejected,
    act,
    consequences,
    demands,
    from_json,
    initial,
    step,
    to_json,
)
from linecontrol.config import DEFAULT_LINE, AlarmDefinition, load_line
from linecontrol.errors import InvalidArgument, LinecontrolError
from linecontrol.model import (
    AcknowledgeAlarm,
    AlarmChanged,
    AlarmCommand,
    AlarmRaised,
    Event,
    Quality,
    RemoveAlarmFromService,
    ResetAlarm,
    ReturnAlarmToService,
    Sample,
    ShelveAlarm,
    UnshelveAlarm,
    decode_event,
)

CH = "press.roll_load_pv_kg"
SP = "press.roll_load_sp_kg"


def sample(now: float, values: dict[str, float], bad: dict[str, Quality] | None = None) -> Sample:
    names = sorted({*values, *(bad or {})})
    q = np.array([int((bad or {}).get(n, Quality.GOOD)) for n in names], dtype=np.uint8)
    v = np.array([values.get(n, math.nan) for n in names], dtype=np.float64)
    return Sample(t_mono=now, index={n: i for i, n in enumerate(names)}, values=v, quality_codes=q)


def definition(**kw: Any) -> AlarmDefinition:
    base: dict[str, Any] = {"channel": CH, "kind": "high", "limit": 10.0}
    return AlarmDefinition.model_validate({**base, **kw})


class Run:
    """One alarm (``a``) driven by hand: samples and commands at given times."""

    def __init__(self, **kw: Any) -> None:
        self.defs = {"a": definition(**kw)}
        self.alarms: dict[str, AlarmState] = initial(self.defs)
        self.events: list[Event] = []
        self.ctx = AlarmContext()

    @property
    def label(self) -> str:
        return self.alarms["a"].label

    def v(self, now: float, value: float, **extra: float) -> str:
        return self._step(now, sample(now, {CH: value, **extra}))

    def bad(self, now: float, q: Quality, value: float = 1e9) -> str:
        return self._step(now, sample(now, {CH: value}, {CH: q}))

    def _step(self, now: float, s: Sample) -> str:
        self.alarms, ev = step(self.defs, self.alarms, s, now, self.ctx)
        self.events += ev
        return self.label

    def cmd(self, now: float, command: AlarmCommand) -> str | Rejected:
        got = act(self.defs, self.alarms, command, now)
        if isinstance(got, Rejected):
            return got
        self.alarms, ev = got
        self.events += ev
        return self.label

    def ack(self, now: float) -> str | Rejected:
        return self.cmd(now, AcknowledgeAlarm(by="ana", alarm="a"))

    def shelve(self, now: float, duration: float) -> str | Rejected:
        return self.cmd(
            now, ShelveAlarm(by="ana", alarm="a", reason="chatter", duration_s=duration)
        )


# ------------------------------------------------------------------ the lifecycle table
# (definition overrides, steps, the label after each). A step: a number = a GOOD value at
# the next time (1 s apart), "ack", "reset", "shelve", "unshelve", "oos", "rts", "stale",
# or "state:<PackML state>" (the context for the samples after it).
TRANSITIONS: list[tuple[str, dict[str, Any], list[Any], list[str]]] = [
    ("NORM -> UNACK (condition)", {}, [5, 11], ["NORM", "UNACK"]),
    ("UNACK -> ACKED (acknowledge)", {}, [11, "ack"], ["UNACK", "ACKED"]),
    ("UNACK -> RTNUN (clears)", {}, [11, 5], ["UNACK", "RTNUN"]),
    ("ACKED -> NORM (clears)", {}, [11, "ack", 5], ["UNACK", "ACKED", "NORM"]),
    ("RTNUN -> NORM (acknowledge)", {}, [11, 5, "ack"], ["UNACK", "RTNUN", "NORM"]),
    ("RTNUN -> UNACK (recurs)", {}, [11, 5, 12], ["UNACK", "RTNUN", "UNACK"]),
    ("ACKED stays while active", {}, [11, "ack", 12], ["UNACK", "ACKED", "ACKED"]),
    (
        "latched: UNACK -> LATCHED_UNACK -> LATCHED_ACK -> NORM",
        {"latching": True},
        [11, 5, "ack", "reset"],
        ["UNACK", "LATCHED_UNACK", "LATCHED_ACK", "NORM"],
    ),
    (
        "latched: ACKED -> LATCHED_ACK (clears)",
        {"latching": True},
        [11, "ack", 5, "reset"],
        ["UNACK", "ACKED", "LATCHED_ACK", "NORM"],
    ),
    (
        "latched: recurs -> UNACK",
        {"latching": True},
        [11, 5, "ack", 12],
        ["UNACK", "LATCHED_UNACK", "LATCHED_ACK", "UNACK"],
    ),
    ("NORM -> SHLVD -> NORM", {}, ["shelve", "unshelve"], ["SHLVD", "NORM"]),
    ("UNACK -> SHLVD -> UNACK", {}, [11, "shelve", "unshelve"], ["UNACK", "SHLVD", "UNACK"]),
    (
        "ACKED -> SHLVD -> ACKED (the acknowledgement is kept)",
        {},
        [11, "ack", "shelve", "unshelve"],
        ["UNACK", "ACKED", "SHLVD", "ACKED"],
    ),
    (
        "RTNUN -> SHLVD -> RTNUN (the pending acknowledgement is kept)",
        {},
        [11, 5, "shelve", "unshelve"],
        ["UNACK", "RTNUN", "SHLVD", "RTNUN"],
    ),
    (
        "SHLVD: condition comes, unshelve -> UNACK",
        {},
        ["shelve", 11, "unshelve"],
        ["SHLVD", "SHLVD", "UNACK"],
    ),
    (
        "SHLVD: condition goes, unshelve -> RTNUN (never acknowledged)",
        {},
        [11, "shelve", 5, "unshelve"],
        ["UNACK", "SHLVD", "SHLVD", "RTNUN"],
    ),
    (
        "latched: UNACK -> SHLVD, clears, unshelve -> LATCHED_UNACK, ack, reset",
        {"latching": True},
        [11, "shelve", 5, "unshelve", "ack", "reset"],
        ["UNACK", "SHLVD", "SHLVD", "LATCHED_UNACK", "LATCHED_ACK", "NORM"],
    ),
    (
        "latched: SHLVD, comes and goes, unshelve -> LATCHED_UNACK",
        {"latching": True},
        ["shelve", 11, 5, "unshelve"],
        ["SHLVD", "SHLVD", "SHLVD", "LATCHED_UNACK"],
    ),
    (
        "latched: UNACK -> SHLVD, clears, the shelve expires -> LATCHED_UNACK",
        {"latching": True},
        [11, "shelve:2", 5, 5, 5],
        ["UNACK", "SHLVD", "SHLVD", "LATCHED_UNACK", "LATCHED_UNACK"],
    ),
    (
        "NORM -> DSUPR -> NORM",
        {"suppress_in": ["Held"]},
        ["state:Held", 5, "state:Execute", 5],
        ["NORM", "DSUPR", "DSUPR", "NORM"],
    ),
    (
        "UNACK -> DSUPR -> UNACK",
        {"suppress_in": ["Held"]},
        [11, "state:Held", 11, "state:Execute", 11],
        ["UNACK", "UNACK", "DSUPR", "DSUPR", "UNACK"],
    ),
    (
        "ACKED -> DSUPR, clears while suppressed -> NORM",
        {"suppress_in": ["Held"]},
        [11, "ack", "state:Held", 11, 5, "state:Execute", 5],
        ["UNACK", "ACKED", "ACKED", "DSUPR", "DSUPR", "DSUPR", "NORM"],
    ),
    (
        "RTNUN -> DSUPR -> RTNUN (the pending acknowledgement is kept)",
        {"suppress_in": ["Stopped"]},
        [11, 5, "state:Stopped", 5, "state:Idle", 5],
        ["UNACK", "RTNUN", "RTNUN", "DSUPR", "DSUPR", "RTNUN"],
    ),
    (
        "UNACK -> DSUPR, clears while suppressed -> RTNUN",
        {"suppress_in": ["Held"]},
        [11, "state:Held", 11, 5, "state:Execute", 5],
        ["UNACK", "UNACK", "DSUPR", "DSUPR", "DSUPR", "RTNUN"],
    ),
    (
        "latched: LATCHED_UNACK is not suppressed by design, stays until ack and reset",
        {"latching": True, "suppress_in": ["Stopped"]},
        [11, 5, "state:Stopped", 5, "state:Execute", 5, "ack", "reset"],
        ["UNACK", *["LATCHED_UNACK"] * 5, "LATCHED_ACK", "NORM"],
    ),
    (
        "latched: acknowledged and reset while suppressed -> DSUPR",
        {"latching": True, "suppress_in": ["Stopped"]},
        [11, 5, "state:Stopped", 5, "ack", "reset", 5, "state:Execute", 5],
        ["UNACK", *["LATCHED_UNACK"] * 3, "LATCHED_ACK", *["DSUPR"] * 3, "NORM"],
    ),
    (
        "latched: active at the stop, clears while suppressed -> LATCHED_UNACK",
        {"latching": True, "suppress_in": ["Stopped"]},
        [11, "state:Stopped", 11, 5, "state:Execute", 5],
        ["UNACK", "UNACK", "UNACK", "LATCHED_UNACK", "LATCHED_UNACK", "LATCHED_UNACK"],
    ),
    (
        "latching: raised while suppressed, gone before use -> nothing to reset",
        {"latching": True, "suppress_in": ["Stopped"]},
        ["state:Stopped", 11, 5, "state:Execute", 5],
        ["NORM", "DSUPR", "DSUPR", "DSUPR", "NORM"],
    ),
    (
        "latching: raised while suppressed, still there in use -> UNACK, latches",
        {"latching": True, "suppress_in": ["Stopped"]},
        ["state:Stopped", 11, "state:Execute", 11, 5],
        ["NORM", "DSUPR", "DSUPR", "UNACK", "LATCHED_UNACK"],
    ),
    ("NORM -> OOSRV -> NORM", {}, ["oos", 11, 5, "rts"], ["OOSRV", "OOSRV", "OOSRV", "NORM"]),
    ("UNACK -> OOSRV -> UNACK", {}, [11, "oos", "rts"], ["UNACK", "OOSRV", "UNACK"]),
    (
        "ACKED -> OOSRV -> ACKED (the acknowledgement is kept)",
        {},
        [11, "ack", "oos", "rts"],
        ["UNACK", "ACKED", "OOSRV", "ACKED"],
    ),
    (
        "latched: UNACK -> OOSRV, clears, return -> LATCHED_UNACK, ack, reset",
        {"latching": True},
        [11, "oos", 5, "rts", "ack", "reset"],
        ["UNACK", "OOSRV", "OOSRV", "LATCHED_UNACK", "LATCHED_ACK", "NORM"],
    ),
    (
        "latched: LATCHED_ACK -> OOSRV -> LATCHED_ACK",
        {"latching": True},
        [11, "ack", 5, "oos", "rts", "reset"],
        ["UNACK", "ACKED", "LATCHED_ACK", "OOSRV", "LATCHED_ACK", "NORM"],
    ),
    (
        "latching: raised out of service, gone before return -> nothing to reset",
        {"latching": True},
        ["oos", 11, 5, "rts"],
        ["OOSRV", "OOSRV", "OOSRV", "NORM"],
    ),
    (
        "RTNUN -> OOSRV, active again -> UNACK",
        {},
        [11, 5, "oos", 12, "rts"],
        ["UNACK", "RTNUN", "OOSRV", "OOSRV", "UNACK"],
    ),
    (
        "a bad value moves nothing",
        {},
        [11, "stale", 5, "stale"],
        ["UNACK", "UNACK", "RTNUN", "RTNUN"],
    ),
]


def _drive(r: Run, steps: Sequence[Any]) -> list[str]:
    labels: list[str] = []
    for t, s in enumerate(steps, start=1):
        now = float(t)
        if isinstance(s, int | float):
            got: str | Rejected = r.v(now, float(s))
        elif s == "stale":
            got = r.bad(now, Quality.STALE)
        elif s.startswith("state:"):
            r.ctx = replace(r.ctx, state=s.split(":")[1])
            got = r.label
        elif s.startswith("shelve:"):
            got = r.shelve(now, float(s.split(":")[1]))
        else:
            command = {
                "ack": AcknowledgeAlarm(by="ana", alarm="a"),
                "reset": ResetAlarm(by="ana", alarm="a"),
                "shelve": ShelveAlarm(by="ana", alarm="a", reason="r", duration_s=600.0),
                "unshelve": UnshelveAlarm(by="ana", alarm="a"),
                "oos": RemoveAlarmFromService(by="ana", alarm="a", reason="sensor swap"),
                "rts": ReturnAlarmToService(by="ana", alarm="a"),
            }[s]
            got = r.cmd(now, command)
        assert not isinstance(got, Rejected), (s, got)
        labels.append(got)
    return labels


@pytest.mark.parametrize(
    ("overrides", "steps", "labels"),
    [t[1:] for t in TRANSITIONS],
    ids=[t[0] for t in TRANSITIONS],
)
def test_the_lifecycle_table(
    overrides: dict[str, Any], steps: list[Any], labels: list[str]
) -> None:
    r = Run(**overrides)
    assert _drive(r, steps) == labels
    # one event per label change, with the labels it went between
    changes = [(a, b) for a, b in zip(["NORM", *labels], labels, strict=False) if a != b]
    assert [(e.old, e.new) for e in r.events] == changes  # type: ignore[attr-defined]


REJECTIONS: list[tuple[dict[str, Any], list[Any], Any, str]] = [
    ({}, [], "ack", "nothing to acknowledge"),
    ({}, [11, "ack"], "ack", "nothing to acknowledge"),
    ({}, [11], "reset", "not latched"),
    ({"latching": True}, [11], "reset", "still present"),
    ({"latching": True}, [11, 5], "reset", "acknowledge it before the reset"),
    ({}, [], "unshelve", "not shelved"),
    ({}, ["shelve"], "shelve", "only NORM, UNACK, ACKED or RTNUN"),
    ({"latching": True}, [11, 5], "shelve", "only NORM, UNACK, ACKED or RTNUN"),
    ({}, ["shelve"], "ack", "hidden"),
    ({"latching": True}, [11, 5, "ack", "oos"], "reset", "return it to service"),
    ({"latching": True}, [11, "shelve", 5], "reset", "unshelve it"),
    ({"latching": True}, [11, 5, "oos"], "ack", "hidden"),
    ({}, [], "rts", "not out of service"),
    ({}, ["oos"], "oos", "already out of service"),
]


@pytest.mark.parametrize(("overrides", "before", "command", "reason"), REJECTIONS)
def test_an_action_the_state_does_not_take_is_rejected_with_a_reason(
    overrides: dict[str, Any], before: list[Any], command: str, reason: str
) -> None:
    r = Run(**overrides)
    _drive(r, before)
    state, n = r.alarms, len(r.events)
    cmd = {
        "ack": AcknowledgeAlarm(by="b", alarm="a"),
        "reset": ResetAlarm(by="b", alarm="a"),
        "shelve": ShelveAlarm(by="b", alarm="a", reason="r", duration_s=1.0),
        "unshelve": UnshelveAlarm(by="b", alarm="a"),
        "oos": RemoveAlarmFromService(by="b", alarm="a", reason="r"),
        "rts": ReturnAlarmToService(by="b", alarm="a"),
    }[command]
    got = r.cmd(100.0, cmd)
    assert isinstance(got, Rejected) and reason in got.reason and got.command is cmd
    assert r.alarms == state and len(r.events) == n


@pytest.mark.parametrize("now", [math.nan, math.inf, -math.inf])
def test_a_time_that_is_not_finite_is_refused(now: float) -> None:
    r = Run()
    with pytest.raises(InvalidArgument, match="finite"):
        step(r.defs, r.alarms, sample(0.0, {CH: 11.0}), now)
    with pytest.raises(InvalidArgument, match="finite"):
        act(r.defs, r.alarms, AcknowledgeAlarm(by="b", alarm="a"), now)


def test_an_unknown_alarm_is_rejected() -> None:
    r = Run()
    got = act(r.defs, r.alarms, AcknowledgeAlarm(by="b", alarm="nope"), 0.0)
    assert isinstance(got, Rejected) and "no alarm 'nope'" in got.reason


# ------------------------------------------------------------------ delays, deadband, chatter
def test_on_delay_at_its_exact_edge() -> None:
    r = Run(on_delay_s=2.0)
    assert r.v(10.0, 11) == "NORM"
    assert r.v(11.999, 11) == "NORM"
    assert r.v(12.0, 11) == "UNACK"  # true for >= on-delay


def test_off_delay_at_its_exact_edge() -> None:
    r = Run(off_delay_s=3.0)
    r.v(0.0, 11)
    assert r.v(5.0, 5) == "UNACK"
    assert r.v(7.999, 5) == "UNACK"
    assert r.v(8.0, 5) == "RTNUN"


def test_chatter_shorter_than_the_on_delay_never_annunciates() -> None:
    r = Run(on_delay_s=1.0)
    for k in range(200):  # true 0.5 s, false 0.5 s, sampled at 10 Hz
        r.v(k * 0.1, 11 if (k // 5) % 2 == 0 else 5)
    assert r.label == "NORM" and r.events == []


def test_a_condition_that_flips_back_restarts_the_on_delay() -> None:
    r = Run(on_delay_s=2.0)
    r.v(0.0, 11)
    r.v(1.0, 5)  # cancelled
    r.v(1.5, 11)  # restarts: due at 3.5
    assert r.v(3.0, 11) == "NORM"
    assert r.v(3.5, 11) == "UNACK"


def test_chatter_inside_the_off_delay_keeps_it_active() -> None:
    r = Run(off_delay_s=2.0)
    r.v(0.0, 11)
    for k in range(1, 40):
        r.v(k * 0.5, 5 if k % 3 else 11)  # never clear for 2 s together
    assert r.label == "UNACK"
    assert [type(e) for e in r.events] == [AlarmRaised]


def test_high_deadband_at_its_exact_edges() -> None:
    r = Run(limit=10.0, deadband=2.0)
    assert r.v(0, 10.0) == "NORM"  # at the limit is not above it
    assert r.v(1, 10.000001) == "UNACK"
    assert r.v(2, 8.000001) == "UNACK"  # inside the deadband
    assert r.v(3, 8.0) == "RTNUN"  # at limit - deadband it clears
    assert r.v(4, 9.5) == "RTNUN"  # below the limit: does not come back
    assert r.v(5, 10.5) == "UNACK"


def test_low_deadband_at_its_exact_edges() -> None:
    r = Run(kind="low", limit=10.0, deadband=2.0)
    assert r.v(0, 10.0) == "NORM"
    assert r.v(1, 9.9) == "UNACK"
    assert r.v(2, 11.9) == "UNACK"
    assert r.v(3, 12.0) == "RTNUN"


def test_low_low_and_high_high_compare_like_low_and_high() -> None:
    assert Run(kind="low_low", limit=1.0).v(0, 0.5) == "UNACK"
    assert Run(kind="high_high", limit=1.0).v(0, 1.5) == "UNACK"


# ------------------------------------------------------------------ bad values
@pytest.mark.parametrize("q", [Quality.STALE, Quality.INVALID, Quality.WAITING])
def test_a_value_that_is_not_good_never_moves_a_process_alarm(q: Quality) -> None:
    r = Run(on_delay_s=1.0)
    assert r.bad(0, q, value=1e9) == "NORM"  # a huge stale value: not a measurement
    r.v(1, 11)  # on-delay pending, due at 2
    assert r.bad(2, q) == "NORM"  # not confirmed by a bad sample
    assert r.v(2.5, 11) == "UNACK"  # a GOOD sample after the deadline confirms it
    assert r.bad(3, q, value=-1e9) == "UNACK"
    assert [e.value for e in r.events] == [11.0]  # type: ignore[attr-defined]


def test_a_nan_marked_good_is_no_value() -> None:
    r = Run(kind="low", limit=10.0)
    assert r.v(0, math.nan) == "NORM"


def test_a_channel_missing_from_the_sample_is_no_value() -> None:
    r = Run()
    r.alarms, _ = step(r.defs, r.alarms, sample(0.0, {"x.y": 1.0}), 0.0)
    assert r.label == "NORM"


# ------------------------------------------------------------------ the other kinds
def test_deviation_from_a_setpoint_channel_and_from_the_recipe() -> None:
    r = Run(kind="deviation", limit=5.0, deadband=1.0, setpoint=SP)
    assert r.v(0, 104.0, **{SP: 100.0}) == "NORM"
    assert r.v(1, 94.0, **{SP: 100.0}) == "UNACK"  # |e| = 6 > 5
    assert r.v(2, 104.5, **{SP: 100.0}) == "UNACK"  # 4.5 > 4: inside the deadband
    assert r.v(3, 104.0, **{SP: 100.0}) == "RTNUN"
    # the setpoint not GOOD: unknown, nothing moves
    r.alarms, _ = step(r.defs, r.alarms, sample(4, {CH: 150.0, SP: 100.0}, {SP: Quality.STALE}), 4)
    assert r.label == "RTNUN"
    q = Run(kind="deviation", limit=5.0)
    assert q.v(0, 150.0) == "NORM"  # no setpoint at all: unknown
    q.ctx = AlarmContext(setpoints={CH: 100.0})
    assert q.v(1, 150.0) == "UNACK"


def test_rate_of_change_over_its_window() -> None:
    r = Run(kind="rate_of_change", limit=30.0, window_s=10.0)  # 30 per minute = 0.5/s
    for t in range(0, 10):
        assert r.v(t, t * 1.0) == "NORM"  # 60/min, but the window is not yet covered
    assert r.v(10, 10.0) == "UNACK"  # 10 in 10 s = 60/min
    for t in range(11, 40):
        r.v(t, 10.0 + (t - 10) * 0.25)  # 15/min
    assert r.label == "RTNUN"
    assert len(r.alarms["a"].history) <= 12  # the window is all that is kept
    fall = Run(kind="rate_of_change", limit=30.0, window_s=10.0, direction="rise")
    for t in range(0, 12):
        fall.v(t, -t * 1.0)
    assert fall.label == "NORM"  # falling fast, watched only for a rise


def test_discrete_bit_and_value() -> None:
    r = Run(kind="discrete", limit=None, bit=2, channel="drive.status")
    assert r._step(0, sample(0, {"drive.status": 0b011})) == "NORM"
    assert r._step(1, sample(1, {"drive.status": 0b100})) == "UNACK"
    assert r._step(2, sample(2, {"drive.status": 2.5})) == "UNACK"  # no status word
    e = Run(kind="discrete", limit=None, equals=3.0, channel="drive.status")
    assert e._step(0, sample(0, {"drive.status": 3.0})) == "UNACK"


# ------------------------------------------------------------------ communication loss
def _pair() -> tuple[dict[str, AlarmDefinition], dict[str, AlarmState]]:
    defs = {
        "load": definition(consequence="hold"),
        "comm": definition(kind="comm_loss", limit=None, consequence="hold"),
    }
    return defs, initial(defs)


def test_communication_loss_is_its_own_alarm_and_acknowledged_on_its_own() -> None:
    defs, alarms = _pair()
    alarms, _ = step(defs, alarms, sample(0, {CH: 11.0}), 0)
    assert alarms["load"].label == "UNACK" and alarms["comm"].label == "NORM"
    alarms, ev = step(defs, alarms, sample(1, {CH: 11.0}, {CH: Quality.STALE}), 1)
    assert (alarms["load"].label, alarms["comm"].label) == ("UNACK", "UNACK")
    assert [(e.alarm, e.alarm_class) for e in ev] == [("comm", "comm_loss")]  # type: ignore[attr-defined]
    got = act(defs, alarms, AcknowledgeAlarm(by="ana", alarm="comm"), 2)
    assert not isinstance(got, Rejected)
    alarms, _ = got
    assert alarms["comm"].label == "ACKED" and alarms["load"].label == "UNACK"
    assert alarms["load"].alarm_class == "process"
    # communication back: the comm alarm clears, the process alarm is what it was
    alarms, _ = step(defs, alarms, sample(3, {CH: 5.0}), 3)
    assert (alarms["load"].label, alarms["comm"].label) == ("RTNUN", "NORM")


def test_waiting_is_a_loss_once_the_start_up_grace_is_over() -> None:
    defs, alarms = _pair()
    ctx = AlarmContext(startup_until=5.0)
    waiting = sample(0, {CH: math.nan}, {CH: Quality.WAITING})
    alarms, _ = step(defs, alarms, waiting, 4.999, ctx)
    assert alarms["comm"].label == "NORM"
    alarms, _ = step(defs, alarms, waiting, 5.0, ctx)
    assert alarms["comm"].label == "UNACK" and alarms["load"].label == "NORM"


@pytest.mark.parametrize("q", [Quality.STALE, Quality.INVALID])
def test_stale_or_invalid_is_a_loss(q: Quality) -> None:
    defs, alarms = _pair()
    alarms, _ = step(defs, alarms, sample(0, {CH: 1.0}, {CH: q}), 0)
    assert alarms["comm"].label == "UNACK"


def test_a_channel_absent_from_the_sample_is_a_loss() -> None:
    defs, alarms = _pair()
    alarms, _ = step(defs, alarms, sample(0, {"other.x": 1.0}), 0)
    assert alarms["comm"].label == "UNACK"


# ------------------------------------------------------------------ shelving
def test_a_shelve_ends_at_its_exact_expiry() -> None:
    r = Run()
    r.v(0, 11)
    assert r.shelve(10.0, 60.0) == "SHLVD"
    assert r.v(69.999, 11) == "SHLVD"
    assert r.v(70.0, 11) == "UNACK"
    (last,) = r.events[-1:]
    assert isinstance(last, AlarmRaised) and last.cause == "shelve expired"


def test_a_shelve_longer_than_the_maximum_is_refused_not_shortened() -> None:
    r = Run(max_shelve_s=3600.0)
    got = r.shelve(0, 3600.5)
    assert isinstance(got, Rejected) and "at most 3600.0 s" in got.reason
    assert r.shelve(0, 3600.0) == "SHLVD"


def test_a_shelve_needs_a_reason_and_a_finite_positive_duration() -> None:
    for bad in ({"reason": ""}, {"reason": "   "}, {"duration_s": 0.0}, {"duration_s": math.inf},
                {"duration_s": math.nan}, {"duration_s": -5.0}):  # fmt: skip
        with pytest.raises(ValidationError):
            ShelveAlarm.model_validate(
                {"by": "a", "alarm": "a", "reason": "r", "duration_s": 1.0, **bad}
            )
    with pytest.raises(ValidationError):
        RemoveAlarmFromService(by="a", alarm="a", reason="")


def test_an_operator_action_records_who_and_why() -> None:
    r = Run()
    r.v(0, 11)
    r.shelve(1, 30)
    e = r.events[-1]
    assert isinstance(e, AlarmChanged) and not e.is_alarm
    assert (e.old, e.new, e.by, e.reason, e.cause) == (
        "UNACK",
        "SHLVD",
        "ana",
        "chatter",
        "shelve_alarm",
    )
    assert r.alarms["a"].shelved_by == "ana" and r.alarms["a"].shelve_reason == "chatter"


# ------------------------------------------------------------------ events
def test_events_say_what_changed_and_only_raising_is_an_alarm() -> None:
    r = Run(priority="urgent", consequence="abort")
    r.v(0, 5)
    r.v(1, 12.5)
    r.ack(2)
    r.v(3, 4)
    raised, acked, normal = r.events
    assert isinstance(raised, AlarmRaised) and raised.is_alarm
    assert (raised.alarm, raised.value, raised.priority, raised.consequence, raised.cause) == (
        "a", 12.5, "urgent", "abort", "condition"
    )  # fmt: skip
    assert isinstance(acked, AlarmChanged) and acked.cause == "acknowledge_alarm"
    assert isinstance(normal, AlarmChanged) and (normal.new, normal.cause) == ("NORM", "cleared")
    for e in r.events:  # the run log's wire form reads back the same
        assert decode_event(e.type_name, 1, e.to_data()) == e


# ------------------------------------------------------------------ consequences
def test_consequences_are_what_active_and_latched_alarms_demand() -> None:
    defs = {
        "trip": definition(consequence="abort", latching=True, limit=100.0),
        "hold": definition(consequence="hold", limit=50.0),
        "hold2": definition(consequence="hold", limit=60.0),
        "none": definition(limit=1.0),
        "low": definition(kind="low", limit=1.0, consequence="stop", suppress_in=["Held"]),
    }
    alarms = initial(defs)
    assert consequences(defs, alarms) == {}
    alarms, _ = step(defs, alarms, sample(0, {CH: 70.0}), 0)
    assert consequences(defs, alarms) == {"hold": ("hold", "hold2")}
    alarms, _ = step(defs, alarms, sample(1, {CH: 150.0}), 1)
    assert list(consequences(defs, alarms)) == ["abort", "hold"]  # most severe first
    # shelving hides the annunciation, not the demand
    got = act(defs, alarms, ShelveAlarm(by="a", alarm="trip", reason="r", duration_s=9.0), 1)
    assert not isinstance(got, Rejected)
    assert consequences(defs, got[0])["abort"] == ("trip",)
    alarms, _ = step(defs, alarms, sample(2, {CH: 20.0}), 2)
    assert consequences(defs, alarms) == {"abort": ("trip",)}  # latched until reset
    # out of service lifts an active alarm's demand, never a latch's
    got = act(defs, alarms, RemoveAlarmFromService(by="a", alarm="trip", reason="r"), 3)
    assert not isinstance(got, Rejected)
    assert consequences(defs, got[0]) == {"abort": ("trip",)}
    oos = act(defs, alarms, RemoveAlarmFromService(by="a", alarm="hold", reason="r"), 3)
    assert not isinstance(oos, Rejected)
    hot, _ = step(defs, oos[0], sample(3, {CH: 70.0}), 3)
    assert consequences(defs, hot)["hold"] == ("hold2",)
    # suppressed by design: no demand
    alarms, _ = step(defs, alarms, sample(4, {CH: 0.0}), 4, AlarmContext(state="Held"))
    assert "stop" not in consequences(defs, alarms)
    alarms, _ = step(defs, alarms, sample(5, {CH: 0.0}), 5, AlarmContext(state="Execute"))
    assert consequences(defs, alarms)["stop"] == ("low",)


def test_a_latch_demands_its_consequence_whatever_hides_it() -> None:
    defs = {"trip": definition(consequence="hold", latching=True, suppress_in=["Stopped"])}
    execute, stopped = AlarmContext(state="Execute"), AlarmContext(state="Stopped")
    unused = AlarmContext(state="Execute", suppressed=frozenset({"trip"}))
    alarms = initial(defs)
    alarms, _ = step(defs, alarms, sample(0, {CH: 11.0}), 0, execute)  # tripped in use
    alarms, _ = step(defs, alarms, sample(1, {CH: 5.0}), 1, execute)
    for t, ctx in enumerate((stopped, unused), start=2):  # suppressed by design, both ways
        out, _ = step(defs, alarms, sample(t, {CH: 5.0}), float(t), ctx)
        assert out["trip"].label == "LATCHED_UNACK"
        assert consequences(defs, out) == {"hold": ("trip",)}
    got = act(defs, alarms, RemoveAlarmFromService(by="a", alarm="trip", reason="r"), 4)
    assert not isinstance(got, Rejected) and got[0]["trip"].label == "OOSRV"
    assert consequences(defs, got[0]) == {"hold": ("trip",)}
    # shelved while active, clears while shelved: latched, still demanding
    fresh, _ = step(defs, initial(defs), sample(0, {CH: 11.0}), 0, execute)
    got = act(defs, fresh, ShelveAlarm(by="a", alarm="trip", reason="r", duration_s=9.0), 0)
    assert not isinstance(got, Rejected)
    shelved, _ = step(defs, got[0], sample(1, {CH: 5.0}), 1, execute)
    assert shelved["trip"].label == "SHLVD" and consequences(defs, shelved) == {"hold": ("trip",)}
    # a condition raised while suppressed, gone before use: demands nothing, ever
    quiet, _ = step(defs, initial(defs), sample(0, {CH: 11.0}), 0, stopped)
    assert consequences(defs, quiet) == {}
    quiet, _ = step(defs, quiet, sample(1, {CH: 5.0}), 1, stopped)
    quiet, _ = step(defs, quiet, sample(2, {CH: 5.0}), 2, execute)
    assert quiet["trip"].label == "NORM" and consequences(defs, quiet) == {}


def test_a_condition_raised_while_suppressed_survives_a_restart_unraised() -> None:
    defs = {"trip": definition(consequence="hold", latching=True, suppress_in=["Stopped"])}
    stopped = AlarmContext(state="Stopped")
    alarms, _ = step(defs, initial(defs), sample(0, {CH: 11.0}), 0, stopped)
    assert alarms["trip"].raised_hidden
    back = from_json(to_json(alarms, 0.0, 100.0), defs, 0.0, 200.0).alarms
    assert back["trip"].raised_hidden and consequences(defs, back) == {}
    back, _ = step(defs, back, sample(1, {CH: 5.0}), 1, stopped)
    back, _ = step(defs, back, sample(2, {CH: 5.0}), 2, AlarmContext(state="Execute"))
    assert back["trip"].label == "NORM"


def test_the_supervisor_suppresses_alarms_of_unused_equipment() -> None:
    defs, alarms = _pair()
    ctx = AlarmContext(suppressed=frozenset({"comm"}))
    alarms, _ = step(defs, alarms, sample(0, {CH: 1.0}, {CH: Quality.STALE}), 0, ctx)
    assert alarms["comm"].label == "DSUPR" and consequences(defs, alarms) == {}


def test_the_definitions_rule_the_states() -> None:
    defs, alarms = _pair()
    alarms = {**alarms, "gone": AlarmState()}
    out, _ = step({"load": defs["load"]}, alarms, sample(0, {CH: 1.0}), 0)
    assert set(out) == {"load"}
    out, _ = step(defs, {}, sample(0, {CH: 1.0}), 0)
    assert set(out) == {"load", "comm"} and out["comm"].alarm_class == "comm_loss"


def test_the_shipped_alarms_run() -> None:
    line = load_line(DEFAULT_LINE)
    alarms = initial(line.alarms)
    values = {d.channel: 0.0 for d in line.alarms.values()}
    values["o2_cure.o2_ppm"] = 500.0
    ctx = AlarmContext(state="Execute")
    for t in range(10):
        alarms, _ = step(line.alarms, alarms, sample(t, values), float(t), ctx)
    assert alarms["o2_cure_trip"].label == "UNACK" and alarms["o2_cure_high"].label == "UNACK"
    assert consequences(line.alarms, alarms)["hold"] == ("o2_cure_trip",)
    assert alarms["web_tension_low"].label == "UNACK"  # 0 N while executing


# ------------------------------------------------------------------ persistence
def _busy() -> tuple[dict[str, AlarmDefinition], dict[str, AlarmState]]:
    defs = {
        "acked": definition(),
        "rtnun": definition(),
        "latched": definition(latching=True),
        "shelved": definition(),
        "oos": definition(),
        "comm": definition(kind="comm_loss", limit=None),
    }
    alarms = initial(defs)
    alarms, _ = step(defs, alarms, sample(0, {CH: 11.0}), 0)
    for c in (
        AcknowledgeAlarm(by="a", alarm="acked"),
        ShelveAlarm(by="bo", alarm="shelved", reason="calibration", duration_s=100.0),
        RemoveAlarmFromService(by="cy", alarm="oos", reason="sensor swap"),
    ):
        got = act(defs, alarms, c, 1.0)
        assert not isinstance(got, Rejected)
        alarms = got[0]
    alarms, _ = step(defs, alarms, sample(2, {CH: 5.0}), 2)
    return defs, alarms


LASTING = ("alarm_class", "active", "acked", "latched", "raised_hidden", "out_of_service", "oos_by",
           "oos_reason", "shelved_by", "shelve_reason")  # fmt: skip


def test_acks_shelves_latches_and_out_of_service_survive_a_restart() -> None:
    defs, alarms = _busy()
    labels = {k: s.label for k, s in alarms.items()}
    assert labels == {
        "acked": "NORM",
        "rtnun": "RTNUN",
        "latched": "LATCHED_UNACK",
        "shelved": "SHLVD",
        "oos": "OOSRV",
        "comm": "NORM",
    }
    text = to_json(alarms, now=2.0, wall=1_800_000_000.0)
    # restarted: monotonic time begins again, 30 s of wall time later
    back = from_json(text, defs, now=7.0, wall=1_800_000_030.0)
    assert back.dropped == ()
    assert {k: s.label for k, s in back.alarms.items()} == labels
    for k, s in alarms.items():
        assert {f: getattr(back.alarms[k], f) for f in LASTING} == {
            f: getattr(s, f) for f in LASTING
        }
    # the shelve ran until 101 (monotonic) = wall 1_800_000_099: 69 s after the restart
    assert back.alarms["shelved"].shelved_until == pytest.approx(7.0 + 69.0)
    after, _ = step(defs, back.alarms, sample(76.0, {CH: 5.0}), 76.0)
    assert after["shelved"].label == "RTNUN"  # raised before the shelve, never acknowledged
    assert to_json(back.alarms, now=7.0, wall=1_800_000_030.0) == text.replace(
        '"written_wall": 1800000000.0', '"written_wall": 1800000030.0'
    )


def test_an_active_acknowledged_alarm_stays_acknowledged_after_a_restart() -> None:
    r = Run()
    r.v(0, 11)
    r.ack(1)
    back = from_json(to_json(r.alarms, 1.0, 100.0), r.defs, 0.0, 200.0).alarms
    out, ev = step(r.defs, back, sample(0.5, {CH: 11.0}), 0.5)
    assert out["a"].label == "ACKED" and ev == ()


def test_alarms_no_longer_defined_are_reported_not_kept() -> None:
    defs, alarms = _busy()
    fewer = {k: d for k, d in defs.items() if k != "oos"}
    back = from_json(to_json(alarms, 2.0, 0.0), fewer, 0.0, 0.0)
    assert back.dropped == ("oos",) and set(back.alarms) == set(fewer)
    # the same id, now another class: not the same alarm
    changed = {**defs, "acked": definition(kind="comm_loss", limit=None)}
    assert "acked" in from_json(to_json(alarms, 2.0, 0.0), changed, 0.0, 0.0).dropped


def _damaged() -> list[tuple[str, str | bytes, str]]:
    _, alarms = _busy()
    good = json.loads(to_json(alarms, 2.0, 0.0))

    def edit(**kw: Any) -> str:
        doc = json.loads(json.dumps(good))
        for path, value in kw.items():
            *head, last = path.split("__")
            node = doc
            for h in head:
                node = node[h]
            node[last] = value
        return json.dumps(doc)

    truncated = to_json(alarms, 2.0, 0.0)[:40]
    return [
        ("empty", "", "not JSON"),
        ("truncated", truncated, "not JSON"),
        ("binary", b"\xff\xfe\x00garbage", "not JSON"),
        ("a list", "[1, 2]", "holds a list"),
        ("nested too deep", "[" * 100_000, "not JSON"),
        ("another file", '{"runs": []}', "not an alarm-state file"),
        ("another format", edit(format="linecontrol.run"), "not an alarm-state file"),
        ("newer version", edit(version=2), "version 2"),
        ("a flag of the wrong type", edit(alarms__acked__acked="yes"), "alarms.acked.acked"),
        (
            "a missing flag",
            json.dumps({**good, "alarms": {"x": {"alarm_class": "process"}}}),
            "alarms.x",
        ),
        ("an unknown key", edit(alarms__acked__colour="red"), "colour"),
        ("NaN", edit(written_wall=0.5).replace("0.5", "NaN"), "not a finite number"),
        (
            "overflow",
            edit(alarms__shelved__shelve__until_wall=0.5).replace("0.5", "1e999"),
            "finite",
        ),
        ("an unknown class", edit(alarms__acked__alarm_class="other"), "alarm_class"),
    ]


@pytest.mark.parametrize(
    ("text", "words"), [d[1:] for d in _damaged()], ids=[d[0] for d in _damaged()]
)
def test_a_damaged_or_foreign_file_is_a_clear_error(text: str | bytes, words: str) -> None:
    defs, _ = _busy()
    with pytest.raises(AlarmStateError) as info:
        from_json(text, defs, 0.0, 0.0)
    assert words in str(info.value)
    assert isinstance(info.value, LinecontrolError) and isinstance(info.value, ValueError)


def test_an_empty_saved_set_is_a_state_not_an_error() -> None:
    defs, _ = _busy()
    back = from_json(to_json({}, 0.0, 0.0), defs, 0.0, 0.0)
    assert all(s.label == "NORM" for s in back.alarms.values()) and set(back.alarms) == set(defs)


# ------------------------------------------------------------------ properties
IDS = ("a", "b", "never", "comm")
PROPERTY_DEFS = {
    "a": definition(limit=10.0, deadband=1.0, on_delay_s=0.5, latching=True, suppress_in=["Held"]),
    "b": definition(kind="low", limit=5.0, off_delay_s=0.3),
    # a condition that can never be true on the values drawn below
    "never": definition(limit=1e6),
    "comm": definition(kind="comm_loss", limit=None),
}
values = st.floats(min_value=-50.0, max_value=50.0, allow_nan=False)
qualities = st.sampled_from(list(Quality))
sample_op = st.tuples(
    st.just("sample"),
    values,
    qualities,
    st.sampled_from(["Execute", "Held", "Idle"]),
    st.sampled_from([frozenset(), frozenset({"a"}), frozenset({"b"})]),  # unused equipment
)
command_op = st.tuples(
    st.sampled_from(["ack", "shelve", "unshelve", "reset", "oos", "rts"]),
    st.sampled_from(IDS),
    st.floats(min_value=0.1, max_value=10.0),
    st.just(""),
    st.just(frozenset[str]()),
)
ops = st.lists(
    st.tuples(st.floats(min_value=0.0, max_value=2.0), sample_op | command_op), max_size=60
)


def _command(kind: str, alarm: str, duration: float) -> AlarmCommand:
    return {
        "ack": AcknowledgeAlarm(by="p", alarm=alarm),
        "shelve": ShelveAlarm(by="p", alarm=alarm, reason="r", duration_s=duration),
        "unshelve": UnshelveAlarm(by="p", alarm=alarm),
        "reset": ResetAlarm(by="p", alarm=alarm),
        "oos": RemoveAlarmFromService(by="p", alarm=alarm, reason="r"),
        "rts": ReturnAlarmToService(by="p", alarm=alarm),
    }[kind]


@settings(max_examples=300, deadline=None)
@given(ops)
def test_properties_over_random_samples_and_actions(program: list[tuple[float, Any]]) -> None:
    alarms = initial(PROPERTY_DEFS)
    now = 0.0
    for dt, op in program:
        now += dt
        kind, x, y, z, unused = op
        before = alarms
        if kind == "sample":
            s = sample(now, {CH: x}, {CH: y})
            ctx = AlarmContext(state=z, suppressed=unused, startup_until=1.0)
            alarms, ev = step(PROPERTY_DEFS, alarms, s, now, ctx)
        else:
            got = act(PROPERTY_DEFS, alarms, _command(kind, x, y), now)
            if isinstance(got, Rejected):
                continue
            alarms, ev = got
            assert len(ev) <= 1 and all(e.alarm == x for e in ev)  # type: ignore[attr-defined]
            # one alarm's command never touches another alarm
            assert {k: v for k, v in alarms.items() if k != x} == {
                k: v for k, v in before.items() if k != x
            }
        for k, state in alarms.items():
            assert state.label in LABELS
            was = before.get(k)
            # no path but ResetAlarm clears a latch, none but AcknowledgeAlarm acknowledges
            if was is not None and was.latched and not state.latched:
                assert kind == "reset" and x == k
            if was is not None and not was.acked and state.acked:
                assert kind == "ack" and x == k
            # a latch demands its consequence, whatever hides it
            assert not state.latched or demands(state)
            assert not state.raised_hidden or (state.active and not state.in_use)
        # a condition never true never annunciates (an action may hide it, never raise it)
        assert alarms["never"].label in ("NORM", "SHLVD", "OOSRV", "DSUPR")
        assert not alarms["never"].active and alarms["never"].acked
        assert not any(isinstance(e, AlarmRaised) and e.alarm == "never" for e in ev)
        # a comm-loss alarm and a process alarm never share a flag
        assert alarms["comm"].alarm_class == "comm_loss" and alarms["a"].alarm_class == "process"
        # the JSON form reads back to the same lasting state
        back = from_json(to_json(alarms, now, 1e9), PROPERTY_DEFS, now, 1e9).alarms
        for k, v in alarms.items():
            assert {f: getattr(back[k], f) for f in LASTING} == {f: getattr(v, f) for f in LASTING}
            assert (back[k].shelved_until is None) == (v.shelved_until is None)


# ------------------------------------------------------------------ a limit from the recipe
def test_a_limit_from_the_recipe_replaces_the_configured_one_while_a_recipe_gives_it() -> None:
    """O2 above the recipe's limit alarms, whatever the line config's fallback says."""
    r = Run(limit=50.0, limit_from_recipe=True)
    assert r.v(1.0, 60.0) == "UNACK"  # no recipe limit: the configured 50
    r = Run(limit=50.0, limit_from_recipe=True)
    r.ctx = AlarmContext(limits={CH: 100.0})
    assert r.v(1.0, 60.0) == "NORM"  # the recipe allows 100
    assert r.v(2.0, 101.0) == "UNACK"
    plain = Run(limit=50.0)
    plain.ctx = AlarmContext(limits={CH: 100.0})
    assert plain.v(1.0, 60.0) == "UNACK"  # not asked to follow the recipe: it does not


@pytest.mark.parametrize("kind", ["deviation", "high_high", "low_low", "rate_of_change"])
def test_only_a_high_or_low_alarm_takes_its_limit_from_the_recipe(kind: str) -> None:
    extra: dict[str, Any] = {"window_s": 10.0} if kind == "rate_of_change" else {}
    with pytest.raises(ValidationError, match="limit_from_recipe"):
        definition(kind=kind, limit=5.0, limit_from_recipe=True, **extra)
