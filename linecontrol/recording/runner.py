"""A headless supervised run (``linecontrol run``): a recipe from Stopped to Complete.

The line (or, with ``sim``, the simulated line as a child process on the same clock)
is polled by acquisition, supervised by ``linecontrol.supervisor`` and recorded in a
run log. The run loads the recipe, resets and starts, and ends when the machine
reaches Complete, or at the first fault that takes it to Held, Stopped or Aborted, or
when the wall-clock deadline passes (then it is aborted). Before it ends the line is
brought to a safe state: a run that did not complete is stopped (Abort if Stop does
not end within its deadline). A stop signal (SIGINT, SIGTERM) ends it too; one that comes
before the line is driven (while the simulators start) loads and writes nothing, and no
Clear, Load, Reset or Start is given once one has come (the line is stopped instead).

One clock: ``ScaledClock(speedup, epoch)`` drives acquisition, the supervisor and the
run log, and the simulators are started with the same ``--speedup`` and ``--epoch``,
so a run of hours of process passes in minutes. Each device is polled no faster than
its configured rate in real time (its period in simulated time grows with the
speed-up), so detection bounds counted in poll cycles hold at any speed-up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from linecontrol.config import LineConfig, Recipe, load_model_bytes
from linecontrol.errors import InputFileError, LinecontrolError
from linecontrol.model import (
    Clear,
    Command,
    LoadRecipe,
    Reset,
    Start,
)
from linecontrol.recording.recorder import (
    RecordError,
    StopSignals,
)
from linecontrol.recording.session import (
    LineSession,
    LineSetup,
    make_safe,
    open_line,
    take_state_lock,
)
from linecontrol.runlog import RunLog, check_data_dir
from linecontrol.runtime import ChildRequests, ScaledClock
from linecontrol.supervisor import (
    Plan,
    RecipeReady,
    StateLock,
    Supervisor,
    SupervisorRunning,
    plan_recipe,
    read_recipe_bytes,
)

logger = logging.getLogger("linecontrol.run")
END_STATES = ("Complete", "Held", "Stopped", "Aborted")


class RecipeRefusedError(LinecontrolError, ValueError):
    """The recipe cannot run on this line (a rule violated, no ``[run]`` end, a field
    the line cannot set): ``problems``, one line each; nothing was started."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))


class StoppedBeforeStart(LinecontrolError, RuntimeError):
    """A stop signal came while the recipe and the data root were being checked: nothing
    was started (no simulator, no run)."""


class _StoppedBeforeStart(LinecontrolError, RuntimeError):
    """A stop signal came before the line was driven (or before the next command)."""


@dataclass
class RunOptions:
    config: Path
    line: LineConfig
    recipe: Path
    data_dir: Path
    sim: bool = False
    speedup: float = 1.0
    sample_hz: float = 10.0
    operator: str = ""
    roll_id: str = ""
    lot_id: str = ""
    deadline_s: float | None = None  # real seconds for the whole run
    # After an unclean stop (the machine boots into Aborted) give Clear before the run;
    # without it such a run starts nothing and says why (the line needs looking at first).
    clear_abort: bool = False
    sim_log_args: list[str] = field(default_factory=list)
    # Run alongside the supervisor (tests: inject faults, give commands); its end does
    # not end the run.
    script: Callable[[RunHandle], Coroutine[Any, Any, None]] | None = None


@dataclass
class RunHandle:
    """What a script sees of a running run."""

    supervisor: Supervisor
    clock: ScaledClock
    sim: ChildRequests | None
    log: RunLog


@dataclass
class RunResult:
    run_id: str
    run_dir: Path
    status: str
    final_state: str
    first_out: str
    states: list[str]
    run_log_errors: list[str] = field(default_factory=list)


