"""Alarm-rule tests in the style of Prometheus's ``promtool test rules``.

A test file (TOML) names its alarm definitions (``line``: a line config, relative to
the file; or ``[alarms.<id>]`` tables of its own) and holds ``[[tests]]``: input
series per channel on a fixed interval, the PackML state (and recipe limits or
setpoints) the engine is told, operator commands at given times, and the labels
expected at given times. Each test runs through the same pure engine the supervisor
runs (on-, off-delays, deadbands, latches as the line has them). ``parse_series`` is
promtool's expanding notation; ``run_case`` is pure, ``load_tests`` reads the file.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, PositiveFloat

from linecontrol import alarms as engine
from linecontrol.config import (
    AlarmDefinition,
    AlarmId,
    ChannelName,
    LineConfig,
    StrictModel,
    read_toml,
    validate_model,
)
from linecontrol.errors import InputFileError, LinecontrolError, Problem
from linecontrol.model import COMMAND_TYPES, AlarmCommand, AlarmLabel, Quality, Sample

MISSING = math.nan  # ``_`` in a series: no value at that step (not GOOD)
MAX_VALUES = 1_000_000  # one series expands to at most this many values


class SeriesError(LinecontrolError, ValueError):
    """A series that is not promtool's notation (``parse_series``)."""


def parse_series(text: str) -> list[float]:
    """promtool's notation: values separated by spaces; ``a+bxn`` expands to ``a, a+b,
    ..., a+n*b`` (n + 1 values), ``a-bxn`` likewise downwards, ``axn`` to n + 1 times
    ``a``; ``_`` is a step with no value (``_xn``: n of them). Numbers must be finite."""
    out: list[float] = []
    for tok in text.split():
        head, x, count = tok.partition("x")
        if tok in ("_",) or (head == "_" and x):
            n = _count(count, tok) if x else 1
            out.extend([MISSING] * n)
        elif x:
            n = _count(count, tok)
            start, step = _start_step(head, tok)
            out.extend(start + k * step for k in range(n + 1))
        else:
            out.append(_number(tok, tok))
        if len(out) > MAX_VALUES:
            raise SeriesError(f"more than {MAX_VALUES} values")
    if not out:
        raise SeriesError("no values")
    return out


def _count(text: str, tok: str) -> int:
    if not text.isdigit():
        raise SeriesError(f"{tok!r}: the count after x must be a whole number")
    n = int(text)
    if n > MAX_VALUES:
        raise SeriesError(f"{tok!r}: more than {MAX_VALUES} values")
    return n


def _start_step(head: str, tok: str) -> tuple[float, float]:
    # The sign of the step is the last + or - that is not the number's own sign or
    # an exponent's (1e-3+2x4).
    for i in range(len(head) - 1, 0, -1):
        if head[i] in "+-" and head[i - 1] not in "eE":
            start = _number(head[:i], tok)
            step = _number(head[i + 1 :], tok)
            return start, step if head[i] == "+" else -step
    return _number(head, tok), 0.0


