"""Acquisition: poll every instrument at its rate, stamp each value with time and
quality, and fan the snapshot out.

One scheduler per physical link: a TCP PLC or an ASCII instrument is its own link
(all polled concurrently); an RS-485 bus is one link whose units take turns. A
device that fails is retried with a capped, jittered backoff; its channels turn
STALE after three of its poll periods without a good value and INVALID at once on
an answer that is not a value (``quality``); a channel that has never
had a value is WAITING. The other devices keep their rate. ``device_report`` says,
per device, how many polls failed, with which errors, and whether it ever answered.

The snapshot is numpy-backed, one column per channel. A sampler takes a row of it
at ``sample_hz`` and hands one-second batches to the run log (which never drops
silently) and the latest snapshot to any number of latest-value subscribers.

Accelerated time: on a clock running ``speedup`` times faster than real time (a
``ScaledClock``), every device is polled at no more than its configured rate in real
time. All periods are stretched by ``rate_factor = max(1, speedup)``: a device's poll
period in simulated time is ``max(period_s, speedup x period_s)``, and so are its
STALE threshold (three of those periods), its backoff cap and the sampler's period.
Detection bounds stay counted in poll cycles at any speed-up: a device lost is STALE
after three of its (stretched) periods, at speed-up 1 or 300.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from drivers.errors import BadReply, DeviceRejected, DriverError
from linecontrol.acquisition.fanout import LatestValue, RowQueue, Subscriber
from linecontrol.acquisition.quality import (
    BACKOFF_CAP_S,
    STALE_PERIODS,
    Quality,
    backoff_s,
    refresh,
)
from linecontrol.acquisition.report import DeviceReport
from linecontrol.acquisition.scheduler import LinkScheduler, Poller, raise_if_cancelling
from linecontrol.acquisition.snapshot import QUALITY_NAMES, Row, Snapshot
from linecontrol.acquisition.wiring import Buses, device_channels, open_driver
from linecontrol.config import LineConfig
from linecontrol.errors import InvalidArgument
from linecontrol.model import (
    Batch,
    Channel,
    DeviceFailed,
    DeviceRecovered,
    Event,
    QualityChanged,
)
from linecontrol.process import metre_at_station
from linecontrol.runtime import Clock, context_logger

logger = logging.getLogger("linecontrol.acquisition")


class Acquisition:
    def __init__(
        self,
        line: LineConfig,
        clock: Clock,
        *,
        sample_hz: float = 10.0,
        rng: random.Random | None = None,
        on_event: Callable[[Event], None] | None = None,
        speedup: float | None = None,
    ) -> None:
        """``speedup``: simulated seconds per real second of ``clock`` (default: the
        clock's own ``speedup`` attribute, as a ``ScaledClock`` has, else 1); periods
        are stretched by ``max(1, speedup)`` (module docstring). ``InvalidArgument`` if
        it is not a finite number above 0."""
        if speedup is None:
            speedup = float(getattr(clock, "speedup", 1.0))
        if not (math.isfinite(speedup) and speedup > 0):
            raise InvalidArgument(f"speedup = {speedup!r}: a finite number above 0")
        self.speedup = speedup
        self.rate_factor = max(1.0, speedup)
        self.backoff_cap_s = BACKOFF_CAP_S * self.rate_factor
        self.line = line
        self.clock = clock
        self.sample_hz = sample_hz
        self.rng = rng or random.Random()
        self.on_event = on_event
        self.channels: list[Channel] = []
        stale: list[float] = []
        self.pollers: dict[str, Poller] = {}
        self.links: dict[str, list[Poller]] = {}
        self._closers: list[Callable[[], Any]] = []
        self._subscribers: list[Subscriber] = []
        self.sinks: list[Callable[[Batch], None]] = []
        buses: Buses = {}
        for name, d in line.devices.items():
            chans = device_channels(name, d)
            cols = np.arange(len(self.channels), len(self.channels) + len(chans))
            self.channels += chans
            period = d.period_s * self.rate_factor  # = max(period_s, speedup x period_s)
            stale += [STALE_PERIODS * period] * len(chans)
            driver, link_key = open_driver(name, d, line, buses, self._closers)
            p = Poller(name, driver, cols, [c.name.split(".", 1)[1] for c in chans], period)
            self.pollers[name] = p
            self.links.setdefault(link_key, []).append(p)
        self.snapshot = Snapshot(self.channels, np.array(stale))

    def metres_at_stations(self) -> dict[str, float]:
        """Which metre of this run's product is at each station now (negative: none
        yet), from the drive's web position and each station's distance."""
        pos = self.snapshot.web_position_m
        return {st.name: float(metre_at_station(pos, st.distance_m)) for st in self.line.stations}

    def subscribe_latest(self) -> LatestValue:
        """A slot that always holds the newest row (``Overflow.LATEST_WINS``)."""
        slot = LatestValue()
        self._subscribers.append(slot)
        return slot

    def subscribe_rows(self, maxlen: int) -> RowQueue:
        """Every row in order, up to ``maxlen`` unread (``Overflow.RESYNC``)."""
        queue = RowQueue(maxlen)
        self._subscribers.append(queue)
        return queue

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Stop feeding ``subscriber`` (a client that went away); unknown ones are ignored."""
        with contextlib.suppress(ValueError):
            self._subscribers.remove(subscriber)

    def _event(self, event: Event) -> None:
        if self.on_event is not None:
            self.on_event(event)

    def _report_quality(self, p: Poller) -> None:
        """One ``QualityChanged`` per (old, new) pair of the device's channels whose
        quality changed since it was last reported (usually one: a device's
        channels change together)."""
        snap = self.snapshot
        now, was = snap.quality[p.cols], snap.reported[p.cols]
        changed = np.flatnonzero(now != was)
        if not len(changed):
            return
        snap.reported[p.cols] = now
        pairs: dict[tuple[int, int], list[str]] = {}
        for i in changed:
            key = (int(was[i]), int(now[i]))
            pairs.setdefault(key, []).append(self.channels[p.cols[i]].name)
        for (old, new), names in pairs.items():
            self._event(
                QualityChanged(
                    device=p.name,
                    channels=tuple(names),
                    old=QUALITY_NAMES[old],
                    new=QUALITY_NAMES[new],
                )
            )

    async def poll_once(self, p: Poller) -> None:
        snap = self.snapshot
        start = self.clock.monotonic()
        p.note_lateness(start - p.next_due)
        p.polls += 1
        try:
            result = await p.driver.poll()
        except asyncio.CancelledError:
            # Cut short by the stop: the device had no chance to answer, so this
            # is no attempt (a very short run fails no device that way).
            p.polls -= 1
            raise
        except (BadReply, DeviceRejected) as exc:
            # It answered, but not with values: nothing of this poll may be used.
            p.note_error(exc)
            snap.values[p.cols] = np.nan
            snap.quality[p.cols] = Quality.INVALID
            p.next_due = self._next_due(p, self.clock.monotonic())
            self._transition(p, "invalid", exc)
            self._report_quality(p)
            return
        except DriverError as exc:
            # Timeout or unreachable: keep the last values; they age into STALE.
            p.note_error(exc)
            p.failures += 1
            now = self.clock.monotonic()
            p.next_due = now + backoff_s(p.failures, p.period_s, self.rng, self.backoff_cap_s)
            self._transition(p, "failing", exc)
            return
        now = self.clock.monotonic()
        p.failures = 0
        if result.values:
            p.good_polls += 1
        for col, ch in zip(p.cols, p.names, strict=True):
            if ch in result.values:
                snap.values[col] = result.values[ch]
                snap.quality[col] = Quality.GOOD
                snap.t_good[col] = now
            else:
                snap.values[col] = np.nan
                snap.quality[col] = Quality.INVALID
        p.next_due = self._next_due(p, now)
        self._transition(
            p, "ok" if not result.errors else "invalid", next(iter(result.errors.values()), None)
        )
        self._report_quality(p)

    @staticmethod
    def _next_due(p: Poller, now: float) -> float:
        nxt = p.next_due + p.period_s
        return nxt if nxt > now else now + p.period_s  # missed cycles are skipped

    def _transition(
        self, p: Poller, state: Literal["ok", "invalid", "failing"], exc: BaseException | None
    ) -> None:
        if state == p.state:
            return
        old, p.state = p.state, state
        log = context_logger(logger, device=p.name)
        if state != "ok":
            log.warning("%s: %s", state, f"{type(exc).__name__}: {exc}" if exc else "no values")
        elif old in ("invalid", "failing"):
            log.info("answering again (was %s)", old)
        if state != "ok":
            error = f"{type(exc).__name__}: {exc}" if exc else ""
            self._event(DeviceFailed(device=p.name, state=state, error=error))
        elif old in ("invalid", "failing"):
            self._event(
                DeviceRecovered(device=p.name, was="invalid" if old == "invalid" else "failing")
            )

    # -------------------------------------------------------------- sampler
    def sample(self) -> Row:
        snap = self.snapshot
        now = self.clock.monotonic()
        if refresh(snap.quality, snap.t_good, snap.stale_after_s, now).any():
            for p in self.pollers.values():
                self._report_quality(p)
        row = Row(
            now, self.clock.wall(), snap.web_position_m, snap.values.copy(), snap.quality.copy(),
            snap.t_good.copy(),
        )  # fmt: skip
        for s in self._subscribers:
            s.put(row)
        return row

    async def run_sampler(self) -> None:
        period = self.rate_factor / self.sample_hz  # sample_hz rows per real second
        per_batch = max(1, round(self.sample_hz))  # a batch per real second
        rows: list[Row] = []
        nxt = self.clock.monotonic()
        try:
            while True:
                raise_if_cancelling()
                await self.clock.sleep_until(nxt)
                rows.append(self.sample())
                if len(rows) >= per_batch:
                    self._emit(rows)
                    rows = []
                nxt += period
                now = self.clock.monotonic()
                if nxt < now:
                    nxt = now + period
        finally:
            if rows:
                self._emit(rows)

    def _emit(self, rows: list[Row]) -> None:
        batch = Batch(
            t_mono=np.fromiter((r.t_mono for r in rows), float, len(rows)),
            t_wall=np.fromiter((r.t_wall for r in rows), float, len(rows)),
            web_position_m=np.fromiter((r.web_position_m for r in rows), float, len(rows)),
            values=np.stack([r.values for r in rows]),
            quality=np.stack([r.quality for r in rows]),
        )
        for sink in self.sinks:
            sink(batch)

    # -------------------------------------------------------------- lifecycle
    async def run(self) -> None:
        """Every link scheduler and the sampler, in one task group, until cancelled."""
        try:
            async with asyncio.TaskGroup() as tg:
                for key, pollers in self.links.items():
                    tg.create_task(LinkScheduler(key, pollers, self).run(), name=f"poll {key}")
                tg.create_task(self.run_sampler(), name="sampler")
        finally:
            await self.close()

    async def close(self) -> None:
        for close in self._closers:
            with contextlib.suppress(Exception):
                await close()
        self._closers.clear()

    def device_report(self) -> DeviceReport:
        """Per device: polls, errors by kind, whether it ever answered and whether it
        was answering at the end."""
        devices = {
            p.name: {
                "polls": p.polls,
                "good_polls": p.good_polls,
                "errors": p.errors,
                "kinds": dict(p.error_kinds),
                "answered": p.good_polls > 0,
                "state": p.state,
            }
            for p in self.pollers.values()
        }
        return DeviceReport(devices)

    def lateness_s(self) -> np.ndarray:
        return np.concatenate(
            [np.array(p.lateness_s) for p in self.pollers.values()] or [np.empty(0)]
        )
