"""Typed run-log events and commands: exact JSON round trips, the lines that runs
recorded before typing hold, strict validation, and ``QualityChanged`` from
acquisition (a fake driver on a hand-driven clock: no sockets, no sleeping)."""

from __future__ import annotations

import ast
import asyncio
import importlib
import json
import math
import re
import zlib
from pathlib import Path
from typing import Any, get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

import linecontrol.model.events as events_module
from drivers.device import PollResult
from drivers.errors import BadReply, DeviceTimeout
from linecontrol.acquisition import STALE_PERIODS, Acquisition
from linecontrol.config import DEFAULT_LINE, load_line
from linecontrol.model import (
    ALARM_TYPES,
    COMMAND_TYPES,
    EVENT_TYPES,
    AlarmChanged,
    AlarmClass,
    AlarmInputs,
    AlarmLabel,
    AlarmRaised,
    AlarmStatesKept,
    Command,
    CommandGiven,
    CommandRejected,
    ControlChanged,
    DeviceError,
    DeviceFailed,
    DeviceRecovered,
    DeviceStats,
    DeviceSummary,
    Event,
    KeptAlarm,
    ModeChanged,
    ModeName,
    QualityChanged,
    QualityName,
    RowsSkipped,
    RunLogBacklog,
    RunLogError,
    RunLogRecovered,
    RunStarted,
    RunStopped,
    StartRecording,
    StateChanged,
    StateName,
    SupervisorStopped,
    UnknownEvent,
    alarm_commands,
    api_commands,
    control_commands,
    decode_event,
)
from linecontrol.runlog import decode_line, encode_event, read_events

ROOT = Path(__file__).resolve().parents[2]

# ------------------------------------------------------------------ strategies
text = st.text(max_size=12)
finite = st.floats(allow_nan=False, allow_infinity=False)
count = st.integers(min_value=0, max_value=2**63)
states = st.sampled_from(["failing", "invalid"])
qualities = st.sampled_from(["GOOD", "STALE", "INVALID", "WAITING"])
start_recording = st.builds(
    StartRecording,
    by=text,
    request_id=text,
    at=st.none() | finite,
    reason=text,
    duration_s=finite,
    simulated=st.booleans(),
)
who = {"by": text, "request_id": text, "at": st.none() | finite, "reason": text}
control_command = st.one_of(
    *(st.builds(c, **who) for c in control_commands.PACKML_COMMANDS),
    st.builds(control_commands.ChangeSetpoint, field=text, value=finite, **who),
)
state_names = st.sampled_from(get_args(StateName))
alarm_labels = st.sampled_from(get_args(AlarmLabel))
mode_names = st.sampled_from(get_args(ModeName))
names = st.lists(text, max_size=3).map(tuple)


def _control_strategies() -> dict[type[Event], st.SearchStrategy[Any]]:
    """The supervisor's events beyond the machine's own."""
    from linecontrol.model import control_events as ce

    maybe = st.none() | finite
    return {
        ce.SetpointWritten: st.builds(ce.SetpointWritten, device=text, channel=text,
                                      value=finite, read_back=finite, previous=maybe),
        ce.SetpointFailed: st.builds(ce.SetpointFailed, device=text, channel=text,
                                     value=finite, read_back=maybe, error=text),
        ce.InterlockTripped: st.builds(
            ce.InterlockTripped, interlock=text, detail=text,
            action=st.sampled_from(["suspend", "hold", "stop", "abort"]), web_position_m=maybe,
        ),
        ce.InterlockCleared: st.builds(ce.InterlockCleared, interlock=text, detail=text),
        ControlChanged: st.builds(ControlChanged, old=text, new=text, by=text),
        ce.RecipeLoaded: st.builds(ce.RecipeLoaded, recipe=text, path=text, sha256=text,
                                   violations=names),
        ce.SafeStateApplied: st.builds(ce.SafeStateApplied, why=text, answered=names,
                                       failed=names),
        ce.SequenceStepped: st.builds(ce.SequenceStepped, state=state_names, step=text),
        ce.BandLeft: st.builds(ce.BandLeft, channel=text, value=maybe),
        ce.BandReturned: st.builds(ce.BandReturned, channel=text, value=maybe),
    }  # fmt: skip


