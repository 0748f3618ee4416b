"""``linecontrol replay``: a logged run served through the local API, as ``serve``
serves a live line (``replay_hub``), on a Unix socket and optionally loopback TCP,
until a stop signal (SIGINT, SIGTERM), which closes the API and removes the socket.
The run is only read."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from linecontrol.api import api_schema
from linecontrol.config import RECIPES, LineConfig
from linecontrol.errors import LinecontrolError
from linecontrol.recording import StopSignals
from linecontrol.replay import open_run
from linecontrol.runlog import RunMeta, load_meta
from linecontrol.server.http import ApiServer, ServeError, clear_socket_path, loopback
from linecontrol.server.replay_hub import ReplayHub

logger = logging.getLogger("linecontrol.replay")


class ReplayOpenError(LinecontrolError, ValueError):
    """A run that cannot be replayed: no readable metadata or line config in it."""


@dataclass
class ReplayOptions:
    run_dir: Path
    socket: Path
    tcp: tuple[str, int] | None = None
    speed: float = 1.0
    paused: bool = False
    recipes_dir: Path | None = RECIPES
    # Called once the API serves: (run id, socket path, TCP port or None, problems
    # reading the run: a torn tail, corrupt batches, skipped event lines).
    on_ready: Callable[[str, Path, int | None, list[str]], None] | None = None


@dataclass
class ReplayResult:
    run_id: str
    problems: list[str] = field(default_factory=list)


def line_of_run(run_dir: Path) -> tuple[RunMeta, LineConfig]:
    """The run's metadata and the line config it was recorded with."""
    try:
        meta = load_meta(run_dir)
    except (OSError, ValueError, TypeError) as exc:
        raise ReplayOpenError(f"{run_dir}: its meta.json cannot be read: {exc}") from exc
    try:
        line = LineConfig.model_validate(meta.line)
    except ValueError as exc:
        raise ReplayOpenError(
            f"{run_dir}: the line config in meta.json is not valid: {exc}"
        ) from exc
    return meta, line


async def serve_replay(opts: ReplayOptions) -> ReplayResult:
    """Serve the run until a stop signal. Raised before serving: ``ReplayOpenError``,
    ``InvalidSpeed``, ``ServeError`` (a live server on the socket, a path that is no
    socket, a TCP address not loopback)."""
    stop = asyncio.Event()
    signals = StopSignals(asyncio.get_running_loop(), stop)
    try:
        meta, line = line_of_run(opts.run_dir)
        clear_socket_path(opts.socket)
        if opts.tcp is not None:
            loopback(opts.tcp[0])
            if not line.api.tokens:
                raise ServeError(
                    f"--tcp: run {meta.run_id}'s line has no [api.tokens]: nobody could use it"
                )
        opened = await asyncio.to_thread(
            open_run, opts.run_dir, time.monotonic(), speed=opts.speed, paused=True
        )
        hub = ReplayHub(opened.player, meta, opts.run_dir, line, line.api, opts.recipes_dir)
        hub.rebuild()
        if not opts.paused:
            opened.player.resume(time.monotonic())
        server = ApiServer(hub, api_schema(), opts.socket, opts.tcp)
        ticks = asyncio.create_task(hub.run(), name="stream clock")
        play = asyncio.create_task(hub.play(), name="replay")
        try:
            await server.start()
            if opts.on_ready is not None:
                opts.on_ready(meta.run_id, opts.socket, server.tcp_port, opened.problems)
            await stop.wait()
        finally:
            hub.closing = True
            for task in (ticks, play):
                task.cancel()
            await asyncio.gather(ticks, play, return_exceptions=True)
            await server.stop()
        return ReplayResult(meta.run_id, opened.problems)
    finally:
        signals.remove()
