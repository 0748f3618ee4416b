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
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from linecontrol.acquisition import Acquisition, apply_address_map
from linecontrol.config import LineConfig, Recipe, load_model_bytes
from linecontrol.errors import AddressMapError, InputFileError, LinecontrolError
from linecontrol.model import (
    Abort,
    Clear,
    Command,
    DeviceStats,
    DeviceSummary,
    Event,
    LoadRecipe,
    Reset,
    Start,
    StateChanged,
    Stop,
)
from linecontrol.recording.recorder import (
    RecordError,
    SimChild,
    StopSignals,
    start_sim,
    stop_sim,
)
from linecontrol.runlog import RunLog, RunMeta, check_data_dir, new_run_id
from linecontrol.runtime import ChildRequests, ScaledClock, context_logger, settle_runtime
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
SAFE_DEADLINE_S = 30.0  # real seconds for the line to stop at the end of a run
STATE_DIR = ".supervisor"  # under the data root: alarm states, the running marker


class RecipeRefusedError(LinecontrolError, ValueError):
    """The recipe cannot run on this line (a rule violated, no ``[run]`` end, a field
    the line cannot set): ``problems``, one line each; nothing was started."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))


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
    are raised before anything starts (no simulator, no run)."""
    check_data_dir(opts.data_dir)
    raw = read_recipe_bytes(opts.recipe)  # InputFileError before anything starts
    recipe = load_model_bytes(str(opts.recipe), raw, Recipe)
    plan, problems, warnings = plan_recipe(recipe, opts.line, raw.decode("utf-8"))
    if plan is None:
        raise RecipeRefusedError(opts.recipe, problems)
    # One supervisor per data root: taken before anything starts, held to the end.
    lock = StateLock(opts.data_dir / STATE_DIR)
    try:
        lock.acquire()
    except OSError as exc:
        raise RecordError(f"state directory {lock.path.parent}: {exc.strerror or exc}") from exc
    try:
        return await _run_locked(opts, recipe, (plan, tuple(warnings)), lock)
    finally:
        lock.release()


