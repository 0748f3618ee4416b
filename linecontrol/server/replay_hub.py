"""A logged run served through the local API (docs/api.md, "Replay"): the live hub's
stream (``linecontrol.server.hub.Hub``: its per-client queues, coalesced values at
``STREAM_HZ``, heartbeats, resyncs, full states) fed by the replay ``Player`` on a real
monotonic clock instead of a supervised line.

``ReplayHub.play`` moves the player on: the rows due update the latest value of every
channel (sent, coalesced, by the hub's own tick), and each event due goes to every
stream at once as the run log has it (its ``seq``, ``t_mono``, ``t_wall``, ``data``),
and updates the rebuilt line state (``ReplayState``). The full state is the live one at
the replay position, with ``mode: "replay"`` and ``source`` (the run, the position, the
speed, paused, and the trend window before the position); control is nobody's.

Commands: the replay controls (``REPLAY_COMMANDS``: pause, resume, speed, seek, step),
from any role; after each, every stream gets a fresh full state. Every command the
live API takes acts on a line and is refused (409, code ``replay``) with its reason.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from linecontrol import api as p
from linecontrol.config import AlarmDefinition, ApiSettings, LineConfig
from linecontrol.model import PACKML_COMMANDS, Channel, LoggedEvent, Quality
from linecontrol.recording import LineSession
from linecontrol.replay import InvalidSpeed, Player, RowsDue, SeekOutOfRange
from linecontrol.runlog import RunMeta
from linecontrol.server.hub import Caller, Hub, Stream, Verdict, _digest
from linecontrol.server.replay_state import ReplayState

logger = logging.getLogger("linecontrol.replay")

PLAY_S = 0.02  # real seconds between the player's steps while playing
TREND_S = 300.0  # recorded seconds of trend before the position, in every full state
TREND_POINTS = 100  # at most this many points of it per channel

REPLAY_COMMANDS: Mapping[str, tuple[str, ...]] = {
    "replay_pause": (),
    "replay_resume": (),
    "replay_speed": ("speed",),
    "replay_seek": ("t_s", "metre"),  # exactly one of them
    "replay_step": (),
}
"""The replay's own commands and their fields (besides ``command`` and ``request_id``)."""

_PACKML = frozenset(c.name for c in PACKML_COMMANDS)
_ALARM = frozenset({
    "acknowledge_alarm", "reset_alarm", "shelve_alarm", "unshelve_alarm",
    "remove_alarm_from_service", "return_alarm_to_service",
})  # fmt: skip


class ReplayRefused(p.ApiError):
    """A command that acts on a line, sent to a replay (409)."""

    status = 409
    code = "replay"


def line_refusal(name: str, run_id: str) -> str:
    """Why ``name`` (a live API command) is refused in the replay of ``run_id``."""
    if name in _PACKML:
        what = f"{name} would command the PackML state of a line"
    elif name == "change_setpoint":
        what = "change_setpoint would write a setpoint to a line"
    elif name == "load_recipe":
        what = "load_recipe would load a recipe into a line"
    elif name in _ALARM:
        what = f"{name} would act on a line's alarm"
    elif name in ("take_control", "release_control"):
        what = f"{name}: a replay has no line to control"
    elif name == "set_mode":
        what = "set_mode would change a line's unit mode"
    elif name == "jog_web":
        what = "jog_web would move a line's web"
    else:
        what = f"{name} acts on a line"
    return f"{what}; this is a replay of run {run_id} (commands act on a live serve only)"


class _Clock:
    """The hub's clock in a replay: the recorded times of the replay position."""

    def __init__(self, hub: ReplayHub) -> None:
        self.hub = hub

    def monotonic(self) -> float:
        return self.hub.position_t()

    def wall(self) -> float:
        return max(self.hub.position_t() + self.hub.wall_offset, self.hub.wall_floor)


@dataclass
class _Acq:
    channels: list[Channel]


