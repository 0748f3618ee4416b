"""The supervisor's async shell: I/O around the pure core (``core.step``).

Once per sampled row (the acquisition's sampler, ``subscribe_latest``) the shell builds
a ``Sample``, hands the core what arrived since the last step (operator commands,
write results, device failures and recoveries, recipes it loaded) and executes the
writes the core returns:

- Writes go to one writer task per device, in the order the core gave them (a zone's
  ramp before its setpoint), each verified by read-back (``Device.write_setpoint``),
  retried once on a mismatch, and failed after the write deadline. Writes to different
  devices run concurrently; the link serialises what shares a bus.
- The work of an acting state is cancelled when the machine enters Stopping or
  Aborting: queued writes are dropped and a write in flight is cancelled within the
  cancel deadline (``WriteCancelled`` tells the core).
- A safe state (Abort, web break) is written to every device at once, each device's
  writes in their own task, every one tried even if another device refuses or times
  out; the core gets every result and then ``SafeStateDone``.
- A recipe is loaded from its file here (the core does no I/O): read once in a thread
  of its own within a deadline (only a regular file of at most 1 MiB), parsed, checked
  against the process rules (errors refuse it, warnings go with it) and planned; a load
  in a state that loads no recipe is refused before the file is touched.

The shell is the only writer to devices. ``status()`` gives what an operator sees: the
state, mode, allowed commands, first-out cause, the step and what it waits for,
where the web is (``web``); ``alarm_states`` and ``bands`` what the API shows beside it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import math
import os
import stat
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar, cast

from drivers.device import Device
from drivers.errors import DriverError, ReadbackMismatch
from linecontrol import alarms as alarm_engine
from linecontrol.acquisition import STALE_PERIODS, Acquisition
from linecontrol.config import AlarmDefinition, LineConfig, Recipe, load_model_bytes
from linecontrol.errors import InputFileError, LinecontrolError, Problem
from linecontrol.model import (
    AlarmChanged,
    AlarmRaised,
    Command,
    CommandRejected,
    DeviceFailed,
    DeviceRecovered,
    Event,
    LoadRecipe,
    Quality,
    RowsSkipped,
    Sample,
    StateChanged,
    SupervisorStopped,
)
from linecontrol.process import UnboundField, check, violation_text
from linecontrol.runtime import Clock, context_logger
from linecontrol.supervisor import core as sup
from linecontrol.supervisor.packml import State
from linecontrol.supervisor.plan import Plan, PlanError, Target, build_plan

T = TypeVar("T")
logger = logging.getLogger("linecontrol.supervisor")


class SupervisorError(LinecontrolError, RuntimeError):
    """The supervisor cannot go on (its core raised: a programming error)."""


class SupervisorRunning(LinecontrolError, RuntimeError):
    """Another supervisor holds this state directory (one supervisor per data root)."""


LOCK_FILE = "supervisor.lock"


class StateLock:
    """An exclusive lock on a supervisor's state directory (``fcntl.flock`` on its
    ``supervisor.lock``), held for the supervisor's life. The kernel releases it when
    its process ends, however it ends (SIGKILL too); the descriptor is not inherited by
    child processes, so a simulator left behind holds nothing."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / LOCK_FILE
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock (again: nothing); ``SupervisorRunning`` if another process
        holds it, ``OSError`` if the directory or file cannot be made."""
        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip()
            os.close(fd)
            who = f" (pid {holder})" if holder.isdigit() else ""
            raise SupervisorRunning(
                f"another supervisor{who} is running on {self.path.parent.parent}: "
                "one supervisor per data root"
            ) from None
        except OSError:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None


RECIPE_MAX_BYTES = 1 << 20  # a recipe is a few kB; anything above 1 MiB is no recipe
RECIPE_READ_DEADLINE_S = 5.0  # real seconds for a recipe file to be read and planned
# The states a recipe loads in (as core's _recipe_ready): refused here before any I/O.
LOADABLE = (State.STOPPED, State.IDLE, State.ABORTED, State.COMPLETE)
ABORTED = "aborted\n"  # the marker of a supervisor that ended in Aborted, never cleared


def read_recipe_bytes(path: Path, limit: int = RECIPE_MAX_BYTES) -> bytes:
    """The bytes of a recipe file: ``InputFileError`` for what is not a regular file
    (a FIFO, a device such as ``/dev/zero``) or is larger than ``limit``, before it is
    read. Opened without blocking (a FIFO swapped in after the check does not block the
    open) and checked again on the descriptor; never more than ``limit`` bytes read."""
    file = str(path)

    def refused(message: str) -> InputFileError:
        return InputFileError([Problem(file, None, message)])

    def check(st: os.stat_result) -> None:
        if not stat.S_ISREG(st.st_mode):
            raise refused("not a regular file")
        if st.st_size > limit:
            raise refused(f"larger than {limit} bytes ({st.st_size} bytes): no recipe")

    try:
        check(os.stat(path))
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise refused(f"cannot read file: {exc.strerror or exc}") from exc
    try:
        check(os.fstat(fd))
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise refused(f"cannot read file: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)
    if size > limit:  # it grew after the check
        raise refused(f"larger than {limit} bytes: no recipe")
    return b"".join(chunks)


def load_recipe_for(command: LoadRecipe, line: LineConfig) -> sup.RecipeReady | sup.RecipeRefused:
    """Read (once), check and plan the recipe file of ``command`` (I/O: the file; blocks,
    so the supervisor runs it in a thread). The plan's hash is of the bytes parsed."""
    path = Path(command.path)
    try:
        raw = read_recipe_bytes(path)
        recipe = load_model_bytes(str(path), raw, Recipe)
    except InputFileError as exc:
        return sup.RecipeRefused(command, f"{path}: {_in_file(exc, str(path))}")
    plan, refusals, warnings = plan_recipe(recipe, line, raw.decode("utf-8"))
    if plan is None:
        return sup.RecipeRefused(command, f"{path}: {'; '.join(refusals[:10])}")
    return sup.RecipeReady(command, plan, tuple(warnings))