stats = st.builds(
    DeviceStats,
    polls=count,
    good_polls=count,
    errors=count,
    kinds=st.dictionaries(text, count, max_size=3),
    answered=st.booleans(),
    state=st.sampled_from(["new", "ok", "failing", "invalid"]),
)
STRATEGIES: dict[type[Event], st.SearchStrategy[Any]] = {
    RunStarted: st.builds(RunStarted, run_id=text, operator=text, roll_id=text, lot_id=text),
    RunStopped: st.builds(RunStopped, exit_status=text),
    CommandGiven: st.builds(CommandGiven, command=start_recording | control_command),
    DeviceFailed: st.builds(DeviceFailed, device=text, state=states, error=text),
    DeviceError: st.builds(DeviceError, device=text, state=states, error=text),
    DeviceRecovered: st.builds(DeviceRecovered, device=text, was=states),
    QualityChanged: st.builds(
        QualityChanged,
        device=text,
        channels=st.lists(text, max_size=4).map(tuple),
        old=qualities,
        new=qualities,
    ),
    DeviceSummary: st.builds(DeviceSummary, devices=st.dictionaries(text, stats, max_size=3)),
    RunLogBacklog: st.builds(RunLogBacklog, queued=count, spilled=count),
    RunLogError: st.builds(
        RunLogError, where=text, error=text, errno=st.none() | st.integers(0, 200)
    ),
    RunLogRecovered: st.builds(
        RunLogRecovered,
        where=text,
        failures=count,
        events_lost=st.none() | count,
        batches_lost=st.none() | count,
    ),
    StateChanged: st.builds(
        StateChanged,
        old=state_names,
        new=state_names,
        mode=mode_names,
        cause=text,
        by=text,
        first_out=text,
    ),
    ModeChanged: st.builds(ModeChanged, old=mode_names, new=mode_names, by=text),
    CommandRejected: st.builds(CommandRejected, command=control_command, reason=text),
    **{
        cls: st.builds(
            cls,
            alarm=text,
            alarm_class=st.sampled_from(get_args(AlarmClass)),
            old=alarm_labels,
            new=alarm_labels,
            value=st.none() | finite,
            priority=text,
            consequence=text,
            cause=text,
            by=text,
            reason=text,
        )
        for cls in (AlarmRaised, AlarmChanged)
    },
    AlarmInputs: st.builds(
        AlarmInputs,
        state=text,
        recipe=st.booleans(),
        needed=st.lists(text, max_size=3).map(tuple),
        airy=st.lists(text, max_size=3).map(tuple),
        setpoints=st.dictionaries(text, finite, max_size=3),
        limits=st.dictionaries(text, finite, max_size=3),
        startup_until=st.none() | finite,
    ),
    RowsSkipped: st.builds(RowsSkipped, count=count),
    SupervisorStopped: st.builds(SupervisorStopped, steps=count, last_step=st.none() | finite),
    AlarmStatesKept: st.builds(
        AlarmStatesKept,
        alarms=st.dictionaries(
            text,
            st.builds(
                KeptAlarm,
                alarm_class=st.sampled_from(get_args(AlarmClass)),
                active=st.booleans(),
                acked=st.booleans(),
                latched=st.booleans(),
                raised_hidden=st.booleans(),
                shelved_until=st.none() | finite,
                shelved_by=text,
                shelve_reason=text,
                out_of_service=st.booleans(),
                oos_by=text,
                oos_reason=text,
            ),
            max_size=3,
        ),
    ),
    **_control_strategies(),
}
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | finite | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)
unknown = st.builds(
    UnknownEvent,
    name=text.filter(lambda s: s not in EVENT_TYPES),
    v=st.integers(1, 5),
    data=json_values,
    problem=st.just("unknown event type"),
)
envelope = st.tuples(st.integers(1, 2**40), finite, finite)


def test_every_event_type_has_a_strategy() -> None:
    assert set(STRATEGIES) == set(EVENT_TYPES.values())
    assert set(EVENT_TYPES) == {c.__name__ for c in STRATEGIES}