def _number(text: str, tok: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise SeriesError(f"{tok!r} is not a number or an expansion (a+bxn)") from None
    if not math.isfinite(v):
        raise SeriesError(f"{tok!r}: not finite (NaN and infinities are refused)")
    return v


# ------------------------------------------------------------------ the file
NonNeg = Annotated[float, Field(ge=0.0)]
CommandName = Literal[
    "acknowledge_alarm",
    "shelve_alarm",
    "unshelve_alarm",
    "reset_alarm",
    "remove_alarm_from_service",
    "return_alarm_to_service",
]


class ActionSpec(StrictModel):
    at: NonNeg
    command: CommandName
    alarm: AlarmId
    duration_s: PositiveFloat | None = None  # shelve_alarm
    reason: str = "alarm-rule test"
    by: str = "test"


class ExpectSpec(StrictModel):
    at: NonNeg
    alarms: dict[AlarmId, AlarmLabel]


class CaseSpec(StrictModel):
    name: str = Field(min_length=1)
    interval_s: PositiveFloat | None = None
    state: str = "Execute"
    series: dict[ChannelName, str] = Field(min_length=1)
    limits: dict[ChannelName, float] = Field(default_factory=dict)
    setpoints: dict[ChannelName, float] = Field(default_factory=dict)
    actions: list[ActionSpec] = Field(default_factory=list)
    expect: list[ExpectSpec] = Field(min_length=1)


class TestFile(StrictModel):
    line: str | None = None
    alarms: dict[AlarmId, AlarmDefinition] = Field(default_factory=dict)
    interval_s: PositiveFloat = 1.0
    tests: list[CaseSpec] = Field(min_length=1)


@dataclass(frozen=True)
class Case:
    name: str
    interval_s: float
    state: str
    series: Mapping[str, list[float]]
    limits: Mapping[str, float]
    setpoints: Mapping[str, float]
    actions: list[tuple[float, AlarmCommand]]
    expect: list[ExpectSpec]


@dataclass
class Suite:
    file: str
    definitions: dict[str, AlarmDefinition]
    cases: list[Case]


def load_tests(path: Path) -> Suite:
    """The test file at ``path`` (``InputFileError`` naming the file, the field and the
    value for anything wrong in it or in the line config it names)."""
    file = str(path)
    spec = validate_model(file, read_toml(path), TestFile)
    defs: dict[str, AlarmDefinition] = {}
    if spec.line is not None:
        line_path = (path.parent / spec.line).resolve()
        defs.update(validate_model(str(line_path), read_toml(line_path), LineConfig).alarms)
    defs.update(spec.alarms)
    if not defs:
        raise InputFileError([Problem(file, "alarms", "no alarm definitions (line or [alarms])")])
    problems: list[Problem] = []
    cases = []
    for i, c in enumerate(spec.tests):
        where = f"tests[{i}]"
        series: dict[str, list[float]] = {}
        for ch, text in c.series.items():
            try:
                series[ch] = parse_series(text)
            except SeriesError as exc:
                problems.append(Problem(file, f"{where}.series.{ch}", f"{text!r}: {exc}"))
        actions: list[tuple[float, AlarmCommand]] = []
        for j, a in enumerate(c.actions):
            if a.alarm not in defs:
                problems.append(Problem(file, f"{where}.actions[{j}].alarm",
                                        f"{a.alarm!r}: no such alarm"))  # fmt: skip
                continue
            fields: dict[str, Any] = {"alarm": a.alarm, "by": a.by, "reason": a.reason}
            if a.command == "shelve_alarm":
                if a.duration_s is None:
                    problems.append(Problem(file, f"{where}.actions[{j}].duration_s",
                                            "shelve_alarm needs duration_s"))  # fmt: skip
                    continue
                fields["duration_s"] = a.duration_s
            cmd = COMMAND_TYPES[a.command].from_fields(fields)
            assert isinstance(cmd, AlarmCommand)
            actions.append((a.at, cmd))
        for j, e in enumerate(c.expect):
            for alarm in e.alarms:
                if alarm not in defs:
                    problems.append(Problem(file, f"{where}.expect[{j}].alarms.{alarm}",
                                            f"{alarm!r}: no such alarm"))  # fmt: skip
        cases.append(
            Case(c.name, c.interval_s or spec.interval_s, c.state, series, c.limits,
                 c.setpoints, actions, c.expect)
        )  # fmt: skip
    if problems:
        raise InputFileError(problems)
    return Suite(file, defs, cases)


# ------------------------------------------------------------------ running
@dataclass
class Outcome:
    name: str
    failures: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # alarms not evaluated (no series)

    @property
    def passed(self) -> bool:
        return not self.failures


def evaluated(definitions: Mapping[str, AlarmDefinition], series: Mapping[str, Any]) -> list[str]:
    """The alarms a case evaluates: those whose every channel has a series."""
    return [
        k for k, d in definitions.items()
        if d.channel in series and (d.setpoint is None or d.setpoint in series)
    ]  # fmt: skip


def run_case(definitions: Mapping[str, AlarmDefinition], case: Case) -> Outcome:
    """Steps at ``k * interval_s`` for every value of the longest series (a shorter
    series has no value after its end); commands at or before a step are taken before
    it; an expectation at ``at`` is checked against the labels after the last step at
    or before ``at``."""
    out = Outcome(case.name)
    ids = evaluated(definitions, case.series)
    out.skipped = [k for k in definitions if k not in ids]
    for e in case.expect:
        for alarm in e.alarms:
            if alarm not in ids:
                out.failures.append(
                    f"{alarm}: not evaluated (no series for {definitions[alarm].channel})"
                )
    if out.failures:
        return out
    defs = {k: definitions[k] for k in ids}
    channels = list(case.series)
    index = {c: i for i, c in enumerate(channels)}
    steps = max(len(v) for v in case.series.values())
    values = np.full((steps, len(channels)), math.nan)
    for j, c in enumerate(channels):
        values[: len(case.series[c]), j] = case.series[c]
    quality = np.where(np.isnan(values), int(Quality.STALE), int(Quality.GOOD)).astype(np.uint8)
    ctx = engine.AlarmContext(state=case.state, setpoints=case.setpoints, limits=case.limits)
    state: engine.Alarms = engine.initial(defs)
    actions = sorted(case.actions, key=lambda a: a[0])
    expects = sorted(case.expect, key=lambda e: e.at)
    ai = ei = 0
    eps = 1e-9 * case.interval_s

    def check(e: ExpectSpec) -> None:
        for alarm, want in e.alarms.items():
            got = state[alarm].label
            if got != want:
                out.failures.append(f"at {e.at:g} s: {alarm}: expected {want}, got {got}")

    for k in range(steps):
        now = k * case.interval_s
        while ei < len(expects) and expects[ei].at < now - eps:
            check(expects[ei])
            ei += 1
        while ai < len(actions) and actions[ai][0] <= now + eps:
            res = engine.act(defs, state, actions[ai][1], now)
            if isinstance(res, engine.Rejected):
                out.failures.append(
                    f"at {actions[ai][0]:g} s: {actions[ai][1].name} refused: {res.reason}"
                )
            else:
                state = res[0]
            ai += 1
        sample = Sample(now, index, values[k], quality[k])
        state, _ = engine.step(defs, state, sample, now, ctx)
    for e in expects[ei:]:
        check(e)
    return out
