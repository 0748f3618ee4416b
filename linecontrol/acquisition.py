"""Acquisition: poll every instrument at its rate, stamp each value with time and
quality, and fan the snapshot out.

One scheduler per physical link: a TCP PLC or an ASCII instrument is its own link
(all polled concurrently); an RS-485 bus is one link whose units take turns. A
device that fails is retried with a capped, jittered backoff; its channels turn
STALE after three of its poll periods without a good value and INVALID at once on
an answer that is not a value (``linecontrol.quality``); a channel that has never
had a value is WAITING. The other devices keep their rate. ``device_report`` says,
per device, how many polls failed, with which errors, and whether it ever answered.

The snapshot is numpy-backed, one column per channel. A sampler takes a row of it
at ``sample_hz`` and hands one-second batches to the run log (which never drops
silently) and the latest snapshot to any number of latest-value subscribers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

from drivers.device import PollResult
from drivers.devices import MODELS
from drivers.errors import BadReply, DeviceRejected, DriverError
from drivers.links.ascii_link import AsciiLink
from drivers.links.modbus_rtu import ModbusRtuLink, UnitLink
from drivers.links.modbus_tcp import ModbusTcpLink
from drivers.links.serial_port import AsyncSerialPort, SerialSettings
from linecontrol.clock import Clock
from linecontrol.devices_config import AnyDevice, AsciiDevice, RtuDevice, TcpDevice
from linecontrol.errors import AddressMapError
from linecontrol.line import LineConfig
from linecontrol.logs import context_logger
from linecontrol.model import DeviceFailed, DeviceRecovered, Event, QualityChanged, QualityName
from linecontrol.quality import STALE_PERIODS, Quality, backoff_s, refresh
from linecontrol.runlog.samples import Batch, Channel
from linecontrol.tracking import metre_at_station

logger = logging.getLogger("linecontrol.acquisition")
WEB_POSITION = "web_position_m"
QUALITY_NAMES: dict[int, QualityName] = {
    Quality.GOOD: "GOOD",
    Quality.STALE: "STALE",
    Quality.INVALID: "INVALID",
    Quality.WAITING: "WAITING",
}
LATENESS_KEPT = 4096


def raise_if_cancelling() -> None:
    """Honour a cancellation that a library swallowed.

    Python 3.11's ``asyncio.wait_for`` (which pymodbus awaits its replies with) can
    drop a cancellation that arrives as the reply completes; the task then runs on
    with ``cancelling()`` still set. A long-running loop checks it every turn, so a
    stop always stops.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class Driver(Protocol):
    async def poll(self) -> PollResult: ...


def device_channels(name: str, d: AnyDevice) -> list[Channel]:
    """The device's channels, as its model declares them (``drivers.devices``)."""
    return [Channel(f"{name}.{c.name}", c.unit, name) for c in MODELS[d.model].channels]


def apply_address_map(line: LineConfig, amap: dict[str, Any]) -> LineConfig:
    """The line config with the addresses a simulator reported (``linecontrol sim``'s
    first line of output): TCP host and port, serial ports and bus settings."""
    devices: dict[str, AnyDevice] = {}
    for name, d in line.devices.items():
        got = amap.get("devices", {}).get(name)
        if got is None or "port" not in got:
            raise AddressMapError(f"the simulator does not serve device {name!r}")
        if d.link == "tcp":
            devices[name] = d.model_copy(update={"host": got["host"], "port": got["port"]})
        elif d.link == "ascii":
            devices[name] = d.model_copy(update={"serial_port": got["port"]})
        else:
            devices[name] = d
    buses = {}
    for name, b in line.buses.items():
        got = amap.get("buses", {}).get(name)
        if got is None:
            raise AddressMapError(f"the simulator does not serve bus {name!r}")
        buses[name] = b.model_copy(update={"port": got["port"], "parity": got["parity"]})
    return line.model_copy(update={"devices": devices, "buses": buses})


