"""One supervised session of a line: the wiring ``linecontrol run`` and ``linecontrol
serve`` share.

``open_line`` starts (with ``sim``) the simulated line as a child process on the
session's clock, and wires acquisition, the supervisor and one run log; it yields a
``LineSession`` with acquisition and the supervisor running, and at its end stops them,
writes the device summary, closes the run log with ``session.status`` and stops the
simulators. What drives the line (a recipe run, the local API) is the caller's.

One clock: ``ScaledClock(speedup, epoch)`` drives acquisition, the supervisor and the
run log, and the simulators are started with the same ``--speedup`` and ``--epoch``.
The run id and start time are real wall time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from linecontrol.acquisition import Acquisition, apply_address_map
from linecontrol.config import LineConfig
from linecontrol.errors import AddressMapError
from linecontrol.model import Abort, DeviceStats, DeviceSummary, Event, StateChanged, Stop
from linecontrol.recording.recorder import RecordError, SimChild, start_sim, stop_sim
from linecontrol.runlog import RunLog, RunMeta, new_run_id
from linecontrol.runtime import ChildRequests, ScaledClock, context_logger, settle_runtime
from linecontrol.supervisor import StateLock, Supervisor

logger = logging.getLogger("linecontrol.run")
STATE_DIR = ".supervisor"  # under the data root: alarm states, the running marker
SAFE_DEADLINE_S = 30.0  # real seconds for the line to stop at the end of a session


def take_state_lock(data_dir: Path) -> StateLock:
    """The data root's supervisor lock, taken: ``SupervisorRunning`` if another
    supervisor holds it, ``RecordError`` if the state directory cannot be made."""
    lock = StateLock(data_dir / STATE_DIR)
    try:
        lock.acquire()
    except OSError as exc:
        raise RecordError(f"state directory {lock.path.parent}: {exc.strerror or exc}") from exc
    return lock


@dataclass
class LineSetup:
    config: Path
    line: LineConfig
    data_dir: Path
    lock: StateLock  # taken (``take_state_lock``): the supervisor's boot takes it over
    sim: bool = False
    speedup: float = 1.0
    sample_hz: float = 10.0
    recipe: dict[str, Any] | None = None  # the recipe kept in the run's metadata
    operator: str = ""
    roll_id: str = ""
    lot_id: str = ""
    sim_log_args: list[str] = field(default_factory=list)


@dataclass
class LineSession:
    """A running session: what drives the line sees of it."""

    line: LineConfig  # with the simulators' addresses, under ``sim``
    clock: ScaledClock
    acq: Acquisition
    log: RunLog
    supervisor: Supervisor
    sim: ChildRequests | None
    sup_task: asyncio.Task[None]
    acq_task: asyncio.Task[None]
    states: list[str]  # every PackML state entered, in order
    # Called with every event after the run log and the supervisor have it.
    listeners: list[Callable[[Event], None]] = field(default_factory=list)
    status: str = "ok"  # the run log's exit status, set by the caller
    final: dict[str, Any] = field(default_factory=dict)  # supervisor.status() at the end


@asynccontextmanager
async def open_line(setup: LineSetup) -> AsyncIterator[LineSession]:
    """The line supervised and logged (see the module docstring). ``RecordError`` if
    the simulated line does not start; the run log's own errors as ``RunLog.start``."""
    epoch = time.monotonic()
    clock = ScaledClock(setup.speedup, epoch)
    sim: SimChild | None = None
    line = setup.line
    try:
        if setup.sim:
            args = [*clock.simulator_args(), *setup.sim_log_args]
            sim, amap = await start_sim(setup.config, args)
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
            line=setup.line.model_dump(mode="json"),
            recipe=setup.recipe,
            operator=setup.operator,
            roll_id=setup.roll_id,
            lot_id=setup.lot_id,
            sample_hz=setup.sample_hz,
            speedup=setup.speedup,
            start_wall=start_wall,
            start_mono=clock.monotonic(),
        )
        log: RunLog | None = None
        states: list[str] = []
        supervisor: Supervisor | None = None
        listeners: list[Callable[[Event], None]] = []

        def on_event(event: Event) -> None:
            if log is not None:
                log.event(event, t_step=supervisor.step_now if supervisor is not None else None)
            if isinstance(event, StateChanged):
                states.append(event.new)
            if supervisor is not None:
                supervisor.device_event(event)
            for listen in listeners:
                listen(event)

        acq = Acquisition(line, clock, sample_hz=setup.sample_hz, on_event=on_event)
        meta.channels = acq.channels
        log = RunLog(setup.data_dir, meta, clock=clock.both)
        await log.start()
        run_log = context_logger(logger, run=log.meta.run_id)
        # The supervisor keeps its alarm states and its running marker by the runs.
        state_dir = setup.data_dir / STATE_DIR
        supervisor = Supervisor(line, acq, clock, on_event=on_event, state_dir=state_dir)
        supervisor.state_lock = setup.lock  # already held: boot takes it over
        acq.sinks.append(log.append)
        # Settled before the line is polled, not during it: the one full collection it does
        # (tens of ms, more on a loaded machine) must not age the fastest devices' values
        # into STALE, which holds a running line (3 poll periods: 0.3 s for the drive).
        settle_runtime()
        acq_task = asyncio.create_task(acq.run(), name="acquisition")
        sup_task = asyncio.create_task(supervisor.run(), name="supervisor")
        session = LineSession(
            line=line,
            clock=clock,
            acq=acq,
            log=log,
            supervisor=supervisor,
            sim=ChildRequests(sim.proc) if sim is not None else None,
            sup_task=sup_task,
            acq_task=acq_task,
            states=states,
            listeners=listeners,
        )
        try:
            yield session
        finally:
            for t in (sup_task, acq_task):
                t.cancel()
            await asyncio.gather(sup_task, acq_task, return_exceptions=True)
            report = acq.device_report()
            log.event(DeviceSummary(
                devices={n: DeviceStats.model_validate(d) for n, d in report.devices.items()}
            ))  # fmt: skip
            await acq.close()
            session.final = supervisor.status()
            session.status = await log.stop(session.status)
            run_log.info("run ended: %s", session.status)
    finally:
        if sim is not None:
            await stop_sim(sim)


async def make_safe(
    supervisor: Supervisor, by: str, clock: ScaledClock, why: str, prefix: str
) -> None:
    """Stop the line (Abort if it does not stop within the deadline); ``why`` is the
    Stop's reason, the request ids ``<prefix>-end-stop`` and ``<prefix>-end-abort``."""
    supervisor.submit(Stop(by=by, request_id=f"{prefix}-end-stop", at=clock.wall(), reason=why))
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(SAFE_DEADLINE_S):
            await supervisor.wait_for(lambda s: s.state.label in ("Stopped", "Aborted", "Complete"))
            return
    logger.error("the line did not stop within %g s: aborting", SAFE_DEADLINE_S)
    supervisor.submit(
        Abort(by=by, request_id=f"{prefix}-end-abort", at=clock.wall(), reason="stop timed out")
    )
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(SAFE_DEADLINE_S):
            await supervisor.wait_for(lambda s: s.state.label == "Aborted")