@dataclass
class _Log:
    meta: RunMeta
    dir: Path


@dataclass
class _Session:
    """What of a ``LineSession`` the hub reads, for a logged run."""

    line: LineConfig
    acq: _Acq
    log: _Log
    clock: Any = None
    listeners: list[Any] = field(default_factory=list)


class ReplayHub(Hub):
    """The hub of a replay: ``play`` (a task) moves ``player`` on ``now``'s clock."""

    def __init__(
        self,
        player: Player,
        meta: RunMeta,
        run_dir: Path,
        line: LineConfig,
        settings: ApiSettings,
        recipes_dir: Path | None = None,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        session = _Session(line, _Acq(list(meta.channels)), _Log(meta, run_dir))
        super().__init__(cast(LineSession, session), settings, recipes_dir)
        session.clock = _Clock(self)
        self.player = player
        self.meta = meta
        self.now = now
        # wall - mono of the latest item played: the replay's wall clock never runs
        # behind the rows and events it has sent
        self.wall_offset = meta.start_wall - meta.start_mono
        self.wall_floor = -math.inf  # the latest wall time of an item played
        self.defs: dict[str, AlarmDefinition] = dict(line.alarms)
        self.state = ReplayState(self.defs)
        n = len(self.names)
        self.v = np.full(n, np.nan)
        self.q = np.full(n, int(Quality.WAITING), np.uint8)
        self.t = np.full(n, np.nan)
        self.web: float | None = None
        idx = {c: i for i, c in enumerate(self.names)}
        speed = next((c for c in self.names if c.endswith(".speed_pv_m_min")), None)
        self._speed_i = idx.get(speed) if speed is not None else None
        self.wake = asyncio.Event()
        self.delivered_rows = 0  # rows the player gave (a bench's count)
        self.t_end = self._t_end()

    def _t_end(self) -> float:
        ends = [self.player.source.t_last] if self.player.source.rows else []
        ends += [e.t_mono for e in self.player.events[-1:]]
        return max(ends) if ends else self.meta.start_mono

    # ---------------------------------------------------------------- the player
    def position_t(self) -> float:
        """The recorded ``t_mono`` of the replay position (never past the run's end)."""
        return min(self.player.replay_time(self.now()), max(self.t_end, self.meta.start_mono))

    def advance(self) -> None:
        """Everything due now: rows into the latest values, events to every stream."""
        now = self.now()
        self._apply(self.player.due(now))
        if self.player.finished and not self.player.paused:
            self.player.pause(now)
            self.full_to_all()

    def _apply(self, items: list[Any]) -> None:
        for item in items:
            if isinstance(item, RowsDue):
                self._rows(item)
            else:
                self._event(item)

    def _rows(self, due: RowsDue) -> None:
        r = due.rows
        if not len(r.t_mono):
            return
        self.delivered_rows += len(r.t_mono)
        self.v = np.asarray(r.values[-1], np.float64).copy()
        self.q = np.asarray(r.quality[-1], np.uint8).copy()
        self.t = np.full(len(self.v), float(r.t_wall[-1]))
        self._seen(float(r.t_mono[-1]), float(r.t_wall[-1]))
        web = float(r.web_position_m[-1])
        self.web = web if math.isfinite(web) else None

    def _event(self, logged: LoggedEvent) -> None:
        self.state.apply(logged)
        self.events = logged.seq
        self._seen(logged.t_mono, logged.t_wall)
        env = p.event_envelope(logged.event, logged.seq, logged.t_mono, logged.t_wall)
        message = p.event_message(env)
        for s in list(self.streams):
            s.send(message)

    def _seen(self, t_mono: float, t_wall: float) -> None:
        if math.isfinite(t_mono) and math.isfinite(t_wall):
            self.wall_offset = t_wall - t_mono
            self.wall_floor = max(self.wall_floor, t_wall)

    def rebuild(self) -> None:
        """The line state at the player's position, from the events before it and the
        row before it (after a seek)."""
        j, k = self.player.next_event, self.player.next_row
        self.state = ReplayState(self.defs)
        self.wall_floor = -math.inf
        self.state.apply_all(self.player.events[:j])
        self.events = self.state.last_seq
        if j > 0:
            last = self.player.events[j - 1]
            self._seen(last.t_mono, last.t_wall)
        n = len(self.names)
        self.v, self.t = np.full(n, np.nan), np.full(n, np.nan)
        self.q = np.full(n, int(Quality.WAITING), np.uint8)
        self.web = None
        if k > 0:
            self._rows(RowsDue(k - 1, self.player.source.read(k - 1, k)))
            self.delivered_rows -= 1

    def full_to_all(self) -> None:
        for s in list(self.streams):
            s.send(p.full_message(self.full_state(s.caller, s)))

    async def play(self) -> None:
        """The replay's clock (a task): the player moved on every ``PLAY_S`` while
        playing; paused, it waits for a command."""
        while True:
            try:
                self.advance()
            except Exception:  # never let the replay die for one bad batch
                logger.exception("replay step failed")
            self.wake.clear()
            if self.player.paused:
                await self.wake.wait()
            else:
                try:
                    async with asyncio.timeout(PLAY_S):
                        await self.wake.wait()
                except TimeoutError:
                    pass

    # ---------------------------------------------------------------- commands
    async def command(self, caller: Caller, data: dict[str, Any]) -> Verdict:
        rid = p.request_id_of(data)
        if self.closing:
            raise p.ShuttingDown("the replay is closing")
        name = data.get("command")
        if not isinstance(name, str) or (
            name not in REPLAY_COMMANDS and name not in p.API_COMMANDS
        ):
            known = ", ".join(sorted(REPLAY_COMMANDS))
            raise p.BadRequest(f"unknown command {name!r}: a replay takes {known}")
        if name in p.API_COMMANDS:
            raise ReplayRefused(line_refusal(name, self.meta.run_id))
        mine, digest = (caller.who, rid), _digest(data)
        seen = self.verdicts.get(mine)
        if seen is not None:
            if seen.request != digest:
                raise p.BadRequest(
                    f"request_id {rid!r} was already used for {seen.command}: use a new id"
                )
            return seen
        self._replay_control(name, data)
        logger.info("%s: %s", caller.who, name)
        body = {**p.accepted_body(rid), "source": self.source(with_trend=False)}
        verdict = Verdict(name, 200, body, digest)
        self._remember(mine, verdict)
        self.full_to_all()
        self.wake.set()
        return verdict

    def _replay_control(self, name: str, data: Mapping[str, Any]) -> None:
        fields = {k: v for k, v in data.items() if k not in ("command", "request_id", "reason")}
        allowed = REPLAY_COMMANDS[name]
        for key in fields:
            if key not in allowed:
                have = ", ".join(allowed) or "no fields"
                raise p.BadRequest(f"{name}: {key!r}: no such field ({name} takes {have})")
        now, pl = self.now(), self.player
        if name == "replay_pause":
            pl.pause(now)
        elif name == "replay_resume":
            if pl.finished:
                raise p.BadRequest("replay_resume: the replay is at the end of the run: seek first")
            pl.resume(now)
        elif name == "replay_speed":
            if "speed" not in fields:
                raise p.BadRequest("replay_speed: speed: required (0.1x to 1000x)")
            speed = fields["speed"]
            if isinstance(speed, bool) or not isinstance(speed, int | float):
                raise p.BadRequest(f"replay_speed: speed = {speed!r}: a number from 0.1x to 1000x")
            try:
                pl.set_speed(speed, now)
            except InvalidSpeed as exc:
                raise p.BadRequest(f"replay_speed: {exc}") from None
        elif name == "replay_seek":
            self._seek(fields, now)
        elif name == "replay_step":
            self._apply(pl.step(now))

    def _seek(self, fields: Mapping[str, Any], now: float) -> None:
        if len(fields) != 1:
            raise p.BadRequest("replay_seek: exactly one of t_s (seconds from the run's "
                               "start) or metre is needed")  # fmt: skip
        ((key, target),) = fields.items()
        if (
            isinstance(target, bool)
            or not isinstance(target, int | float)
            or not math.isfinite(target)
        ):
            raise p.BadRequest(f"replay_seek: {key} = {target!r}: a finite number is needed")
        try:
            if key == "t_s":
                self.player.seek_time(self.meta.start_mono + float(target), now)
            else:
                self.player.seek_metre(float(target), now)
        except SeekOutOfRange as exc:
            span = self.t_end - self.meta.start_mono
            raise p.BadRequest(f"replay_seek: {exc} (the run spans t_s 0 to {span:.3f})") from None
        # what is due at the new position (its time: at or before it) is in the full
        # state that follows, not sent again as messages
        self.player.due(now)
        self.rebuild()

    # ---------------------------------------------------------------- state
    def values_now(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.v.copy(), self.q.copy(), self.t.copy()

    def supervisor_status(self) -> dict[str, Any]:
        speed = float(self.v[self._speed_i]) if self._speed_i is not None else math.nan
        good = self._speed_i is not None and self.q[self._speed_i] == Quality.GOOD
        return self.state.status(self.web, speed if good else None)

    def bands(self) -> dict[str, Any]:
        return {}

    def alarms(self) -> list[dict[str, Any]]:
        return self.state.alarm_list()

    @property
    def operator_actions(self) -> int:
        return self.state.commands

    def source(self, with_trend: bool = True) -> dict[str, Any]:
        """The ``source`` object of a replay's full state."""
        t = self.position_t()
        pl = self.player
        out: dict[str, Any] = {
            "kind": "replay",
            "run": self.meta.run_id,
            "position": {
                "t_s": t - self.meta.start_mono,
                "t_mono": t,
                "t_wall": self.session.clock.wall(),
                "metre": self.web,
                "row": pl.next_row,
                "event": pl.next_event,
            },
            "span": {
                "t_s": self.t_end - self.meta.start_mono,
                "rows": pl.source.rows,
                "events": len(pl.events),
            },
            "speed": pl.speed,
            "paused": pl.paused,
            "finished": pl.finished,
        }
        if with_trend:
            out["trend"] = self.trend()
        return out

    def trend(self) -> dict[str, Any]:
        """The ``TREND_S`` recorded seconds before the position, at most
        ``TREND_POINTS`` rows of it (evenly strided, the last row kept): the wall time
        of each and, per channel, its GOOD values (null: not GOOD or not finite)."""
        t = self.position_t()
        rows = self.player.source.read_window(t - TREND_S, t)
        n = len(rows.t_mono)
        if not n:
            return {"span_s": TREND_S, "t_wall": [], "values": {c: [] for c in self.names}}
        pick = np.unique(np.linspace(0, n - 1, min(n, TREND_POINTS)).round().astype(np.int64))
        values = np.asarray(rows.values, np.float64)[pick]
        good = (np.asarray(rows.quality)[pick] == Quality.GOOD) & np.isfinite(values)
        series = {
            name: [float(x) if g else None for x, g in zip(values[:, i], good[:, i], strict=True)]
            for i, name in enumerate(self.names)
        }
        times = np.asarray(rows.t_wall, np.float64)[pick]
        return {"span_s": TREND_S, "t_wall": [float(x) for x in times], "values": series}

    def full_state(self, caller: Caller, stream: Stream | None = None) -> dict[str, Any]:
        state = super().full_state(caller, stream)
        state["mode"] = "replay"
        state["source"] = self.source()
        return state

    def _status_now(self) -> None:  # nothing changes control in a replay
        return
