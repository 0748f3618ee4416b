"""Headless recording of a line (until the supervisor exists): acquisition into a run log.

With ``sim=True`` the simulated line of the same config is started first as a child
process (``python -m simulators``), its address map read from its first line of
output, and stopped afterwards.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from linecontrol.acquisition import Acquisition, apply_address_map
from linecontrol.config import LineConfig, Recipe
from linecontrol.errors import AddressMapError, LinecontrolError
from linecontrol.model import CommandGiven, DeviceStats, DeviceSummary, Event, StartRecording
from linecontrol.runlog import RunLog, RunMeta, check_data_dir, new_run_id
from linecontrol.runtime import (
    ScaledClock,
    SystemClock,
    context_logger,
    settle_runtime,
    start_child,
    stop_child,
    stop_signals,
)

logger = logging.getLogger("linecontrol.record")
# The simulated line's own log lines, read from its stderr.
sim_logger = logging.getLogger("linecontrol.record.sim")
SIM_START_DEADLINE_S = 30.0
SIM_STOP_DEADLINE_S = 10.0


class RecordError(LinecontrolError, RuntimeError):
    """The recording could not start: the simulated line did not, or does not serve
    the line config's devices."""


@dataclass
class RecordResult:
    """How a recording ended: ``status`` is what the run's meta.json records;
    ``devices`` the one-line device summary; ``run_log_errors`` the writes that
    failed (the run is readable up to them); ``devices_failed``: a device never
    answered or was not answering at the end; ``crashed``: acquisition stopped on
    an error of its own."""

    run_id: str
    status: str
    devices: str
    run_log_errors: list[str]
    devices_failed: bool
    crashed: bool


@dataclass
class RecordOptions:
    config: Path
    line: LineConfig
    duration_s: float
    data_dir: Path
    sim: bool = False
    time_scale: float = 1.0
    sample_hz: float = 10.0
    operator: str = ""
    roll_id: str = ""
    lot_id: str = ""
    recipe: Recipe | None = None
    sim_log_args: list[str] = field(default_factory=list)  # the simulators' logging options


SIM_STDERR_KEPT = 20  # the simulators' last stderr lines, for a failed start


@dataclass
class SimChild:
    """The simulated line as a child process, with the task that drains its stderr."""

    proc: asyncio.subprocess.Process
    drain: asyncio.Task[None]
    tail: collections.deque[str]


async def _drain_stderr(stream: asyncio.StreamReader, tail: collections.deque[str]) -> None:
    """Read the simulators' stderr for as long as they run, into our log.

    A pipe nobody reads fills (64 KiB on Linux) and then blocks the simulators' next log
    line, freezing every simulated device. Each line is logged at the level its own
    prefix names (the simulators log in ``linecontrol.runtime.LOG_FORMAT``), other lines at INFO.
    """
    while line := await stream.readline():
        text = line.decode(errors="replace").rstrip()
        tail.append(text)
        words = text.split(maxsplit=3)
        level = next(
            (lvl for w in words[:3] if isinstance(lvl := logging.getLevelName(w), int)),
            logging.INFO,
        )
        sim_logger.log(level, "%s", text)


async def start_sim(config: Path, args: list[str]) -> tuple[SimChild, dict[str, Any]]:
    """The simulated line of ``config`` as a child process (``python -m simulators
    --lifeline``, with ``args``: its clock and logging options) and its address map.
    Tied to this process (``linecontrol.runtime.start_child``): it ends with us, however
    we end. ``RecordError`` if it does not start."""
    proc = await start_child(
        [sys.executable, "-m", "simulators", "--lifeline", "--config", str(config), *args]
    )
    assert proc.stdout is not None and proc.stderr is not None
    tail: collections.deque[str] = collections.deque(maxlen=SIM_STDERR_KEPT)
    sim = SimChild(proc, asyncio.create_task(_drain_stderr(proc.stderr, tail)), tail)
    first = b""
    try:
        first = await asyncio.wait_for(proc.stdout.readline(), SIM_START_DEADLINE_S)
        amap = json.loads(first)
    except (TimeoutError, ValueError) as exc:
        await stop_sim(sim)
        # A simulator that ended without its map said why on its last line.
        why = tail[-1] if not first and tail else f"{exc} {' '.join(tail)[-500:]}"
        raise RecordError(f"the simulated line did not start: {why}") from exc
    return sim, amap


async def _start_sim(
    opts: RecordOptions, clock: SystemClock | ScaledClock
) -> tuple[SimChild, dict[str, Any]]:
    # On the recorder's own clock: a ScaledClock at a time scale, the system's otherwise.
    args = clock.simulator_args() if isinstance(clock, ScaledClock) else []
    return await start_sim(opts.config, [*args, *opts.sim_log_args])


