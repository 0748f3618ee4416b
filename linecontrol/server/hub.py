"""What the API serves of one supervised line (no HTTP here: ``http`` speaks it): the
full state, the point of control, commands and their verdicts, and the stream's fan-out
to every client's bounded queue.

The hub never waits on a client. Events reach it from the session (after the run log
and the supervisor have them) and are put on every stream's queue at once; values and
status are coalesced and sent at most ``STREAM_HZ`` times a second, only what changed
since the last message to that client; a heartbeat goes every second. A queue that is
full is dropped and replaced by a ``resync`` message and a fresh full state.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import json
import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from drivers.devices import MODELS
from linecontrol import api as p
from linecontrol.config import ApiSettings, LineConfig
from linecontrol.model import (
    AlarmChanged,
    AlarmRaised,
    Command,
    CommandGiven,
    CommandRejected,
    ControlChanged,
    Event,
    Quality,
    ReleaseControl,
    TakeControl,
)
from linecontrol.recording import LineSession

logger = logging.getLogger("linecontrol.server")
QUALITY = {int(q): q.name for q in Quality}
VERDICTS_KEPT = 10_000  # requests (caller, request id) remembered for idempotent answers


@dataclass(frozen=True)
class Caller:
    user: str
    role: p.Role
    client: str

    @property
    def who(self) -> str:
        return f"{self.user}@{self.client}"

    def you(self) -> dict[str, str]:
        return {"user": self.user, "role": self.role, "client": self.client}


@dataclass
class Verdict:
    command: str
    status: int
    body: dict[str, Any]
    request: str = ""  # the digest of the body it answers (``_digest``)


class Stream:
    """One stream client's bounded queue (``send``: never blocks) and what it was last
    sent (its values and status, to send only what changed)."""

    def __init__(self, hub: Hub, caller: Caller, maxsize: int) -> None:
        self.hub = hub
        self.caller = caller
        self.maxsize = maxsize
        self.queue: collections.deque[dict[str, Any]] = collections.deque()
        self.ready = asyncio.Event()
        self.values: np.ndarray = np.empty(0)
        self.quality: np.ndarray = np.empty(0, np.uint8)
        self.status: dict[str, Any] = {}
        self.resyncs = 0
        self.resync_reason = ""  # set: the queue was dropped, a resync is due
        self.seq = 0

    def send(self, message: dict[str, Any]) -> None:
        """Queue ``message`` (never blocks). A full queue is dropped: the client gets a
        ``resync`` and a fresh full state, built when its writer is free (never inside
        the supervisor's step, whose events come here); what comes until then is in
        that state, so it is not queued."""
        if self.resync_reason:
            return
        if len(self.queue) >= self.maxsize:
            self.resyncs += 1
            self.queue.clear()
            self.resync_reason = f"the client fell {self.maxsize} messages behind"
            logger.warning("stream %s: %s: resync", self.caller.who, self.resync_reason)
            self.ready.set()
            return
        self.queue.append(message)
        self.ready.set()

    async def next(self) -> dict[str, Any]:
        """The next message, with its ``seq`` (+1 per message on this connection)."""
        while not self.queue and not self.resync_reason:
            self.ready.clear()
            await self.ready.wait()
        if self.resync_reason:
            reason, self.resync_reason = self.resync_reason, ""
            self.queue.clear()
            self.queue.append(p.full_message(self.hub.full_state(self.caller, self)))
            message = p.resync_message(reason)
        else:
            message = self.queue.popleft()
        self.seq += 1
        return p.with_seq(message, self.seq)


@dataclass
class Hub:
    session: LineSession
    settings: ApiSettings
    recipes_dir: Any = None  # a Path: the recipes GET /v1/recipes lists
    holder: Caller | None = None
    streams: set[Stream] = field(default_factory=set)
    # Keyed by (caller, request id): a request id is the caller's own, never another's.
    verdicts: collections.OrderedDict[tuple[str, str], Verdict] = field(
        default_factory=collections.OrderedDict
    )
    # (caller, request id) -> the verdict to come, the digest of the body it answers
    # and its command
    pending: dict[tuple[str, str], tuple[asyncio.Future[Verdict], str, str]] = field(
        default_factory=dict
    )
    accepted: int = 0  # commands accepted through the API this session
    events: int = 0  # events seen: the ``seq`` of their stream envelope
    alarm_seen: dict[str, tuple[float, float | None]] = field(default_factory=dict)
    closing: bool = False  # the server is stopping: commands are refused
    # The run directory's bytes on disk, summed in a thread once a second (``run``):
    # walking a long run's segments on the loop took it from the supervisor.
    run_bytes: int = 0

    def __post_init__(self) -> None:
        self.session.listeners.append(self.on_event)
        self.names = [c.name for c in self.session.acq.channels]

    # ---------------------------------------------------------------- events
    def emit(self, event: Event) -> None:
        """An event of the API itself: into the run log, then to every stream."""
        self.session.log.event(event)
        self.on_event(event)

    def on_event(self, event: Event) -> None:
        clock = self.session.clock
        if isinstance(event, CommandGiven | CommandRejected):
            c = event.command
            fut = self.pending.pop((c.by, c.request_id), (None, "", ""))[0]
            if fut is not None and not fut.done():
                if isinstance(event, CommandGiven):
                    fut.set_result(Verdict(c.name, 200, p.accepted_body(c.request_id)))
                else:
                    body = p.rejected_body(c.request_id, event.reason)
                    fut.set_result(Verdict(c.name, 409, body))
        elif isinstance(event, AlarmRaised | AlarmChanged):
            self.alarm_seen[event.alarm] = (clock.wall(), event.value)
        self.events += 1
        env = p.event_envelope(event, self.events, clock.monotonic(), clock.wall())
        message = p.event_message(env)
        for s in list(self.streams):
            s.send(message)

    # ---------------------------------------------------------------- commands
    async def command(self, caller: Caller, data: dict[str, Any]) -> Verdict:
        """A command request from ``caller``: parsed, checked (role, control), given to
        the supervisor and answered with its verdict (within ``VERDICT_DEADLINE_S``).
        The same request (the caller's request id and the same body) again is answered
        with the first verdict, acting once; the same id from another caller is another
        request, and the caller's id with another body is a ``BadRequest``."""
        rid = p.request_id_of(data)
        if self.closing:
            raise p.ShuttingDown("the server is stopping the line and closing")
        mine, digest = (caller.who, rid), _digest(data)
        seen = self.verdicts.get(mine)
        waiting = self.pending.get(mine) if seen is None else None
        first = (seen.request, seen.command) if seen is not None else None
        if waiting is not None:
            first = waiting[1], waiting[2]
        if first is not None and first[0] != digest:
            before = first[1]
            other = "" if before != data.get("command") else " with other fields"
            raise p.BadRequest(
                f"request_id {rid!r} was already used for {before}{other}: use a new id"
            )
        if seen is not None:
            return seen
        if waiting is None:
            cmd = p.parse_command(data, caller.who, self.session.clock.wall())
            refusal = self._refusal(caller, cmd)
            if refusal is not None:
                self.emit(CommandRejected(command=cmd, reason=refusal.message))
                verdict = Verdict(cmd.name, refusal.status, refusal.body(rid), digest)
                self._remember(mine, verdict)
                return verdict
            if isinstance(cmd, TakeControl | ReleaseControl):
                verdict = self._control(caller, cmd)
                verdict.request = digest
                self._remember(mine, verdict)
                return verdict
            fut: asyncio.Future[Verdict] = asyncio.get_running_loop().create_future()
            self.pending[mine] = (fut, digest, cmd.name)
            fut.add_done_callback(lambda f: self._remember(mine, f.result(), digest))
            previous = self._setpoint_now(cmd)
            self.session.supervisor.submit(cmd)
        else:
            fut, previous = waiting[0], None
        try:
            async with asyncio.timeout(p.VERDICT_DEADLINE_S):
                verdict = await asyncio.shield(fut)
        except TimeoutError:
            why = (
                f"no verdict within {p.VERDICT_DEADLINE_S:g} s: the command may still act; "
                "the stream tells"
            )
            return Verdict(str(data.get("command")), 504, p.rejected_body(rid, why, "timeout"))
        if previous is not None and verdict.status == 200:
            verdict.body.setdefault("previous", previous)
        return verdict

    def _remember(self, key: tuple[str, str], verdict: Verdict, request: str | None = None) -> None:
        if request is not None:
            verdict.request = request
        if key not in self.verdicts and verdict.status == 200:
            self.accepted += 1
        self.verdicts[key] = verdict
        while len(self.verdicts) > VERDICTS_KEPT:
            self.verdicts.popitem(last=False)

    def _refusal(self, caller: Caller, cmd: Command) -> p.ApiError | None:
        why = p.role_refusal(caller.role, cmd)
        if why:
            return p.Forbidden(why)
        if isinstance(cmd, TakeControl):
            if self.holder is None or self.holder == caller:
                return None
            if cmd.force:
                return None  # an operator or an engineer (the role check above)
            return p.NoControl(
                f"{self.holder.who} holds control: take_control with force to take it over"
            )
        if self.holder is None:
            return p.NoControl("nobody holds control: take_control first")
        if self.holder != caller:
            return p.NoControl(f"{self.holder.who} holds control")
        return None

    def _control(self, caller: Caller, cmd: TakeControl | ReleaseControl) -> Verdict:
        old = self.holder.who if self.holder is not None else ""
        self.holder = caller if isinstance(cmd, TakeControl) else None
        self.emit(CommandGiven(command=cmd))
        new = self.holder.who if self.holder is not None else ""
        if new != old:
            self.emit(ControlChanged(old=old, new=new, by=caller.who))
            logger.info("control: %s -> %s (by %s)", old or "nobody", new or "nobody", caller.who)
        self._status_now()
        return Verdict(cmd.name, 200, p.accepted_body(cmd.request_id))

    def _setpoint_now(self, cmd: Command) -> float | None:
        if cmd.name != "change_setpoint":
            return None
        for t, value in self.session.supervisor.bands():
            if t.field == getattr(cmd, "field", None):
                return float(value)
        return None

    # ---------------------------------------------------------------- state
    def control(self) -> dict[str, Any]:
        return {"holder": self.holder.who if self.holder is not None else None}

    def supervisor_status(self) -> dict[str, Any]:
        return p.jsonable(self.session.supervisor.status())  # type: ignore[no-any-return]

    def values_now(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Values, quality codes and wall times of the latest answer of every channel."""
        snap = self.session.acq.snapshot
        clock = self.session.clock
        lag = clock.monotonic() - snap.t_good
        return snap.values.copy(), snap.quality.copy(), clock.wall() - lag

    def values_of(self, idx: Any, v: np.ndarray, q: np.ndarray, t: np.ndarray) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for i in idx:
            value, when = float(v[i]), float(t[i])
            out[self.names[i]] = [
                value if math.isfinite(value) else None,
                QUALITY.get(int(q[i]), "INVALID"),
                when if math.isfinite(when) else None,
            ]
        return out

    def full_state(self, caller: Caller, stream: Stream | None = None) -> dict[str, Any]:
        s = self.session
        v, q, t = self.values_now()
        status = self.supervisor_status()
        if stream is not None:  # what follows is sent against this state
            stream.values, stream.quality, stream.status = v, q, status
        run = s.log
        return {
            "api": p.API_VERSION,
            "server_time": s.clock.wall(),
            "mode": "live",
            "source": {"kind": "live"},  # a replay's says its run and position
            "you": caller.you(),
            "control": self.control(),
            "line": line_of(s.line, s.acq.channels),
            "supervisor": status,
            "bands": self.bands(),
            "values": self.values_of(range(len(self.names)), v, q, t),
            "alarms": self.alarms(),
            "run": {
                "id": run.meta.run_id,
                "started": run.meta.start_wall,
                "dir": str(run.dir),
                "bytes": self.run_bytes,
                "events": self.events,
                "operator_actions": self.operator_actions,
            },
            "seq": 0,
        }

    @property
    def operator_actions(self) -> int:
        return self.accepted

    def bands(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for t, value in self.session.supervisor.bands():
            low, high = t.band if t.band is not None else (None, None)
            out[t.reads] = p.jsonable({
                "field": t.field, "setpoint": value, "low": low, "high": high,
                "sets": t.sets, "limits": list(t.limits),
            })  # fmt: skip
        return out

    def alarms(self) -> list[dict[str, Any]]:
        defs, states = self.session.supervisor.alarm_states()
        mono, wall = self.session.clock.monotonic(), self.session.clock.wall()
        out = []
        for name, st in states.items():
            d = defs.get(name)
            if d is None:
                continue
            since, value = self.alarm_seen.get(name, (None, None))
            until = st.shelved_until
            out.append(p.jsonable({
                "name": name, "state": st.label, "priority": d.priority,
                "class": st.alarm_class, "channel": d.channel, "value": value,
                "since": since, "guidance": d.guidance,
                "shelved_until": wall + (until - mono) if until is not None else None,
                "latched": st.latched, "active": st.active, "acked": st.acked,
                "consequence": d.consequence, "max_shelve_s": d.max_shelve_s,
            }))  # fmt: skip
        return out

    # ---------------------------------------------------------------- the stream
    def open_stream(self, caller: Caller) -> Stream:
        stream = Stream(self, caller, self.settings.stream_queue)
        stream.send(p.full_message(self.full_state(caller, stream)))
        self.streams.add(stream)
        return stream

    def close_stream(self, stream: Stream) -> None:
        self.streams.discard(stream)

    def _status_now(self) -> None:
        """Status to every stream now (control changed: not worth waiting a tick)."""
        status, control = self.supervisor_status(), self.control()
        for s in list(self.streams):
            s.status = status
            s.send(p.status_message(status, control))

    def tick(self, heartbeat: bool) -> None:
        """Values and status changed since each stream's last message; a heartbeat."""
        if not self.streams:
            return
        v, q, t = self.values_now()
        status, control = self.supervisor_status(), self.control()
        now = self.session.clock.wall()
        for s in list(self.streams):
            if len(s.values) == len(v):
                same = (s.values == v) | (np.isnan(s.values) & np.isnan(v))
                changed = np.flatnonzero(~same | (s.quality != q))
            else:
                changed = np.arange(len(v))
            if len(changed):
                s.values, s.quality = v, q
                s.send(p.values_message(now, self.values_of(changed, v, q, t)))
            if status != s.status:
                s.status = status
                s.send(p.status_message(status, control))
            if heartbeat:
                s.send(p.heartbeat_message(now))

    async def run(self) -> None:
        """The stream's clock: ``STREAM_HZ`` ticks a second, a heartbeat every second."""
        n = 0
        period = 1.0 / p.STREAM_HZ
        per_beat = max(1, round(p.HEARTBEAT_S / period))
        loop = asyncio.get_running_loop()
        due = loop.time()
        sizing: asyncio.Task[None] | None = None
        try:
            while True:
                due += period
                await asyncio.sleep(max(0.0, due - loop.time()))
                n += 1
                beat = n % per_beat == 0
                if (beat or n == 1) and (sizing is None or sizing.done()):
                    sizing = asyncio.create_task(self.measure_run(), name="run size")
                try:
                    self.tick(heartbeat=beat)
                except Exception:  # never let the stream's clock die for one bad message
                    logger.exception("stream tick failed")
        finally:
            if sizing is not None:
                sizing.cancel()
                await asyncio.gather(sizing, return_exceptions=True)

    async def measure_run(self) -> None:
        """``run_bytes`` from the disk, summed in a thread (never on the loop)."""
        self.run_bytes = await asyncio.to_thread(_size, self.session.log.dir)


def _digest(data: dict[str, Any]) -> str:
    """What tells one request body from another (kept for each remembered verdict
    instead of the body, which may be 64 KiB)."""
    try:
        text = json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except RecursionError:  # parsed just below the limit, a frame or two deeper here
        raise p.BadRequest("the body is JSON nested too deep: no command is") from None
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _size(path: Any) -> int:
    try:
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    except OSError:
        return 0


def line_of(line: LineConfig, channels: list[Any]) -> dict[str, Any]:
    """The line as the API shows it: stations in web order with their devices, and
    every channel's unit, whether it is writable and its station."""
    devices = line.devices
    stations = []
    for st in line.stations:
        names = [n for n, d in devices.items() if d.station == st.name]
        stations.append({
            "name": st.name, "kind": st.kind, "distance_m": st.distance_m, "devices": names,
        })  # fmt: skip
    chans: dict[str, Any] = {}
    for c in channels:
        d = devices.get(c.device)
        model = MODELS.get(d.model) if d is not None else None
        short = c.name.split(".", 1)[-1]
        spec = next((s for s in model.channels if s.name == short), None) if model else None
        chans[c.name] = {
            "unit": c.unit,
            "writable": bool(spec is not None and spec.writable),
            "station": d.station if d is not None else None,
            "device": c.device,
        }
    return {"name": line.line.name, "stations": stations, "channels": chans}