async def run_recipe(opts: RunOptions) -> RunResult:
    """Run ``opts.recipe``; ``RecordError`` if the simulated line does not start,
    ``InputFileError`` for a recipe that cannot be read, ``RecipeRefusedError`` for one
    that cannot run on the line, ``RunLogError`` for a data dir that cannot hold a run,
    ``SupervisorRunning`` if another supervisor runs on the data root. The last four
    are raised before anything starts (no simulator, no run), and so is
    ``StoppedBeforeStart`` for a stop signal during those checks."""
    # From the first moment: a signal ends the run (before the start: nothing starts).
    stop = asyncio.Event()
    signals = StopSignals(asyncio.get_running_loop(), stop)
    try:
        check_data_dir(opts.data_dir)
        raw = read_recipe_bytes(opts.recipe)  # InputFileError before anything starts
        recipe = load_model_bytes(str(opts.recipe), raw, Recipe)
        plan, problems, warnings = plan_recipe(recipe, opts.line, raw.decode("utf-8"))
        if plan is None:
            raise RecipeRefusedError(opts.recipe, problems)
        # A signal that came during the checks is taken now: its handler, queued through
        # the loop's self-pipe, runs before a timer's wake-up (a bare sleep(0) resumes
        # this before the loop has read the pipe).
        await asyncio.sleep(0.001)
        if stop.is_set():
            raise StoppedBeforeStart("stopped by a signal before anything started")
        # One supervisor per data root: taken before anything starts, held to the end.
        lock = take_state_lock(opts.data_dir)
        try:
            return await _run_locked(opts, recipe, (plan, tuple(warnings)), lock, stop)
        finally:
            lock.release()
    finally:
        signals.remove()


async def _run_locked(
    opts: RunOptions,
    recipe: Recipe,
    planned: tuple[Plan, tuple[str, ...]],
    lock: StateLock,
    stop: asyncio.Event,
) -> RunResult:
    setup = LineSetup(
        config=opts.config,
        line=opts.line,
        data_dir=opts.data_dir,
        lock=lock,
        sim=opts.sim,
        speedup=opts.speedup,
        sample_hz=opts.sample_hz,
        recipe=recipe.model_dump(mode="json"),
        operator=opts.operator or "cli",  # who gives the commands, as they are logged
        roll_id=opts.roll_id,
        lot_id=opts.lot_id,
        sim_log_args=opts.sim_log_args,
    )
    async with open_line(setup) as s:
        await _supervise(opts, planned, s, stop)
    return RunResult(
        run_id=s.log.meta.run_id,
        run_dir=s.log.dir,
        status=s.status,
        final_state=str(s.final["state"]),
        first_out=str(s.final.get("first_out", "")),
        states=s.states,
        run_log_errors=[f"{e['where']}: {e['error']}" for e in s.log.errors],
    )


async def _supervise(
    opts: RunOptions, planned: tuple[Plan, tuple[str, ...]], s: LineSession, stop: asyncio.Event
) -> None:
    """Drive the session's line through the recipe; its status is ``s.status``."""
    supervisor, clock, sup_task, acq_task = s.supervisor, s.clock, s.sup_task, s.acq_task
    by = opts.operator or "cli"
    if stop.is_set():  # a signal while the simulators started: drive nothing, and end
        s.status = "stopped by signal"  # before any await lets the supervisor boot
        return
    # The recipe run is the one read, checked and planned before anything started (a
    # plan names devices, not addresses), never read again from a file that may have
    # changed since.
    load = LoadRecipe(by=by, request_id="run-load", at=clock.wall(), path=str(opts.recipe))
    ready = RecipeReady(load, *planned)
    stopped = asyncio.create_task(stop.wait(), name="stop-signal")
    scripts: list[asyncio.Task[None]] = []

    def start_script() -> None:
        if opts.script is not None:
            handle = RunHandle(supervisor, clock, s.sim, s.log)
            scripts.append(asyncio.create_task(opts.script(handle), name="run script"))

    try:
        ended = asyncio.create_task(
            _drive(
                supervisor,
                s.states,
                by,
                clock,
                ready,
                start_script,
                stop,
                opts.clear_abort,
                sup_task,
                acq_task,
            ),
            name="run",
        )
        done, _ = await asyncio.wait(
            {ended, stopped}, timeout=opts.deadline_s, return_when=asyncio.FIRST_COMPLETED
        )
        if stop.is_set():
            s.status = "stopped by signal"
        elif ended not in done:
            s.status = f"deadline: {opts.deadline_s:g} s of wall time passed"
        elif ended.exception() is not None:
            s.status = f"error: {ended.exception()!r}"
        else:
            s.status = ended.result()
        ended.cancel()
        await asyncio.gather(ended, return_exceptions=True)
        if not sup_task.done() and supervisor.state.label not in (
            "Complete",
            "Stopped",
            "Aborted",
        ):
            await make_safe(supervisor, by, clock, "run ended", "run")
    except _StoppedBeforeStart:
        s.status = "stopped by signal"
    finally:
        for t in (*scripts, stopped):
            t.cancel()
        await asyncio.gather(*scripts, stopped, return_exceptions=True)