async def stop_sim(sim: SimChild) -> None:
    try:
        await stop_child(sim.proc, SIM_STOP_DEADLINE_S)
    finally:
        # The child is gone, so its stderr ends: the drain finishes by itself (bounded,
        # in case a grandchild still holds the pipe open).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(sim.drain), 2)
        sim.drain.cancel()
        await asyncio.gather(sim.drain, return_exceptions=True)


class StopSignals:
    """SIGINT, SIGTERM and SIGHUP (``runtime.stop_signals``: not an ignored SIGHUP) set
    ``stop`` from installation until ``remove()``, which comes after every clean-up: a
    second signal during shutdown is noted, never lets the default action kill the
    process half-way through its clean-up."""

    def __init__(self, loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
        self._loop = loop
        self._stop = stop
        self.SIGNALS = stop_signals()
        for sig in self.SIGNALS:
            loop.add_signal_handler(sig, self._on_signal, sig)

    def _on_signal(self, sig: signal.Signals) -> None:
        if self._stop.is_set():
            logger.warning("%s during shutdown: clean-up continues", sig.name)
        self._stop.set()

    def remove(self) -> None:
        for sig in self.SIGNALS:
            self._loop.remove_signal_handler(sig)


async def record(opts: RecordOptions) -> RecordResult:
    """Record for ``duration_s`` seconds (or until SIGINT/SIGTERM). The data
    directory is checked before anything starts (``RunLogError``); a failure to
    create the run raises ``RunLogError`` too; later write failures end up in the
    result, never raised."""
    check_data_dir(opts.data_dir)
    # One clock for acquisition, the run log and the simulators: at a time scale the
    # samples are stamped in process time, as the simulated physics runs.
    clock: SystemClock | ScaledClock = (
        ScaledClock(opts.time_scale) if opts.sim and opts.time_scale != 1.0 else SystemClock()
    )
    sim: SimChild | None = None
    line = opts.line
    # From here to the end: a signal during start-up ends the run as soon as it starts.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = StopSignals(loop, stop)
    try:
        if opts.sim:
            sim, amap = await _start_sim(opts, clock)
            try:
                line = apply_address_map(line, amap)
            except AddressMapError as exc:
                raise RecordError(str(exc)) from exc
        meta = RunMeta(
            run_id=new_run_id(time.time()),  # real time, as run's: ids sort by start
            line=opts.line.model_dump(mode="json"),
            recipe=opts.recipe.model_dump(mode="json") if opts.recipe else None,
            operator=opts.operator,
            roll_id=opts.roll_id,
            lot_id=opts.lot_id,
            sample_hz=opts.sample_hz,
            speedup=clock.speedup if isinstance(clock, ScaledClock) else 1.0,
            start_wall=time.time(),
            start_mono=clock.monotonic(),
        )
        log: RunLog | None = None

        def on_event(event: Event) -> None:
            if log is not None:
                log.event(event)

        acq = Acquisition(line, clock, sample_hz=opts.sample_hz, on_event=on_event)
        meta.channels = acq.channels
        # The run log logs its own write failures (logger linecontrol.runlog, run named).
        log = RunLog(opts.data_dir, meta, clock=clock.both)
        await log.start()
        run_log = context_logger(logger, run=log.meta.run_id)
        run_log.info("recording to %s for %g s", log.dir, opts.duration_s)
        given = StartRecording(
            by=opts.operator or "cli",
            at=clock.wall(),
            duration_s=opts.duration_s,
            simulated=opts.sim,
        )
        log.event(CommandGiven(command=given))
        acq.sinks.append(log.append)
        task = asyncio.create_task(acq.run(), name="acquisition")
        status = "ok"
        crashed = False
        # Once every link has had its first poll, long-lived objects need no rescans.
        loop.call_later(min(1.0, opts.duration_s / 4), settle_runtime)
        stopped = asyncio.create_task(stop.wait(), name="stop-signal")
        try:
            done, _ = await asyncio.wait(
                {task, stopped},
                timeout=opts.duration_s,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if stop.is_set():
                status = "stopped by signal"
            elif task in done and task.exception() is not None:
                status = f"error: {task.exception()!r}"
                crashed = True
        finally:
            task.cancel()
            stopped.cancel()
            await asyncio.gather(task, stopped, return_exceptions=True)
            report = acq.device_report()
            log.event(
                DeviceSummary(
                    devices={n: DeviceStats.model_validate(d) for n, d in report.devices.items()}
                )
            )
            if report.failed:
                status = f"{status}; {report.status()}"
            status = await log.stop(status)
            run_log.info("stopped: %s", status)
        return RecordResult(
            run_id=meta.run_id,
            status=status,
            devices=report.line(),
            run_log_errors=[f"{e['where']}: {e['error']}" for e in log.errors],
            devices_failed=report.failed,
            crashed=crashed,
        )
    finally:
        try:
            if sim is not None:
                await stop_sim(sim)
        finally:
            signals.remove()
