"""What-if's I/O: a run directory read into what the pure core takes, and alarm
definitions and recipes read from files.

A run's events give the live alarm journal and what the supervisor told the engine;
each is taken at its step's time (``t_step`` in the event's envelope; a run logged
before it was recorded has only the time the event was logged, a little later, and
``LoadedRun.approximate`` says so). A torn run is read up to its last complete batch:
what the log holds past the last sampled row is not compared (``beyond``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from linecontrol.config import (
    AlarmDefinition,
    AlarmId,
    LineConfig,
    Recipe,
    StrictModel,
    alarm_channel_problem,
    load_model_bytes,
    read_toml,
    validate_model,
)
from linecontrol.errors import InputFileError, Problem
from linecontrol.model import (
    AlarmChanged,
    AlarmCommand,
    AlarmInputs,
    AlarmRaised,
    AlarmStatesKept,
    CommandGiven,
    RowsSkipped,
    SupervisorStopped,
)
from linecontrol.whatif.core import Logged, Rows, Transition

if TYPE_CHECKING:
    from linecontrol.runlog import RunMeta


class AlarmsFile(StrictModel):
    """An alarms-only file: ``[alarms.<id>]`` tables, as a line config has them."""

    alarms: dict[AlarmId, AlarmDefinition]


@dataclass
class LoadedRun:
    run_dir: Path
    meta: RunMeta
    line: LineConfig | None  # the run's line config (None: meta.json has none we read)
    rows: Rows
    logged: Logged
    live: list[Transition]  # the run's own alarm journal, up to its last sampled row
    beyond: int = 0  # live transitions after the last sampled row (a torn run)
    approximate: bool = False  # some times are the log's, not the step's
    warnings: list[str] = field(default_factory=list)


def _step_time(extra: Mapping[str, Any], t_mono: float) -> tuple[float, bool]:
    t = extra.get("t_step")
    if isinstance(t, int | float) and not isinstance(t, bool):
        return float(t), False
    return t_mono, True


def run_line(meta: RunMeta, where: str) -> LineConfig:
    """The line config kept in ``meta.json`` (``InputFileError`` if it does not parse)."""
    return validate_model(where, meta.line, LineConfig)


def load_run(run_dir: Path) -> LoadedRun:
    """The run at ``run_dir`` (the run log's own errors for one it cannot read)."""
    # Here, not at the top: the pure core (this package) imports no pyarrow.
    from linecontrol.runlog import load_events, load_meta, load_samples

    meta = load_meta(run_dir)
    warnings: list[str] = []
    line: LineConfig | None = None
    try:
        line = run_line(meta, str(run_dir / "meta.json"))
    except InputFileError as exc:
        warnings.append(f"the run's line config does not load: {exc}")
    s = load_samples(run_dir)
    warnings += [f"samples: {t}" for t in s.torn] + [f"samples: {c}" for c in s.corrupt]
    rows = Rows([c.name for c in s.channels], s.t_mono, s.web_position_m, s.values, s.quality)
    ev = load_events(run_dir)
    if ev.torn:
        warnings.append(f"events: {ev.torn}")
    warnings += [f"events: {c}" for c in ev.corrupt] + [f"events: {p}" for p in ev.seq_problems]
    inputs: list[tuple[float, AlarmInputs]] = []
    actions: list[tuple[float, AlarmCommand]] = []
    skipped: list[tuple[float, int]] = []
    live: list[Transition] = []
    approximate = False
    t = rows.t
    last = float(t[-1]) if len(t) else -np.inf

    def web(at: float) -> float | None:
        i = int(np.searchsorted(t, at, side="left"))
        if i < len(t) and t[i] == at and np.isfinite(rows.web_position_m[i]):
            return float(rows.web_position_m[i])
        return None

    beyond = 0
    kept: AlarmStatesKept | None = None
    last_step: float | None = None
    for le in ev.events:
        e = le.event
        if isinstance(e, AlarmStatesKept):
            kept = e
            continue
        if isinstance(e, SupervisorStopped):
            last_step = e.last_step
            continue
        if not isinstance(e, AlarmInputs | RowsSkipped | CommandGiven | AlarmRaised | AlarmChanged):
            continue
        if isinstance(e, CommandGiven) and not isinstance(e.command, AlarmCommand):
            continue
        at, approx = _step_time(le.extra, le.t_mono)
        approximate |= approx
        if isinstance(e, AlarmInputs):
            inputs.append((at, e))
        elif isinstance(e, RowsSkipped):
            skipped.append((at, e.count))
        elif isinstance(e, CommandGiven):
            assert isinstance(e.command, AlarmCommand)
            actions.append((at, e.command))
        elif at > last:
            beyond += 1
        else:
            live.append(Transition(at, e.alarm, e.old, e.new, e.cause, e.by, web(at)))
    if approximate:
        warnings.append(
            "events without their step's time (t_step; logged by an older version): "
            "their times are when they were logged, so the live journal's times are late"
        )
    if not inputs:
        warnings.append(
            "no AlarmInputs in the run log (logged by an older version): the engine is "
            "evaluated without the supervisor's context (no state, no recipe)"
        )
    return LoadedRun(
        run_dir, meta, line, rows, Logged(inputs, actions, skipped, kept, last_step), live, beyond,
        approximate, warnings,
    )  # fmt: skip


def load_alarms(path: Path, line: LineConfig | None) -> dict[str, AlarmDefinition]:
    """The ``[alarms.<id>]`` of a line config, or of a file holding only those, parsed
    as the line config parses them (errors name the file, the field, the value and what
    is allowed); with ``line``, every channel is checked against its devices."""
    data = read_toml(path)
    file = str(path)
    if set(data) <= {"alarms"}:
        alarms = validate_model(file, {"alarms": data.get("alarms", {})}, AlarmsFile).alarms
    else:
        alarms = validate_model(file, data, LineConfig).alarms
    if line is not None:
        problem = alarm_channel_problem(alarms, line.devices)
        if problem is not None:
            raise InputFileError([Problem(file, None, f"{problem} (the run's line)")])
    return dict(alarms)


@dataclass(frozen=True)
class RecipeWindows:
    needed: frozenset[str]
    setpoints: dict[str, float]
    limits: dict[str, float]


def load_recipe_windows(path: Path, line: LineConfig) -> RecipeWindows:
    """A recipe file's windows on ``line``: what its plan needs, its setpoints and its
    ovens' O2 limits (``InputFileError`` naming the file when it does not load or plan)."""
    from linecontrol.supervisor import plan_recipe

    file = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputFileError([Problem(file, None, f"cannot read file: {exc.strerror}")]) from exc
    recipe = load_model_bytes(file, raw, Recipe)
    plan, problems, _ = plan_recipe(recipe, line, raw.decode("utf-8"))
    if plan is None:
        raise InputFileError([Problem(file, None, p) for p in problems])
    return RecipeWindows(
        plan.needed,
        {t.reads: t.value for t in plan.targets},
        {p.o2: p.o2_limit_ppm for p in plan.purges if p.o2 is not None},
    )