async def _run_locked(
    opts: RunOptions, recipe: Recipe, planned: tuple[Plan, tuple[str, ...]], lock: StateLock
) -> RunResult:
    epoch = time.monotonic()
    clock = ScaledClock(opts.speedup, epoch)
    sim: SimChild | None = None
    line = opts.line
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = StopSignals(loop, stop)
    try:
        if opts.sim:
            args = [*clock.simulator_args(), *opts.sim_log_args]
            sim, amap = await start_sim(opts.config, args)
            try:
                line = apply_address_map(line, amap)
            except AddressMapError as exc:
                raise RecordError(str(exc)) from exc
        # The run id and start are real wall time: the scaled clock's wall runs N times
        # faster from its epoch (taken before the simulator's start-up), so its times
        # would be in the future and out of order between runs.
        start_wall = time.time()
        meta = RunMeta(
            run_id=new_run_id(start_wall),
            line=opts.line.model_dump(mode="json"),
            recipe=recipe.model_dump(mode="json"),
            operator=opts.operator,
            roll_id=opts.roll_id,
            lot_id=opts.lot_id,
            sample_hz=opts.sample_hz,
            start_wall=start_wall,
            start_mono=clock.monotonic(),
        )
        log: RunLog | None = None
        states: list[str] = []
        supervisor: Supervisor | None = None

        def on_event(event: Event) -> None:
            if log is not None:
                log.event(event)
            if isinstance(event, StateChanged):
                states.append(event.new)
            if supervisor is not None:
                supervisor.device_event(event)

        acq = Acquisition(line, clock, sample_hz=opts.sample_hz, on_event=on_event)
        meta.channels = acq.channels
        log = RunLog(opts.data_dir, meta, clock=clock.both)
        await log.start()
        run_log = context_logger(logger, run=log.meta.run_id)
        # The supervisor keeps its alarm states and its running marker by the runs.
        state_dir = opts.data_dir / STATE_DIR
        supervisor = Supervisor(line, acq, clock, on_event=on_event, state_dir=state_dir)
        supervisor.state_lock = lock  # already held: boot takes it over
        acq.sinks.append(log.append)
        by = opts.operator or "cli"
        status = "ok"
        # Settled before the line is polled, not during it: the one full collection it does
        # (tens of ms, more on a loaded machine) must not age the fastest devices' values
        # into STALE, which holds a running line (3 poll periods: 0.3 s for the drive).
        settle_runtime()
        acq_task = asyncio.create_task(acq.run(), name="acquisition")
        sup_task = asyncio.create_task(supervisor.run(), name="supervisor")
        stopped = asyncio.create_task(stop.wait(), name="stop-signal")
        requests = ChildRequests(sim.proc) if sim is not None else None
        scripts: list[asyncio.Task[None]] = []

        def start_script() -> None:
            if opts.script is not None:
                handle = RunHandle(supervisor, clock, requests, log)
                scripts.append(asyncio.create_task(opts.script(handle), name="run script"))

        try:
            if stop.is_set():  # a signal while the simulators started: drive nothing
                raise _StoppedBeforeStart
            # The recipe run is the one read, checked and planned before anything started
            # (a plan names devices, not addresses), never read again from a file that may
            # have changed since.
            load = LoadRecipe(by=by, request_id="run-load", at=clock.wall(), path=str(opts.recipe))
            ended = asyncio.create_task(
                _drive(
                    supervisor,
                    states,
                    by,
                    clock,
                    RecipeReady(load, *planned),
                    start_script,
                    stop,
                    sup_task,
                    acq_task,
                ),
                name="run",
            )
            done, _ = await asyncio.wait(
                {ended, stopped}, timeout=opts.deadline_s, return_when=asyncio.FIRST_COMPLETED
            )
            if stop.is_set():
                status = "stopped by signal"
            elif ended not in done:
                status = f"deadline: {opts.deadline_s:g} s of wall time passed"
            elif ended.exception() is not None:
                status = f"error: {ended.exception()!r}"
            else:
                status = ended.result()
            ended.cancel()
            await asyncio.gather(ended, return_exceptions=True)
            if not sup_task.done() and supervisor.state.label not in (
                "Complete",
                "Stopped",
                "Aborted",
            ):
                await _make_safe(supervisor, by, clock)
        except _StoppedBeforeStart:
            status = "stopped by signal"
        finally:
            for t in (*scripts, stopped, sup_task, acq_task):
                t.cancel()
            await asyncio.gather(
                *scripts,
                stopped,
                sup_task,
                acq_task,
                return_exceptions=True,
            )
            report = acq.device_report()
            log.event(DeviceSummary(
                devices={n: DeviceStats.model_validate(d) for n, d in report.devices.items()}
            ))  # fmt: skip
            await acq.close()
            final = supervisor.status()
            status = await log.stop(status)
            run_log.info("run ended: %s", status)
        return RunResult(
            run_id=meta.run_id,
            run_dir=log.dir,
            status=status,
            final_state=str(final["state"]),
            first_out=str(final.get("first_out", "")),
            states=states,
            run_log_errors=[f"{e['where']}: {e['error']}" for e in log.errors],
        )
    finally:
        try:
            if sim is not None:
                await stop_sim(sim)
        finally:
            signals.remove()


async def _drive(
    supervisor: Supervisor,
    states: list[str],
    by: str,
    clock: ScaledClock,
    recipe: RecipeReady,
    start_script: Callable[[], None],
    stop: asyncio.Event,
    *tasks: asyncio.Task[Any],
) -> str:
    """Load, Reset, Start and wait for the end; the run's status. None of them is given
    once ``stop`` is set (a signal): the run ends there (``_StoppedBeforeStart``)."""

    def give(command: Command | RecipeReady) -> None:
        if stop.is_set():
            raise _StoppedBeforeStart
        supervisor.submit(command)

    await _until(supervisor, lambda s: s.core is not None, *tasks)
    if supervisor.state.label == "Aborted":
        # The last supervisor did not end cleanly. Running a recipe is the user's command,
        # so it clears the abort as an operator would, in the run log under their name.
        logger.warning("the last run did not end cleanly: clearing the abort before this run")
        why = "the last run did not end cleanly"
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
        return f"not started: {st['state']}: {st['first_out'] or 'no first-out cause'}"
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


async def _make_safe(supervisor: Supervisor, by: str, clock: ScaledClock) -> None:
    """Stop the line (Abort if it does not stop within the deadline)."""
    supervisor.submit(Stop(by=by, request_id="run-end-stop", at=clock.wall(), reason="run ended"))
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(SAFE_DEADLINE_S):
            await supervisor.wait_for(lambda s: s.state.label in ("Stopped", "Aborted", "Complete"))
            return
    logger.error("the line did not stop within %g s: aborting", SAFE_DEADLINE_S)
    supervisor.submit(
        Abort(by=by, request_id="run-end-abort", at=clock.wall(), reason="stop timed out")
    )
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(SAFE_DEADLINE_S):
            await supervisor.wait_for(lambda s: s.state.label == "Aborted")


__all__ = [
    "InputFileError",
    "RecipeRefusedError",
    "RunOptions",
    "RunResult",
    "SupervisorRunning",
    "run_recipe",
]