@given(st.one_of(*STRATEGIES.values()), envelope)
def test_every_event_round_trips_to_the_same_class_and_the_same_line(
    event: Event, env: tuple[int, float, float]
) -> None:
    seq, t_mono, t_wall = env
    line = encode_event(seq, t_mono, t_wall, event)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    got = decode_line(line[:-1])
    assert got is not None
    assert type(got.event) is type(event) and got.event == event
    assert (got.seq, got.t_mono, got.t_wall) == (seq, t_mono, t_wall)
    assert encode_event(got.seq, got.t_mono, got.t_wall, got.event) == line


@given(unknown, envelope)
def test_an_unknown_type_is_kept_and_written_back_the_same(
    event: UnknownEvent, env: tuple[int, float, float]
) -> None:
    line = encode_event(*env, event)
    got = decode_line(line[:-1])
    assert got is not None and got.event == event
    assert got.type == event.name and got.as_dict()["v"] == event.v
    assert encode_event(got.seq, got.t_mono, got.t_wall, got.event) == line


# ------------------------------------------------------------------ the JSON form
def test_golden_line() -> None:
    ev = RunStarted(run_id="20270115-080000-ab12", operator="ana", roll_id="R7", lot_id="")
    assert encode_event(1, 12.5, 1.8e9, ev) == (
        b'{"data":{"lot_id":"","operator":"ana","roll_id":"R7","run_id":"20270115-080000-ab12"},'
        b'"seq":1,"t_mono":12.5,"t_wall":1800000000.0,"type":"RunStarted","v":1,'
        b'"crc32":550980219}\n'
    )
    body = encode_event(1, 12.5, 1.8e9, ev)[:-1].rsplit(b',"crc32":', 1)[0] + b"}"
    assert zlib.crc32(body) == 550980219  # the CRC-32 of the line before it


# Lines as ``events.jsonl`` held them before events were typed (no ``v``), one of
# each type then written, byte for byte.
LEGACY = [
    b'{"data":{"lot_id":"","operator":"ana","roll_id":"R7","run_id":"20270115-080000-ab12"},"seq":1,"t_mono":12.5,"t_wall":1800000000.0,"type":"RunStarted","crc32":1486172500}',
    b'{"data":{"by":"ana","command":"record","duration_s":60.0,"simulated":true},"seq":2,"t_mono":12.75,"t_wall":1800000000.25,"type":"CommandGiven","crc32":2228158927}',
    b'{"data":{"device":"press","error":"DeviceTimeout: press: no reply","state":"failing"},"seq":3,"t_mono":13.0,"t_wall":1800000000.5,"type":"DeviceError","crc32":1070910815}',  # noqa: E501
    b'{"data":{"device":"press","was":"failing"},"seq":4,"t_mono":14.0,"t_wall":1800000001.5,"type":"DeviceRecovered","crc32":2481510465}',
    b'{"data":{"errno":28,"error":"OSError: [Errno 28] No space left on device","type":"RunLogError","where":"samples"},"seq":5,"t_mono":15.0,"t_wall":1800000002.5,"type":"RunLogError","crc32":1111846809}',  # noqa: E501
    b'{"data":{"batches_lost":3,"failures":3,"where":"samples"},"seq":6,"t_mono":16.0,"t_wall":1800000003.5,"type":"RunLogRecovered","crc32":1505911606}',
    b'{"data":{"queued":120,"spilled":2},"seq":7,"t_mono":17.0,"t_wall":1800000004.5,"type":"RunLogBacklog","crc32":3362298453}',
    b'{"data":{"devices":{"press":{"answered":true,"errors":1,"good_polls":9,"kinds":{"DeviceTimeout":1},"polls":10,"state":"ok"}}},"seq":8,"t_mono":18.0,"t_wall":1800000005.5,"type":"DeviceSummary","crc32":3511460621}',
    b'{"data":{"exit_status":"ok"},"seq":9,"t_mono":19.0,"t_wall":1800000006.5,"type":"RunStopped","crc32":3980470277}',
]