# ------------------------------------------------------------------ snapshot
class Snapshot:
    """Latest value, quality and time of every channel: numpy columns."""

    def __init__(self, channels: list[Channel], stale_after_s: np.ndarray) -> None:
        self.channels = channels
        self.index = {c.name: i for i, c in enumerate(channels)}
        n = len(channels)
        self.values = np.full(n, np.nan)
        self.quality = np.full(n, Quality.WAITING, np.uint8)
        self.reported = self.quality.copy()  # as last told in QualityChanged events
        self.t_good = np.full(n, -np.inf)
        self.stale_after_s = stale_after_s
        self.web_index = next(
            (i for i, c in enumerate(channels) if c.name.endswith("." + WEB_POSITION)), None
        )

    @property
    def web_position_m(self) -> float:
        return float(self.values[self.web_index]) if self.web_index is not None else np.nan


@dataclass(frozen=True)
class Row:
    t_mono: float
    t_wall: float
    web_position_m: float
    values: np.ndarray
    quality: np.ndarray


class LatestValue:
    """A subscriber slot that keeps only the newest row (displays, telemetry)."""

    def __init__(self) -> None:
        self.row: Row | None = None
        self.dropped = 0
        self._event = asyncio.Event()

    def put(self, row: Row) -> None:
        if self.row is not None and self._event.is_set():
            self.dropped += 1  # latest value wins: the unread older row is replaced
        self.row = row
        self._event.set()

    async def get(self) -> Row:
        await self._event.wait()
        self._event.clear()
        assert self.row is not None
        return self.row


@dataclass
class DeviceReport:
    """How each device did over a run (``Acquisition.device_report``)."""

    devices: dict[str, dict[str, Any]]

    @property
    def never_answered(self) -> list[str]:
        """Asked at least once, never answered with values."""
        return [n for n, d in self.devices.items() if d["polls"] and not d["answered"]]

    @property
    def not_polled(self) -> list[str]:
        """Never asked (a run stopped before their first poll): not a failure."""
        return [n for n, d in self.devices.items() if not d["polls"]]

    @property
    def failing_at_end(self) -> list[str]:
        return [n for n, d in self.devices.items() if d["answered"] and d["state"] != "ok"]

    @property
    def failed(self) -> bool:
        """A device never answered, or was not answering with values at the end."""
        return bool(self.never_answered or self.failing_at_end)

    def status(self) -> str:
        """For the run's exit status: empty when no device failed."""
        n = len(self.devices)
        parts = []
        if self.never_answered:
            parts.append(f"{len(self.never_answered)} of {n} never answered")
        if self.failing_at_end:
            parts.append(f"{len(self.failing_at_end)} of {n} failing at the end")
        return f"devices failed: {', '.join(parts)}" if parts else ""

    def line(self) -> str:
        """One line: per device with errors, their count and kinds, or never answered."""
        n = len(self.devices)
        answered = n - len(self.never_answered) - len(self.not_polled)
        bad = []
        if self.not_polled:
            bad.append(f"{len(self.not_polled)} not polled before the stop")
        for name, d in self.devices.items():
            if (not d["errors"] and d["answered"]) or not d["polls"]:
                continue
            kinds = ", ".join(f"{k} {v}" for k, v in sorted(d["kinds"].items()))
            what = "never answered" if not d["answered"] else f"{d['errors']} errors"
            if d["answered"] and d["state"] != "ok":
                what += f", {d['state']} at the end"
            bad.append(f"{name} {what}" + (f" ({kinds})" if kinds else ""))
        if not bad:
            return f"devices: {answered} of {n} answered, no errors"
        return f"devices: {answered} of {n} answered; " + "; ".join(bad)


# ------------------------------------------------------------------ pollers
@dataclass
class Poller:
    name: str
    driver: Driver
    cols: np.ndarray  # snapshot column of each of the device's channels
    names: list[str]  # driver channel names, in the order of ``cols``
    period_s: float
    next_due: float = 0.0
    failures: int = 0
    polls: int = 0
    errors: int = 0
    good_polls: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    # The last LATENESS_KEPT poll start delays (start minus due), a fixed ring.
    lateness_ring: np.ndarray = field(default_factory=lambda: np.zeros(LATENESS_KEPT))
    lateness_count: int = 0
    state: str = "new"  # "ok", "failing", "invalid"

    def note_error(self, exc: BaseException) -> None:
        self.errors += 1
        kind = type(exc).__name__
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1

    def note_lateness(self, s: float) -> None:
        self.lateness_ring[self.lateness_count % LATENESS_KEPT] = s
        self.lateness_count += 1

    @property
    def lateness_s(self) -> np.ndarray:
        return self.lateness_ring[: min(self.lateness_count, LATENESS_KEPT)]

    def clear_lateness(self) -> None:
        self.lateness_count = 0