async def _drive(
    supervisor: Supervisor,
    states: list[str],
    by: str,
    clock: ScaledClock,
    recipe: RecipeReady,
    start_script: Callable[[], None],
    stop: asyncio.Event,
    clear_abort: bool,
    *tasks: asyncio.Task[Any],
) -> str:
    """Load, Reset, Start and wait for the end; the run's status. None of them is given
    once ``stop`` is set (a signal): the run ends there (``_StoppedBeforeStart``). A
    machine in Aborted (an unclean stop before) is cleared only with ``clear_abort``."""

    def give(command: Command | RecipeReady) -> None:
        if stop.is_set():
            raise _StoppedBeforeStart
        supervisor.submit(command)

    await _until(supervisor, lambda s: s.core is not None, *tasks)
    if supervisor.state.label == "Aborted":
        # The last supervisor did not end cleanly: the line may be anywhere. Only the
        # user's explicit --clear clears it, as an operator would, under their name.
        if not clear_abort:
            return (
                "not started: the machine is Aborted (the last supervisor on this data root "
                "did not end cleanly, or ended in Aborted); check the line, then run again "
                "with --clear to clear the abort"
            )
        logger.warning("the last run did not end cleanly: clearing the abort (--clear)")
        why = "the last run did not end cleanly; --clear given"
        give(Clear(by=by, request_id="run-clear", at=clock.wall(), reason=why))
        await _until(supervisor, lambda s: s.state.label == "Stopped" or bool(s.rejected), *tasks)
    give(recipe)  # planned from the bytes checked before the start, not read again
    # Reset after the load is taken, not before.
    await _until(
        supervisor,
        lambda s: s.core is not None and (s.core.plan is not None or "run-load" in s.rejected),
        *tasks,
    )
    if "run-load" in supervisor.rejected:
        return f"not started: {supervisor.rejected['run-load']}"
    give(Reset(by=by, request_id="run-reset", at=clock.wall()))

    def idle_or_not(s: Supervisor) -> bool:
        gone = s.state.label in ("Stopped", "Aborted") and "Resetting" in states
        return s.state.label == "Idle" or gone or bool(s.rejected)

    await _until(supervisor, idle_or_not, *tasks)
    refused = supervisor.rejected.get("run-load") or supervisor.rejected.get("run-reset")
    if refused:
        return f"not started: {refused}"
    if supervisor.state.label != "Idle":
        st = supervisor.status()
        why = f"not started: {st['state']}: {st['first_out'] or 'no first-out cause'}"
        if st["first_out"].startswith("alarm:"):
            why += (
                " (an alarm that demands a stop stands; a latched one, also from an earlier "
                "run, until acknowledged and reset: linecontrol serve, then acknowledge_alarm "
                "and reset_alarm over its API)"
            )
        return why
    give(Start(by=by, request_id="run-start", at=clock.wall()))
    start_script()
    await _until(
        supervisor,
        lambda s: (
            (s.state.label in END_STATES and "Starting" in states) or "run-start" in s.rejected
        ),
        *tasks,
    )
    if "run-start" in supervisor.rejected:
        return f"not started: {supervisor.rejected['run-start']}"
    st = supervisor.status()
    if st["state"] == "Complete":
        return "complete"
    return f"{st['state']}: {st['first_out'] or 'no first-out cause'}"


async def _until(
    supervisor: Supervisor, predicate: Callable[[Supervisor], bool], *tasks: asyncio.Task[Any]
) -> None:
    """Until ``predicate`` holds after a step, or one of ``tasks`` ends (its error raised)."""
    waiter = asyncio.create_task(supervisor.wait_for(predicate))
    try:
        done, _ = await asyncio.wait({waiter, *tasks}, return_when=asyncio.FIRST_COMPLETED)
        for t in done:
            if t is not waiter:
                t.result()  # raises its error
                raise RecordError(f"{t.get_name()} ended")
    finally:
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)


__all__ = [
    "InputFileError",
    "RecipeRefusedError",
    "RunOptions",
    "RunResult",
    "SupervisorRunning",
    "run_recipe",
]
