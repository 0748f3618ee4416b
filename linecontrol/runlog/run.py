"""A run directory and the writer that fills it, off the event loop.

``RunLog`` is the async application's handle: ``event(...)`` and ``append(batch)``
return at once (no disk I/O on the loop); a writer thread owns the files. The
queue between them is bounded, and a full queue never drops silently: batches go
to a spill list and a ``RunLogBacklog`` event is raised. A failed write or fsync
(disk full, read-only, I/O error) becomes an ``errors`` entry and a ``RunLogError``
event (where an event can still be written): one per streak of failures, not one
per batch, and a ``RunLogRecovered`` event with the count lost when writes work
again. A failed segment leaves no empty file behind; the writer retries in a fresh
segment and never reports success for what it could not write. Creating the run
(``start``) raises ``RunLogError``; a failure at ``stop`` is in ``errors``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import queue
import secrets
import threading
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from linecontrol import model
from linecontrol.errors import LinecontrolError
from linecontrol.model import Batch, Channel
from linecontrol.runlog.events import EventWriter
from linecontrol.runlog.meta import RunMeta, write_json_atomic
from linecontrol.runlog.samples import SegmentWriter, segment_name
from linecontrol.runlog.store import finish_run
from linecontrol.runtime import ContextLogger, context_logger

logger = logging.getLogger("linecontrol.runlog")
DEFAULT_ROOT = Path("runs")
SEGMENT_SECONDS = 600.0


def data_root(cli_value: str | Path | None = None) -> Path:
    """``--data-dir``, else ``$LINECONTROL_DATA``, else ``./runs``."""
    if cli_value:
        return Path(cli_value)
    env = os.environ.get("LINECONTROL_DATA")
    return Path(env) if env else DEFAULT_ROOT


ID_ATTEMPTS = 50


class RunLogError(LinecontrolError, OSError):
    """The run log cannot be written (disk full, read-only, not a directory...)."""


PROBE_BYTES = 64 * 1024


def check_data_dir(root: Path) -> None:
    """Raise ``RunLogError`` (one line, for the user) unless ``root`` is a directory,
    or can be created as one, where a file can be written and fsynced: a probe of
    ``PROBE_BYTES`` is written and removed, so a read-only or full file system is
    found before anything starts (permission bits alone say nothing to root)."""
    if root.exists() and not root.is_dir():
        raise RunLogError(f"the data directory {root} is not a directory")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunLogError(
            f"the data directory {root} cannot be created: {exc.strerror or exc}"
        ) from exc
    probe = root / f".linecontrol-probe-{os.getpid()}-{_token()}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            if os.write(fd, bytes(PROBE_BYTES)) != PROBE_BYTES:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise RunLogError(
            f"the data directory {root} is not writable: {exc.strerror or exc}"
        ) from exc
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()


def new_run_id(wall: float, token: Callable[[], str] | None = None) -> str:
    """``YYYYMMDD-HHMMSS-xxxx`` (UTC); ``RunLog.start`` creates the directory
    exclusively and draws a new id on a collision."""
    stamp = datetime.fromtimestamp(wall, UTC).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{(token or _token)()}"


def _token() -> str:
    return secrets.token_hex(2)


_STOP = object()
_CLOSE_SEGMENT = object()


class RunLog:
    def __init__(
        self,
        root: Path,
        meta: RunMeta,
        *,
        clock: Callable[[], tuple[float, float]],
        fsync: bool = True,
        segment_s: float = SEGMENT_SECONDS,
        queue_batches: int = 120,
        on_error: Callable[[dict[str, Any]], None] | None = None,
        opener: Callable[[Path, list[Channel], bool], SegmentWriter] | None = None,
        token: Callable[[], str] | None = None,
    ) -> None:
        self.root = root
        self.dir = root / meta.run_id
        self.token = token
        self.meta = meta
        self.clock = clock  # (monotonic, wall); called from the writer thread too
        self.fsync = fsync
        self.segment_s = segment_s
        self.on_error = on_error
        self.opener = opener or (lambda p, ch, fs: SegmentWriter(p, ch, fsync=fs))
        self.errors: list[dict[str, Any]] = []
        self.batches_written = 0
        self.rows_written = 0
        self.batches_lost = 0
        self.events_lost = 0
        self._failing: dict[str, int] = {}  # where -> failures in the current streak
        self._q: queue.Queue[Any] = queue.Queue(maxsize=queue_batches)
        self._spill: deque[Any] = deque()
        self._backlog = False
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._segment: SegmentWriter | None = None
        self._segment_no = 0
        self._events: EventWriter | None = None

    @property
    def log(self) -> ContextLogger:
        """The run's logger: every line names the run (first, and as ``record.run``)."""
        return context_logger(logger, run=self.meta.run_id)

    # ------------------------------------------------------------ loop side
    async def start(self) -> None:
        """Create the run directory (exclusively: a run id taken meanwhile by another
        recorder gives a new id) and its metadata, in a thread so fsyncs stay off
        the loop; start the writer thread. Raises ``RunLogError``."""
        self._loop = asyncio.get_running_loop()

        def create() -> EventWriter:
            try:
                self.root.mkdir(parents=True, exist_ok=True)
                for _ in range(ID_ATTEMPTS):
                    try:
                        self.dir.mkdir()
                        break
                    except FileExistsError:
                        self.meta.run_id = new_run_id(self.meta.start_wall, self.token)
                        self.dir = self.root / self.meta.run_id
                else:
                    raise RunLogError(f"no free run id under {self.root}")
            except RunLogError:
                raise
            except OSError as exc:
                raise RunLogError(
                    f"cannot create a run under {self.root}: {exc.strerror or exc}"
                ) from exc
            try:
                (self.dir / "samples").mkdir()
                write_json_atomic(self.dir / "meta.json", self.meta.as_dict())
                return EventWriter(self.dir / "events.jsonl", fsync=self.fsync)
            except OSError as exc:
                import shutil

                shutil.rmtree(self.dir, ignore_errors=True)  # nothing of value in it yet
                raise RunLogError(
                    f"cannot create run {self.meta.run_id} under {self.root}: {exc.strerror or exc}"
                ) from exc

        self._events = await asyncio.to_thread(create)
        self._thread = threading.Thread(
            target=self._run, name=f"runlog {self.meta.run_id}", daemon=True
        )
        self._thread.start()
        self.event(
            model.RunStarted(
                run_id=self.meta.run_id,
                operator=self.meta.operator,
                roll_id=self.meta.roll_id,
                lot_id=self.meta.lot_id,
            )
        )

    def event(self, event: model.Event, t_step: float | None = None) -> None:
        """Log ``event`` now; ``t_step``: the supervisor's step it comes from (that
        step's ``now``), kept in the line's envelope as ``t_step``."""
        mono, wall = self.clock()
        extra = {} if t_step is None else {"t_step": t_step}
        self._put(("event", mono, wall, event, extra))

    def append(self, batch: Batch) -> None:
        self._put(("batch", batch))

    def _put(self, item: Any) -> None:
        # Never block the loop, never drop: overflow waits in the spill list.
        if self._spill:
            self._spill.append(item)
            self._drain_spill()
            return
        try:
            self._q.put_nowait(item)
        except queue.Full:
            self._spill.append(item)
            if not self._backlog:
                self._backlog = True
                mono, wall = self.clock()
                backlog = model.RunLogBacklog(queued=self._q.qsize(), spilled=len(self._spill))
                self._spill.append(("event", mono, wall, backlog))
                self._report({"type": "RunLogBacklog", "spilled": len(self._spill)})

    def _drain_spill(self) -> None:
        while self._spill:
            try:
                self._q.put_nowait(self._spill[0])
            except queue.Full:
                return
            self._spill.popleft()
        self._backlog = False

    async def drain(self) -> None:
        """Until everything handed over so far has been written (or failed)."""
        while self._spill:
            await asyncio.to_thread(self._q.put, self._spill.popleft())
        await asyncio.to_thread(self._q.join)

    @property
    def backlog(self) -> int:
        return self._q.qsize() + len(self._spill)

    async def stop(self, exit_status: str = "ok", *, compact: bool = True) -> str:
        """Flush everything, close the samples, write the stop into meta.json, log
        ``RunStopped``, close the events, then (on a clean stop) compact the samples
        to Parquet and write ``summary.json``. Disk work runs in threads. Every
        failure is in ``errors`` (never raised); returns the exit status recorded,
        with the count of run-log errors appended if there were any."""
        while self._spill:
            await asyncio.to_thread(self._q.put, self._spill.popleft())
        await asyncio.to_thread(self._q.put, _CLOSE_SEGMENT)
        await asyncio.to_thread(self._q.join)
        mono, wall = self.clock()
        self.meta.stop_wall, self.meta.stop_mono = wall, mono

        def status() -> str:
            n = len(self.errors)
            return f"{exit_status}; run log errors: {n}" if n else exit_status

        self.meta.exit_status = status()
        try:
            await asyncio.to_thread(write_json_atomic, self.dir / "meta.json", self.meta.as_dict())
        except OSError as exc:
            self.meta.exit_status = None
            await asyncio.to_thread(self._error, "meta", exc)
        self.event(model.RunStopped(exit_status=status()))
        await asyncio.to_thread(self._q.put, _STOP)
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
        if compact and self.meta.exit_status is not None:
            try:
                await asyncio.to_thread(finish_run, self.dir)
            except (OSError, ValueError) as exc:  # pyarrow's errors are one or the other
                self._error("compact", exc)
        return status()

    # ------------------------------------------------------------ writer thread
    def _report(self, info: dict[str, Any]) -> None:
        if self.on_error is None or self._loop is None:
            return
        try:
            on_loop = asyncio.get_running_loop() is self._loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            self.on_error(info)
        else:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self.on_error, info)

    def _error(self, where: str, exc: BaseException) -> None:
        """Record a failed write. One entry and one event per streak of failures
        at ``where``; ``_recovered`` ends the streak."""
        streak = self._failing.get(where, 0)
        self._failing[where] = streak + 1
        if streak:
            return
        code = getattr(exc, "errno", None)
        event = model.RunLogError(
            where=where,
            error=f"{type(exc).__name__}: {exc}",
            errno=code if isinstance(code, int) else None,
        )
        info = event.to_data()  # {"type": "RunLogError", "where", "error", "errno"}
        self.errors.append(info)
        self.log.error("run-log write failed at %s: %s", where, info["error"])
        self._report(info)
        if self._events is not None and where != "events":
            mono, wall = self.clock()
            try:
                self._events.append(mono, wall, event)
            except (OSError, ValueError) as exc2:
                self._error("events", exc2)

    def _recovered(self, where: str, **lost: int) -> None:
        failures = self._failing.pop(where, 0)
        if failures:
            self.log.warning(
                "run-log writes at %s work again after %d failures (lost: %s)",
                where,
                failures,
                ", ".join(f"{k} {v}" for k, v in lost.items()) or "nothing",
            )
        if failures and self._events is not None:
            mono, wall = self.clock()
            with contextlib.suppress(OSError, ValueError):
                self._events.append(
                    mono,
                    wall,
                    model.RunLogRecovered(where=where, failures=failures, **lost),
                )

    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is _STOP:
                self._q.task_done()
                break
            try:
                if item is _CLOSE_SEGMENT:
                    self._close_segment()
                elif item[0] == "event":
                    _, mono, wall, event, *extra = item
                    try:
                        assert self._events is not None
                        self._events.append(mono, wall, event, *extra)
                    except Exception as exc:  # OSError, or any other: the thread goes on
                        self.events_lost += 1
                        self._error("events", exc)
                    else:
                        self._recovered("events", events_lost=self.events_lost)
                else:
                    self._write_batch(item[1])
            finally:
                self._q.task_done()
        self._close_segment()
        if self._events is not None:
            with contextlib.suppress(OSError):
                self._events.close()

    def _close_segment(self) -> None:
        seg, self._segment = self._segment, None
        if seg is not None:
            try:
                seg.close()
            except Exception as exc:  # OSError, or any other: the thread goes on
                self._error("close", exc)

    def _write_batch(self, batch: Batch) -> None:
        path: Path | None = None
        try:
            seg = self._segment
            if seg is None or (
                seg.t_first is not None
                and batch.rows
                and batch.t_mono[0] - seg.t_first >= self.segment_s
            ):
                if seg is not None:
                    self._segment = None
                    seg.close()
                t0 = float(batch.t_mono[0]) if batch.rows else 0.0
                path = self.dir / "samples" / segment_name(self._segment_no + 1, t0)
                self._segment = seg = self.opener(path, self.meta.channels, self.fsync)
                self._segment_no += 1
            seg.write(batch)
            self.batches_written += 1
            self.rows_written += batch.rows
        except Exception as exc:  # OSError, or any other (a bug, a library's own error):
            # the batch is lost, never the writer thread (the stop waits for it).
            self.batches_lost += 1
            self._error("samples", exc)
            # What was written before stays readable; a later batch goes to a fresh
            # segment. A segment with no batch in it (not even opened, or its first
            # write failed) leaves no file: no empty segment per failed second.
            failed, self._segment = self._segment, None
            if failed is not None:
                with contextlib.suppress(Exception):
                    failed.close()
                if failed.batches == 0:
                    path = failed.path
                    self._segment_no -= 1
            if path is not None and (failed is None or failed.batches == 0):
                with contextlib.suppress(OSError):
                    path.unlink()
        else:
            self._recovered("samples", batches_lost=self.batches_lost)