class LinkScheduler:
    """Polls the devices of one physical link, one request at a time."""

    def __init__(self, name: str, pollers: list[Poller], acq: Acquisition) -> None:
        self.name = name
        self.pollers = pollers
        self.acq = acq

    async def run(self) -> None:
        clock = self.acq.clock
        now = clock.monotonic()
        for p in self.pollers:
            p.next_due = now
        while True:
            raise_if_cancelling()
            p = min(self.pollers, key=lambda x: x.next_due)
            if p.next_due > clock.monotonic():
                await clock.sleep_until(p.next_due)
                continue
            await self.acq.poll_once(p)


class Acquisition:
    def __init__(
        self,
        line: LineConfig,
        clock: Clock,
        *,
        sample_hz: float = 10.0,
        rng: random.Random | None = None,
        on_event: Callable[[Event], None] | None = None,
    ) -> None:
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
        self._subscribers: list[LatestValue] = []
        self.sinks: list[Callable[[Batch], None]] = []
        buses: dict[str, ModbusRtuLink] = {}
        for name, d in line.devices.items():
            chans = device_channels(name, d)
            cols = np.arange(len(self.channels), len(self.channels) + len(chans))
            self.channels += chans
            stale += [STALE_PERIODS * d.period_s] * len(chans)
            driver, link_key = self._driver(name, d, buses)
            p = Poller(name, driver, cols, [c.name.split(".", 1)[1] for c in chans], d.period_s)
            self.pollers[name] = p
            self.links.setdefault(link_key, []).append(p)
        self.snapshot = Snapshot(self.channels, np.array(stale))

    def _driver(
        self, name: str, d: AnyDevice, buses: dict[str, ModbusRtuLink]
    ) -> tuple[Driver, str]:
        """The device's link (one per physical link: an RTU bus is shared), and its
        driver from the model's factory. Only the link depends on the config's link
        kind; nothing here depends on the model."""
        link: object
        if isinstance(d, TcpDevice):
            tcp = ModbusTcpLink(d.host, d.port, timeout_s=d.timeout_s, name=name)
            self._closers.append(tcp.close)
            link, key = tcp, f"tcp:{name}"
        elif isinstance(d, RtuDevice):
            if d.bus not in buses:
                b = self.line.buses[d.bus]
                port = AsyncSerialPort(
                    SerialSettings(b.port, b.baudrate, b.parity, b.stopbits), d.bus
                )
                buses[d.bus] = ModbusRtuLink(port, timeout_s=b.timeout_s, name=d.bus)
                self._closers.append(buses[d.bus].close)
            link, key = UnitLink(buses[d.bus], d.unit), f"rtu:{d.bus}"
        else:
            assert isinstance(d, AsciiDevice)
            alink = AsciiLink(
                AsyncSerialPort(SerialSettings(d.serial_port, d.baudrate, "N"), name),
                timeout_s=d.timeout_s,
                name=name,
            )
            self._closers.append(alink.close)
            link, key = alink, f"ascii:{name}"
        return MODELS[d.model].make(name, link, d.link_address), key

    def metres_at_stations(self) -> dict[str, float]:
        """Which metre of this run's product is at each station now (negative: none
        yet), from the drive's web position and each station's distance."""
        pos = self.snapshot.web_position_m
        return {st.name: float(metre_at_station(pos, st.distance_m)) for st in self.line.stations}

    def subscribe_latest(self) -> LatestValue:
        slot = LatestValue()
        self._subscribers.append(slot)
        return slot

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
            p.next_due = now + backoff_s(p.failures, p.period_s, self.rng)
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
            now, self.clock.wall(), snap.web_position_m, snap.values.copy(), snap.quality.copy()
        )
        for s in self._subscribers:
            s.put(row)
        return row

    async def run_sampler(self) -> None:
        period = 1.0 / self.sample_hz
        per_batch = max(1, round(self.sample_hz))
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