def test_lines_written_before_typing_read_back_typed_with_the_same_json(tmp_path: Path) -> None:
    p = tmp_path / "events.jsonl"
    p.write_bytes(b"\n".join(LEGACY) + b"\n")
    ev = read_events(p)
    assert ev.corrupt == [] and ev.torn is None
    assert [e.seq for e in ev.events] == list(range(1, 10))
    for line, got in zip(LEGACY, ev.events, strict=True):
        assert not isinstance(got.event, UnknownEvent), got.event
        assert got.type == type(got.event).__name__
        old = json.loads(line)
        del old["crc32"]
        new = got.as_dict()
        assert new.pop("v") == 1
        if got.type == "CommandGiven":  # typed commands add who-when-why fields
            assert new["data"] == {**old["data"], "request_id": "", "at": None, "reason": ""}
            new["data"] = old["data"]
        assert new == old
        # Written again: the same line with its version, and a CRC of that.
        again = encode_event(got.seq, got.t_mono, got.t_wall, got.event)
        assert json.loads(again)["v"] == 1
    [cmd] = [e.event for e in ev.events if isinstance(e.event, CommandGiven)]
    assert cmd.command == StartRecording(by="ana", duration_s=60.0, simulated=True)
    assert isinstance(ev.events[2].event, DeviceError) and ev.events[2].event.is_alarm


def test_read_back_never_drops_what_it_cannot_type() -> None:
    newer = decode_event("RunStopped", 2, {"exit_status": "ok", "operator": "ana"})
    assert isinstance(newer, UnknownEvent) and "newer" in newer.problem
    assert newer.to_data() == {"exit_status": "ok", "operator": "ana"} and newer.v == 2
    bad = decode_event("RunLogBacklog", 1, {"queued": "3", "spilled": 1})
    assert isinstance(bad, UnknownEvent) and bad.problem.startswith(
        "data does not match RunLogBacklog v1: queued"
    )
    extra = decode_event("RunStopped", 1, {"exit_status": "ok", "by": "x"})
    assert isinstance(extra, UnknownEvent) and "by" in extra.problem
    cmd = decode_event("CommandGiven", 1, {"command": "explode", "by": "x"})
    assert isinstance(cmd, UnknownEvent) and "unknown command 'explode'" in cmd.problem
    listed = decode_event("RunStopped", 1, ["ok"])
    assert isinstance(listed, UnknownEvent) and listed.to_data() == ["ok"]


def test_a_line_without_an_envelope_is_reported_not_read(tmp_path: Path) -> None:
    body = json.dumps({"data": {}, "seq": 1, "t_mono": 0.0}, separators=(",", ":"))
    crc = zlib.crc32(body.encode())
    p = tmp_path / "events.jsonl"
    p.write_bytes(f'{body[:-1]},"crc32":{crc}}}\n'.encode())
    ev = read_events(p)
    assert ev.events == [] and ev.corrupt == ["corrupt event at line 1; skipped"]


# ------------------------------------------------------------------ strictness
def test_events_are_frozen_and_strict() -> None:
    ev = RunStopped(exit_status="ok")
    with pytest.raises(ValidationError):
        ev.exit_status = "changed"  # frozen: refused at run time
    with pytest.raises(ValidationError):
        RunStopped(exit_status=1)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        RunLogBacklog(queued=True, spilled=1)  # a bool is no count
    with pytest.raises(ValidationError):
        QualityChanged(device="d", channels=("d.x",), old="GOOD", new="BAD")  # type: ignore[arg-type]
    for bad in (math.nan, math.inf):
        with pytest.raises(ValidationError):
            StartRecording(by="x", duration_s=bad, simulated=False)
    with pytest.raises(ValueError, match="finite"):
        encode_event(1, math.nan, 0.0, ev)


