"""``linecontrol serve``: the supervised line as its own process, behind the local API.

One session of the line (``linecontrol.recording.open_line``: acquisition, the
supervisor, alarms and one run log, the simulators with ``sim``) for the whole serve
process; the API on a Unix socket (and loopback TCP on request) drives it. It boots
Stopped (Aborted after an unclean stop, or when the last supervisor ended Aborted
without a Clear); with ``recipe`` the recipe is loaded at start
(a ``LoadRecipe`` by ``serve``), and nothing else is given by itself. A stop signal
(SIGINT, SIGTERM) stops the line (Stop, then Abort if it does not end in time), closes
the API and the run log, and removes the socket.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from linecontrol.api import api_schema
from linecontrol.config import LineConfig
from linecontrol.model import LoadRecipe
from linecontrol.recording import (
    LineSession,
    LineSetup,
    StoppedBeforeStart,
    StopSignals,
    make_safe,
    open_line,
    take_state_lock,
)
from linecontrol.runlog import check_data_dir
from linecontrol.server.http import ApiServer, clear_socket_path, loopback
from linecontrol.server.hub import Hub
from linecontrol.supervisor import StateLock

logger = logging.getLogger("linecontrol.server")
BY = "serve"
SAFE_STATES = ("Stopped", "Aborted")


@dataclass
class ServeOptions:
    config: Path
    line: LineConfig
    data_dir: Path
    socket: Path
    tcp: tuple[str, int] | None = None
    sim: bool = False
    speedup: float = 1.0
    sample_hz: float = 10.0
    recipe: Path | None = None
    recipes_dir: Path | None = None
    sim_log_args: list[str] = field(default_factory=list)
    # Called once the API serves: (run id, socket path, TCP port or None).
    on_ready: Callable[[str, Path, int | None], None] | None = None


@dataclass
class ServeResult:
    run_id: str
    run_dir: Path
    status: str
    final: dict[str, Any]
    run_log_errors: list[str] = field(default_factory=list)
    served: bool = True  # False: a stop signal came before the API served (nothing served)


async def serve(opts: ServeOptions) -> ServeResult:
    """Serve until a stop signal (or the supervisor or acquisition ends). Raised before
    anything starts: ``RunLogError`` (the data root), ``ServeError`` (a live server on
    the socket, a path that is no socket, a TCP address not loopback),
    ``SupervisorRunning`` (another supervisor on the data root); ``RecordError`` if the
    simulated line does not start; ``StoppedBeforeStart`` for a stop signal during those
    checks. A signal while the line starts (the simulators) ends the session before the
    API serves: the result's ``served`` is False. From the first check to the last
    clean-up a signal (a second one too) only sets the stop, never ends the process."""
    stop = asyncio.Event()
    signals = StopSignals(asyncio.get_running_loop(), stop)
    try:
        check_data_dir(opts.data_dir)
        clear_socket_path(opts.socket)
        if opts.tcp is not None:
            loopback(opts.tcp[0])
        # A signal that came during the checks is taken now (its handler runs through the
        # loop's self-pipe, before a timer's wake-up), before the lock or the simulators.
        await asyncio.sleep(0.001)
        if stop.is_set():
            raise StoppedBeforeStart("stopped by a signal before serving")
        lock = take_state_lock(opts.data_dir)
        try:
            return await _session(opts, lock, stop)
        finally:
            lock.release()
    finally:
        signals.remove()


async def _session(opts: ServeOptions, lock: StateLock, stop: asyncio.Event) -> ServeResult:
    setup = LineSetup(
        config=opts.config,
        line=opts.line,
        data_dir=opts.data_dir,
        lock=lock,
        sim=opts.sim,
        speedup=opts.speedup,
        sample_hz=opts.sample_hz,
        operator=BY,
        sim_log_args=opts.sim_log_args,
    )
    served = True
    async with open_line(setup) as s:
        hub = Hub(s, opts.line.api, opts.recipes_dir)
        server = ApiServer(hub, api_schema(), opts.socket, opts.tcp)
        ticks = asyncio.create_task(hub.run(), name="stream clock")
        try:
            if stop.is_set():  # a signal while the simulators started: serve nothing
                s.status = "stopped by signal before serving"
                served = False
            else:
                await _serve(opts, s, hub, server, stop)
        finally:
            hub.closing = True
            ticks.cancel()
            await asyncio.gather(ticks, return_exceptions=True)
            await server.stop()
    result = _result(s)
    result.served = served
    return result


async def _serve(
    opts: ServeOptions, s: LineSession, hub: Hub, server: ApiServer, stop: asyncio.Event
) -> None:
    await server.start()
    if opts.on_ready is not None:
        opts.on_ready(s.log.meta.run_id, opts.socket, server.tcp_port)
    if opts.recipe is not None:
        s.supervisor.submit(
            LoadRecipe(by=BY, request_id="serve-load", at=s.clock.wall(),
                       path=str(opts.recipe))
        )  # fmt: skip
    stopped = asyncio.create_task(stop.wait(), name="stop-signal")
    done, _ = await asyncio.wait(
        {stopped, s.sup_task, s.acq_task}, return_when=asyncio.FIRST_COMPLETED
    )
    stopped.cancel()
    if stop.is_set():
        s.status = "stopped by signal"
    else:
        ended = next(iter(done))
        s.status = f"{ended.get_name()} ended: {ended.exception()!r}"
    hub.closing = True  # commands refused from here on
    running = not s.sup_task.done() and s.supervisor.core is not None
    if running and s.supervisor.state.label not in SAFE_STATES:
        logger.info("stopping the line")
        await make_safe(s.supervisor, BY, s.clock, "serve stopped", BY)


def _result(s: LineSession) -> ServeResult:
    errors = [f"{e['where']}: {e['error']}" for e in s.log.errors]
    return ServeResult(s.log.meta.run_id, s.log.dir, s.status, s.final, errors)