def _in_file(exc: InputFileError, file: str) -> str:
    """The problems of one file without its name (the reason names the file once)."""
    parts = []
    for p in exc.problems:
        if p.file != file:
            parts.append(str(p))
            continue
        where = [f"line {p.line}"] if p.line is not None else []
        parts.append(": ".join([*where, *([p.field] if p.field else []), p.message]))
    return "; ".join(parts) or str(exc)


async def _in_thread(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` in a daemon thread of its own: cancelling the wait leaves the thread
    behind (it may be stuck in the kernel), and nothing ever joins it, not even the
    loop's shutdown (which ``asyncio.to_thread``'s default executor would block)."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[T] = loop.create_future()

    def settle(ok: bool, value: Any) -> None:
        if fut.done():  # the wait was cancelled
            return
        if ok:
            fut.set_result(value)
        else:
            fut.set_exception(value)

    def work() -> None:
        try:
            out: tuple[bool, Any] = (True, fn(*args))
        except Exception as exc:
            out = (False, exc)
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
            loop.call_soon_threadsafe(settle, *out)

    threading.Thread(target=work, name=f"{getattr(fn, '__name__', 'work')}", daemon=True).start()
    return await fut


def plan_recipe(
    recipe: Recipe, line: LineConfig, text: str
) -> tuple[Plan | None, list[str], list[str]]:
    """``(plan, problems, warnings)`` of a parsed recipe on ``line``: checked against
    the process rules (an error refuses it) and planned (no ``[run]`` end, a field the
    line cannot set refuse it). The plan is None when ``problems`` is not empty; each
    problem and warning is one line, ``[rule] message`` as ``recipe check`` prints it."""
    report = check(recipe, line)
    warnings = [violation_text(v) for v in report.warnings]
    if report.errors:
        problems = [f"violates the process rules: {violation_text(v)}" for v in report.errors]
        return None, problems, warnings
    try:
        return build_plan(recipe, line, source_text=text), [], warnings
    except (PlanError, UnboundField) as exc:
        return None, [str(exc)], warnings


class Supervisor:
    """The supervisor of one line: steps the core on every sampled row."""

    def __init__(
        self,
        line: LineConfig,
        acquisition: Acquisition,
        clock: Clock,
        *,
        on_event: Callable[[Event], None],
        state_dir: Path | None = None,
    ) -> None:
        self.line = line
        self.acq = acquisition
        self.clock = clock
        self.on_event = on_event
        self.state_dir = state_dir
        self.clean_boot = True  # known after boot: False when the last one did not end
        # Held from boot to a clean end (or the process's end); the caller may take it
        # earlier, before anything starts, and hand it over here.
        self.state_lock: StateLock | None = None
        s = line.supervisor
        self.write_deadline_s = s.write_deadline_s
        self.cancel_deadline_s = s.cancel_deadline_s
        self.core: sup.Core | None = None
        self._inputs: list[sup.Input] = []
        self._writers: dict[str, asyncio.Task[None]] = {}
        self._queues: dict[str, asyncio.Queue[sup.Write]] = {}
        self._safe: set[asyncio.Task[None]] = set()
        self._loads: set[asyncio.Task[None]] = set()  # recipe loads under way
        self.load_deadline_s = RECIPE_READ_DEADLINE_S
        self._changed = asyncio.Condition()
        self._steps = 0
        self.rejected: dict[str, str] = {}  # request id -> reason, of refused commands
        # While ``on_event`` is given a step's events: that step's ``now`` (the sampled
        # row's time), which the run log keeps with each of them (``t_step``).
        self.step_now: float | None = None
        self.log = context_logger(logger, line=line.line.name)

    # -------------------------------------------------------------- inputs
    def submit(self, item: Command | sup.Input) -> None:
        """Give the supervisor a command (or an input); it is taken at the next step.

        A recipe load is refused at once, without touching its file, in a state that
        loads no recipe; otherwise its file is read, checked and planned in a thread
        (the loop never waits for the file) and the result is taken at the first step
        after it is ready, so commands submitted after the load may be taken before it.
        A file not read within ``load_deadline_s`` is refused. Call from the loop."""
        if not isinstance(item, LoadRecipe):
            self._inputs.append(item)
            return
        if self.core is not None and self.state not in LOADABLE:
            why = f"a recipe loads only in Stopped or Idle, not in {self.state.label}"
            self._inputs.append(sup.RecipeRefused(item, why))
            return
        task = asyncio.get_running_loop().create_task(
            self._load(item), name=f"recipe load {item.path}"
        )
        self._loads.add(task)
        task.add_done_callback(self._loads.discard)

    async def _load(self, cmd: LoadRecipe) -> None:
        try:
            async with asyncio.timeout(self.load_deadline_s):
                result = await _in_thread(load_recipe_for, cmd, self.line)
        except TimeoutError:
            late = f"{cmd.path}: not read within {self.load_deadline_s:g} s"
            result = sup.RecipeRefused(cmd, late)
        except Exception as exc:  # a bug in the planning: the load is refused, not lost
            self.log.exception("recipe %s: loading failed", cmd.path)
            result = sup.RecipeRefused(cmd, f"{cmd.path}: loading failed: {exc!r}")
        self._inputs.append(result)

    def device_event(self, event: Event) -> None:
        """Acquisition's device events: failures and recoveries are core inputs."""
        if isinstance(event, DeviceFailed | DeviceRecovered):
            self._inputs.append(event)

    # -------------------------------------------------------------- reading
    @property
    def state(self) -> State:
        assert self.core is not None
        return self.core.machine.state

    def status(self) -> dict[str, Any]:
        c = self.core
        if c is None:
            return {"state": "Undefined"}
        return {
            "state": c.machine.state.label,
            "state_number": int(c.machine.state),
            "mode": c.machine.mode.wire,
            "allowed": sorted(sup.allowed_commands(c)),
            "first_out": c.machine.first_out,
            "recipe": c.plan.recipe if c.plan else None,
            "step": c.step_name,
            "waiting_for": list(c.waiting_for),
            "interlocks": sorted(c.active),
            "steps": self._steps,
            **self.web(),
        }

    def good(self, channel: str | None) -> float | None:
        """The channel's latest value when it is GOOD and finite (None otherwise)."""
        snap = self.acq.snapshot
        i = snap.index.get(channel) if channel is not None else None
        if i is None or snap.quality[i] != Quality.GOOD:
            return None
        value = float(snap.values[i])
        return value if math.isfinite(value) else None

    def web(self) -> dict[str, float | None]:
        """Where the web is: its position (m from the unwind), the line speed (m/min,
        the drive's measured speed), the metres run since this run's Execute began and
        those still to go to the recipe's ``length_m`` end (None for what is not known:
        no drive, no GOOD value, no run, an end by time)."""
        c = self.core
        drive = c.devices.drive if c is not None else None
        pos = self.good(f"{drive}.web_position_m" if drive else None)
        done = to_go = None
        if c is not None and pos is not None and c.run_start_m is not None:
            done = pos - c.run_start_m
            if c.plan is not None and c.plan.end_length_m is not None:
                to_go = max(0.0, c.plan.end_length_m - done)
        speed = self.good(f"{drive}.speed_pv_m_min" if drive else None)
        return {"web_position_m": pos, "line_speed": speed, "metres_done": done,
                "metres_to_go": to_go}  # fmt: skip

    def alarm_states(self) -> tuple[Mapping[str, AlarmDefinition], alarm_engine.Alarms]:
        """The line's alarm definitions and their states now (empty before boot)."""
        if self.core is None:
            return {}, {}
        return self.core.alarm_defs, self.core.alarms

    def bands(self) -> list[tuple[Target, float]]:
        """The loaded recipe's targets, each with its setpoint now (an operator's change
        included); empty with no recipe."""
        c = self.core
        if c is None or c.plan is None:
            return []
        return [(t, c.overrides.get(t.field, t.value)) for t in c.plan.targets]

    async def wait_for(self, predicate: Callable[[Supervisor], bool]) -> None:
        """Until ``predicate(self)`` holds after a step (the caller bounds the wait)."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.core is not None and predicate(self))

    # -------------------------------------------------------------- the loop
    # -------------------------------------------------------------- state kept on disk
    def _marker(self) -> Path | None:
        return self.state_dir / "supervisor.running" if self.state_dir is not None else None

    def _alarm_file(self) -> Path | None:
        return self.state_dir / "alarms.json" if self.state_dir is not None else None

    def boot_state(self, now: float) -> alarm_engine.Alarms | None:
        """Whether the last supervisor ended cleanly (its marker file is gone) and the
        alarm states it kept; a damaged alarm file is set aside and logged, never used.
        Takes the state directory's lock first: ``SupervisorRunning`` if another
        supervisor has it (its marker is no unclean end, its alarms are its own)."""
        marker, path = self._marker(), self._alarm_file()
        if marker is None or path is None:
            return None
        if self.state_lock is None:
            self.state_lock = StateLock(marker.parent)
        try:
            self.state_lock.acquire()
            marker.parent.mkdir(parents=True, exist_ok=True)
            self.clean_boot = not marker.exists()
            left_aborted = not self.clean_boot and marker.read_text(encoding="utf-8") == ABORTED
            marker.write_text(f"{os.getpid()}\n", encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else None
            self.log.error("state directory %s: %s", marker.parent, why or exc)
            return None
        if left_aborted:
            self.log.warning("the last supervisor ended in Aborted (not cleared): Aborted")
        elif not self.clean_boot:
            self.log.warning("the last supervisor did not end cleanly: booting into Aborted")
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            self.log.error("alarm states %s: %s; starting from normal", path, exc.strerror or exc)
            return None
        try:
            loaded = alarm_engine.from_json(text, self.line.alarms, now, self.clock.wall())
        except alarm_engine.AlarmStateError as exc:
            aside = path.with_name(f"alarms.damaged.{int(self.clock.wall())}.json")
            with contextlib.suppress(OSError):
                path.rename(aside)
            self.log.error(
                "alarm states %s unreadable (%s): set aside as %s; starting from normal",
                path, exc, aside.name,
            )  # fmt: skip
            return None
        if loaded.dropped:
            self.log.info(
                "alarm states of %s dropped: no longer defined", ", ".join(loaded.dropped)
            )
        return loaded.alarms

    def save_alarms(self) -> None:
        """Acknowledgements, shelves and latches survive a restart: written atomically."""
        path = self._alarm_file()
        if path is None or self.core is None:
            return
        now, wall = self.clock.monotonic(), self.clock.wall()
        tmp = path.with_suffix(".tmp")
        try:
            text = alarm_engine.to_json(self.core.alarms, now, wall)
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            self.log.error("alarm states not saved to %s: %s", path, exc.strerror or exc)
            with contextlib.suppress(OSError):
                tmp.unlink()

    def ended_cleanly(self) -> None:
        """A clean end: the marker goes, unless the machine is in Aborted (an Abort
        stands until a Clear, across a restart too: the marker then says so)."""
        marker = self._marker()
        if marker is not None:
            with contextlib.suppress(OSError):
                if self.core is not None and self.core.machine.state is State.ABORTED:
                    marker.write_text(ABORTED, encoding="utf-8")
                else:
                    marker.unlink()
        self.release_lock()

    def release_lock(self) -> None:
        """Let another supervisor have the state directory (the process's end does too)."""
        if self.state_lock is not None:
            self.state_lock.release()

    async def run(self) -> None:
        """Step on every sampled row until cancelled; then stop the writers."""
        slot = self.acq.subscribe_latest()
        now = self.clock.monotonic()
        kept = self.boot_state(now)
        # A channel not polled yet is no communication loss until every device has had
        # the time to answer (its stale time, in its own stretched poll periods).
        periods = [p.period_s for p in self.acq.pollers.values()] or [1.0]
        grace = STALE_PERIODS * max(periods) + 2.0 * self.acq.rate_factor / self.acq.sample_hz
        self.core, events = sup.boot(
            self.line,
            now,
            clean=self.clean_boot,
            rate_factor=self.acq.rate_factor,
            alarms=kept,
            alarms_from=now + grace,
            row_s=self.acq.rate_factor / self.acq.sample_hz,
            stale_periods=STALE_PERIODS,
        )
        if kept:  # where a re-evaluation of this run starts (linecontrol whatif)
            events = (*events, alarm_engine.kept_event(kept))
        self.step_now = now
        self._log(events)
        self.step_now = None
        crashed = False
        dropped = slot.dropped
        try:
            while True:
                row = await slot.get()
                sample = Sample(
                    row.t_mono, self.acq.snapshot.index, row.values, row.quality,
                    row.web_position_m, row.t_good,
                )  # fmt: skip
                inputs, self._inputs = self._inputs, []
                now = max(row.t_mono, self.core.last_now or -math.inf)
                try:
                    self.core, actions, events = sup.step(self.core, now, sample, inputs)
                except Exception as exc:  # the core is pure: this is a bug; stop safely
                    crashed = True
                    self.log.critical("supervisor core failed: %r; writing the safe state", exc)
                    await self.emergency_safe_state()
                    raise SupervisorError(f"supervisor core failed: {exc!r}") from exc
                self._steps += 1
                if slot.dropped != dropped:  # rows this step never saw: said, for a re-run
                    events = (RowsSkipped(count=slot.dropped - dropped), *events)
                    dropped = slot.dropped
                self.step_now = now  # the time of the step these events come from
                self._log(events)
                self.step_now = None
                if any(isinstance(e, AlarmRaised | AlarmChanged) for e in events):
                    self.save_alarms()
                if any(
                    isinstance(e, StateChanged) and e.new in ("Stopping", "Aborting")
                    for e in events
                ):
                    await self._cancel_work()
                self._execute(actions)
                async with self._changed:
                    self._changed.notify_all()
        finally:
            self.acq.unsubscribe(slot)
            last = self.core.last_now if self.core is not None else None
            self._log((SupervisorStopped(steps=self._steps, last_step=last),))
            loads = list(self._loads)
            for t in loads:
                t.cancel()
            await asyncio.gather(*loads, return_exceptions=True)
            await self._stop_writers()
            self.save_alarms()
            if not crashed:  # a crash is an unclean stop: the next start boots into Aborted
                self.ended_cleanly()
            self.release_lock()  # a crash too: its marker stays, the directory is free

    def _log(self, events: Iterable[Event]) -> None:
        for e in events:
            if isinstance(e, StateChanged):
                self.log.info("%s -> %s (%s)", e.old, e.new, e.cause)
            elif isinstance(e, CommandRejected):
                self.log.warning("%s refused: %s", e.command.name, e.reason)
                if e.command.request_id:
                    self.rejected[e.command.request_id] = e.reason
            self.on_event(e)

    # -------------------------------------------------------------- writes
    def _device(self, name: str) -> Device:
        return cast(Device, self.acq.pollers[name].driver)

    def _execute(self, actions: Iterable[sup.Action]) -> None:
        for a in actions:
            if isinstance(a, sup.ApplySafeState):
                t = asyncio.create_task(self._safe_state(a), name=f"safe state ({a.why})")
                self._safe.add(t)
                t.add_done_callback(self._safe.discard)
            else:
                dev = a.device
                if dev not in self.acq.pollers:
                    self._inputs.append(sup.WriteFailed(a.channel, a.value, "no such device"))
                    continue
                q = self._queues.setdefault(dev, asyncio.Queue())
                q.put_nowait(a)
                w = self._writers.get(dev)
                if w is None or w.done():
                    self._writers[dev] = asyncio.create_task(
                        self._writer(dev, q), name=f"writer {dev}"
                    )

    async def _write(self, w: sup.Write) -> sup.Input:
        """One verified write within the deadline, retried once on a read-back mismatch."""
        dev = self._device(w.device)
        ch = w.channel.split(".", 1)[1]
        log = context_logger(logger, device=w.device)
        result: sup.Input | None = None
        for attempt in (1, 2):
            try:
                async with asyncio.timeout(self.write_deadline_s):
                    if w.pulse:
                        await dev.command(ch, int(w.value))
                        return sup.WriteDone(w.channel, w.value, w.value)
                    back = await dev.write_setpoint(ch, w.value)
                return sup.WriteDone(w.channel, w.value, back)
            except ReadbackMismatch as exc:
                log.warning("%s: %s (attempt %d)", ch, exc, attempt)
                result = sup.WriteFailed(w.channel, w.value, str(exc), exc.read)
            except TimeoutError:
                log.warning("%s = %g: no answer within %g s", ch, w.value, self.write_deadline_s)
                late = f"no answer within {self.write_deadline_s:g} s"
                return sup.WriteFailed(w.channel, w.value, late)
            except DriverError as exc:
                log.warning("%s = %g: %s", ch, w.value, exc)
                return sup.WriteFailed(w.channel, w.value, f"{type(exc).__name__}: {exc}")
        assert result is not None  # two mismatches
        return result

    async def _writer(self, name: str, q: asyncio.Queue[sup.Write]) -> None:
        while not q.empty():
            w = q.get_nowait()
            try:
                result = await self._write(w)
            except asyncio.CancelledError:
                self._inputs.append(sup.WriteCancelled(w.channel, w.value))
                raise
            self._inputs.append(result)

    async def _cancel_work(self) -> None:
        """Stop or Abort: drop the queued writes and cancel those in flight (bounded)."""
        for dev, q in self._queues.items():
            while not q.empty():
                w = q.get_nowait()
                self._inputs.append(sup.WriteCancelled(w.channel, w.value))
            del dev
        tasks = [t for t in self._writers.values() if not t.done()]
        for t in tasks:
            t.cancel()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=self.cancel_deadline_s)
            for t in pending:
                self.log.error("%s did not stop within %g s", t.get_name(), self.cancel_deadline_s)
        self._writers.clear()

    async def emergency_safe_state(self) -> None:
        """The safe state of every device, written without the core (which failed): each
        device tried, within the write deadline each; what did not answer is logged."""
        assert self.core is not None
        await self._cancel_work()
        writes = tuple(sup.safe_writes(self.core.devices, self.core.standby_temp_c))
        self._inputs.clear()
        await self._safe_state(sup.ApplySafeState(writes, "supervisor core failed"))
        self._inputs.clear()

    async def _safe_state(self, a: sup.ApplySafeState) -> None:
        by_device: dict[str, list[sup.Write]] = {}
        for w in a.writes:
            by_device.setdefault(w.device, []).append(w)

        async def one(dev: str, writes: list[sup.Write]) -> bool:
            ok = True
            for w in writes:
                if dev not in self.acq.pollers:
                    result: sup.Input = sup.WriteFailed(w.channel, w.value, "no such device")
                else:
                    result = await self._write(w)
                ok = ok and isinstance(result, sup.WriteDone)
                self._inputs.append(result)
            return ok

        names = sorted(by_device)
        results = await asyncio.gather(*(one(d, by_device[d]) for d in names))
        answered = tuple(d for d, ok in zip(names, results, strict=True) if ok)
        failed = tuple(d for d, ok in zip(names, results, strict=True) if not ok)
        if failed:
            self.log.error("safe state (%s): no answer from %s", a.why, ", ".join(failed))
        self._inputs.append(sup.SafeStateDone(a.why, answered, failed))

    async def _stop_writers(self) -> None:
        tasks = [t for t in (*self._writers.values(), *self._safe) if not t.done()]
        for t in tasks:
            t.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait(tasks, timeout=self.cancel_deadline_s) if tasks else None
        self._writers.clear()