def test_alarms() -> None:
    # By class, and by type name for an event read back untyped (a newer version).
    base = vars(Event)["is_alarm"]
    overridden = {
        name
        for name, cls in EVENT_TYPES.items()
        if any(vars(k).get("is_alarm", base) is not base for k in cls.__mro__)
    }
    assert overridden == ALARM_TYPES | {"QualityChanged"}
    for name in EVENT_TYPES:
        newer = decode_event(name, 99, {"new": "STALE"})
        assert isinstance(newer, UnknownEvent) and newer.is_alarm is (
            name in ALARM_TYPES or name == "QualityChanged"
        )
    assert not decode_event("QualityChanged", 99, {"new": "GOOD"}).is_alarm
    assert DeviceFailed(device="d", state="failing", error="").is_alarm
    assert RunLogError(where="samples", error="e", errno=None).is_alarm
    assert RunLogBacklog(queued=1, spilled=1).is_alarm
    assert not RunStopped(exit_status="ok").is_alarm
    alarms: list[tuple[QualityName, bool]] = [("GOOD", False), ("STALE", True), ("INVALID", True)]
    for new, alarm in alarms:
        assert QualityChanged(device="d", channels=(), old="WAITING", new=new).is_alarm is alarm


def test_commands_are_registered_by_their_wire_name() -> None:
    declared: tuple[type[Command], ...] = (
        StartRecording,
        *control_commands.TYPES,
        *alarm_commands.TYPES,
        *api_commands.TYPES,
    )
    assert dict(COMMAND_TYPES) == {c.name: c for c in declared}
    assert len(COMMAND_TYPES) == len(declared)  # no two share a wire name
    assert COMMAND_TYPES["record"] is StartRecording
    # A command's fields are CommandGiven's data: a new command version needs a new v.
    assert {c.version for c in COMMAND_TYPES.values()} == {CommandGiven.version} == {1}
    cmd = StartRecording(by="ana", request_id="r1", at=1.8e9, reason="trial", duration_s=1.0,
                         simulated=False)  # fmt: skip
    assert cmd.to_data()["command"] == "record"
    assert decode_event("CommandGiven", 1, CommandGiven(command=cmd).to_data()) == CommandGiven(
        command=cmd
    )


# ------------------------------------------------------------------ the docstring, the walls
def _emitted_in_docstring() -> list[str]:
    """The ``Emitted:`` lists of every module that declares event types."""
    found: list[str] = []
    for name in events_module.EVENT_MODULES:
        doc = importlib.import_module(name).__doc__ or ""
        section = doc.split("Emitted:", 1)[1].split("Read, no longer emitted:", 1)[0]
        found += re.findall(r"^``(\w+)``", section, re.M)
    return found


def _model_types_constructed(tree: ast.Module) -> set[str]:
    """Names of ``linecontrol.model`` classes called in a module, imported by name
    (``from linecontrol.model import X``) or through the package (``model.X``)."""
    by_name = {
        a.asname or a.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "linecontrol.model"
        for a in node.names
    }
    via = {
        a.asname or a.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "linecontrol"
        for a in node.names
        if a.name == "model"
    }
    out = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        if isinstance(f, ast.Name) and f.id in by_name:
            out.add(f.id)
        elif isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in via:
            out.add(f.attr)
    return out


def test_the_docstring_lists_exactly_what_is_emitted() -> None:
    emitted = _emitted_in_docstring()
    assert set(emitted) == set(EVENT_TYPES) - {"DeviceError"}
    constructed: set[str] = set()
    for path in (ROOT / "linecontrol").rglob("*.py"):
        if "model" not in path.relative_to(ROOT / "linecontrol").parts:
            constructed |= _model_types_constructed(ast.parse(path.read_text()))
    assert constructed & set(EVENT_TYPES) == set(emitted)


def test_the_model_does_no_io() -> None:
    allowed = {"__future__", "json", "collections", "dataclasses", "types", "typing", "pydantic"}
    allowed |= {"math", "enum"}  # computation: finite checks, quality codes
    allowed.add("numpy")  # model.channels: a Batch is numpy arrays (computation, not I/O)
    for path in (ROOT / "linecontrol" / "model").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for n in names:
                pure = n.startswith("linecontrol.model") or n == "linecontrol.errors"
                assert n.split(".")[0] in allowed or pure, (path, n)


# ------------------------------------------------------------------ acquisition
class HandClock:
    def __init__(self) -> None:
        self.t = 100.0

    def monotonic(self) -> float:
        return self.t

    def wall(self) -> float:
        return 1.8e9 + self.t

    async def sleep_until(self, t_mono: float) -> None:
        raise AssertionError("not used: the test drives the polls")


class ScriptedDriver:
    def __init__(self) -> None:
        self.next: PollResult | Exception = PollResult()

    async def poll(self) -> PollResult:
        if isinstance(self.next, Exception):
            raise self.next
        return self.next


def test_acquisition_emits_device_and_quality_events_once_per_transition() -> None:
    clock = HandClock()
    got: list[Event] = []
    acq = Acquisition(load_line(DEFAULT_LINE), clock, on_event=got.append)
    p = acq.pollers["press"]
    drv = ScriptedDriver()
    p.driver = drv
    full = tuple(f"press.{n}" for n in p.names)
    good = PollResult(values=dict.fromkeys(p.names, 1.0))

    def step(result: PollResult | Exception) -> list[Event]:
        drv.next = result
        got.clear()
        asyncio.run(acq.poll_once(p))
        acq.sample()
        return list(got)

    assert step(good) == [QualityChanged(device="press", channels=full, old="WAITING", new="GOOD")]
    assert step(good) == []  # no change, no event
    # Silent: DeviceFailed at once; its values age into STALE three periods later.
    timeout = DeviceTimeout("press: no reply")
    assert step(timeout) == [
        DeviceFailed(device="press", state="failing", error=f"DeviceTimeout: {timeout}")
    ]
    clock.t += STALE_PERIODS * p.period_s + 0.01
    got.clear()
    for _ in range(5):
        acq.sample()
    assert got == [QualityChanged(device="press", channels=full, old="GOOD", new="STALE")]
    assert step(good) == [
        DeviceRecovered(device="press", was="failing"),
        QualityChanged(device="press", channels=full, old="STALE", new="GOOD"),
    ]
    # One channel with no value: only that channel turns INVALID.
    first, rest = p.names[0], p.names[1:]
    bad = BadReply("press: exception code 2")
    part = PollResult(values=dict.fromkeys(rest, 2.0), errors={first: bad})
    assert step(part) == [
        DeviceFailed(device="press", state="invalid", error=f"BadReply: {bad}"),
        QualityChanged(device="press", channels=(f"press.{first}",), old="GOOD", new="INVALID"),
    ]
    # Garbage: the rest follows (one event for the channels that changed), no second failure.
    assert step(bad) == [
        QualityChanged(
            device="press", channels=tuple(f"press.{n}" for n in rest), old="GOOD", new="INVALID"
        )
    ]


# ------------------------------------------------------------------ read-back: review B5
def _framed(obj: dict[str, Any]) -> bytes:
    body = json.dumps(obj, separators=(",", ":"), sort_keys=True)
    return f'{body[:-1]},"crc32":{zlib.crc32(body.encode())}}}'.encode()


def test_an_envelope_key_of_a_newer_writer_is_kept_and_written_back() -> None:
    line = _framed(
        {"data": {"exit_status": "ok"}, "seq": 3, "t_mono": 1.0, "t_wall": 2.0,
         "type": "RunStopped", "v": 1, "origin": {"host": "b"}}
    )  # fmt: skip
    got = decode_line(line)
    assert got is not None and got.event == RunStopped(exit_status="ok")
    assert dict(got.extra) == {"origin": {"host": "b"}}
    assert got.as_dict()["origin"] == {"host": "b"}
    assert encode_event(got.seq, got.t_mono, got.t_wall, got.event, got.extra) == line + b"\n"
    with pytest.raises(ValueError, match="envelope"):
        encode_event(1, 0.0, 0.0, got.event, {"seq": 9})


@pytest.mark.parametrize("v", [0, -7])
def test_a_version_below_1_is_no_version_and_kept(v: int) -> None:
    got = decode_event("RunStopped", v, {"exit_status": "ok"})
    assert isinstance(got, UnknownEvent) and got.v == v
    assert got.problem == f"version {v} is no version (they start at 1)"
    line = encode_event(1, 0.0, 0.0, got)
    assert json.loads(line)["v"] == v


def test_breaks_in_seq_are_reported(tmp_path: Path) -> None:
    """seq is gap-free "so a reader can tell": a gap, a repeat and a step back are
    each one problem naming the line; every event is still read."""
    p = tmp_path / "events.jsonl"
    seqs = [1, 2, 5, 5, 3, 6]
    p.write_bytes(
        b"".join(encode_event(s, float(i), 0.0, RunStopped(exit_status="ok")) for i, s in
                 enumerate(seqs))
    )  # fmt: skip
    ev = read_events(p)
    assert [e.seq for e in ev.events] == seqs
    assert ev.seq_problems == [
        "seq 3..4 missing before line 3: 2 events lost or unreadable",
        "seq 5 at line 4 after seq 5: repeated or out of order",
        "seq 3 at line 5 after seq 5: repeated or out of order",
        "seq 4..5 missing before line 6: 2 events lost or unreadable",
    ]
    p.write_bytes(b"".join(encode_event(s, 0.0, 0.0, RunStopped(exit_status="ok")) for s in
                           (1, 2, 3)))  # fmt: skip
    assert read_events(p).seq_problems == []


def test_runs_show_json_is_strict_with_nan_in_an_unknown_event(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from linecontrol.cli.output import write_json

    ev = decode_line(
        _framed({"data": {"x": float("nan"), "y": [float("inf")]}, "seq": 1, "t_mono": 0.0,
                 "t_wall": 0.0, "type": "DeviceFailed", "v": 9})
    )  # fmt: skip
    assert ev is not None and isinstance(ev.event, UnknownEvent) and ev.event.is_alarm
    write_json({"alarms": [ev.as_dict()]})
    out = capsys.readouterr().out
    shown = json.loads(out, parse_constant=lambda c: pytest.fail(f"non-strict JSON: {c}"))
    assert shown["alarms"][0]["data"] == {"x": "NaN", "y": ["Infinity"]}


def test_events_are_read_only_all_the_way_down_and_their_json_is_unchanged() -> None:
    """B11: a fan-out shares one event with every subscriber; none can change it."""
    stats = DeviceStats(
        polls=3, good_polls=2, errors=1, kinds={"timeout": 1}, answered=True, state="ok"
    )
    summary = DeviceSummary(devices={"press": stats})
    unknown = decode_event("Newer", 1, {"a": {"b": [1, {"c": 2}]}})
    assert isinstance(unknown, UnknownEvent)
    with pytest.raises(TypeError):
        summary.devices["drive"] = stats  # type: ignore[index]
    with pytest.raises(TypeError):
        summary.devices["press"].kinds["timeout"] = 9  # type: ignore[index]
    with pytest.raises(TypeError):
        unknown.data["a"]["x"] = 1
    with pytest.raises(AttributeError):
        unknown.data["a"]["b"].append(3)
    with pytest.raises(TypeError):
        unknown.data["a"]["b"][1]["c"] = 3
    # The wire form is as it was with plain dicts and lists, byte for byte.
    line = encode_event(1, 0.5, 1.8e9, summary)
    assert json.loads(line)["data"] == {
        "devices": {"press": {"polls": 3, "good_polls": 2, "errors": 1,
                              "kinds": {"timeout": 1}, "answered": True, "state": "ok"}}
    }  # fmt: skip
    assert line == (
        b'{"data":{"devices":{"press":{"answered":true,"errors":1,"good_polls":2,'
        b'"kinds":{"timeout":1},"polls":3,"state":"ok"}}},"seq":1,"t_mono":0.5,'
        b'"t_wall":1800000000.0,"type":"DeviceSummary","v":1,"crc32":'
        + str(zlib.crc32(line[:-1].rsplit(b',"crc32":', 1)[0] + b"}")).encode()
        + b"}\n"
    )
    assert unknown.to_data() == {"a": {"b": [1, {"c": 2}]}}
    assert json.loads(encode_event(1, 0.0, 0.0, unknown))["data"] == unknown.to_data()
    got = decode_line(encode_event(1, 0.5, 1.8e9, summary)[:-1])
    assert got is not None and got.event == summary
