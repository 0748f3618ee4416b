"""The supervisor core (pure): one step of the line's supervision.

``step(core, now, sample, inputs) -> (core, actions, events)``: given the state of the
supervision, the time, one sample of every channel and what arrived since the last
step (operator commands, results of writes, device failures and recoveries, a recipe
loaded by the shell), it returns the new state, the writes to make and the events to
log. No I/O and no clock: the async shell (``shell``) reads the sample, calls this,
executes the writes with deadlines and feeds their results back. Tested table-driven
without an event loop.

How it works. The PackML machine (``packml``) says which state the line is in. For
each state the core computes the setpoints it wants now (``desired``: by channel); a
write is made only where the desired value differs from what was last written and
verified, no write to that channel is in flight, and the device is answering and
verified. Acting states run as sequences of steps (``Core.step_name``), each waiting
for a condition on the sample; a sequence's last step ends in state complete.

- Starting: ``heat`` (N2 purge flows, tensions preset, zone temperatures with the
  instrument's ramp, cure zones held 5 °C below the purge gate until O2 stays below the
  recipe's limit for the purge time, press heating at its ramp, sputter argon on;
  then wait until every zone and the press are in band and the chamber is at its
  working pressure), ``tension`` (the drive runs at zero speed: tensions into band),
  ``nip`` (close the nip, ramp the roll load into band), ``run`` (coater pumps and
  flows, sputter power, line speed ramped to the recipe's, capped by the oven
  residence times) and then Execute. The readiness timeout (the slowest heat-up plus
  a margin) stops the start with its reason.
- Execute: every bound value watched against its band (``BandLeft`` / back in band
  events), the rewind tension tapered with the roll diameter, the run's end (metres
  or minutes) leading to Completing.
- Holding and Suspending stop the web (speed 0, pumps and sputter off, nip open,
  load off) and keep the ovens hot; Unholding and Unsuspending go through Starting's
  steps again (readiness first). Stopping and Completing do the same and put the
  heaters to standby. Aborting writes the safe state to every device of the line at
  once (each tried even if another refuses) and reports those that did not answer.

Interlocks, every step: e-stop (Abort); web break from the drive's flag or from a
tension under a fraction of its setpoint for N cycles (a coordinated stop in the
same step: the safe state written to every device at once); a needed device failing
or its values not GOOD (Hold); O2 above the trip limit, or the analyzer not GOOD, for
the trip delay during a cure (Hold, that oven's heaters to standby); heater runaway
and failure to heat (that zone to standby, Hold); press overload (nip open, Hold;
above the station's rating, Abort); a write whose read-back failed after its retry
(Hold); a device back after a failure is read back and compared before anything is
written to it again (a mismatch: Hold).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Literal

from drivers.devices import MODELS
from linecontrol import alarms as alarm_engine
from linecontrol.config import AlarmDefinition, LineConfig, PressStation, SupervisorSettings
from linecontrol.errors import InvalidArgument
from linecontrol.model import (
    AlarmCommand,
    AlarmInputs,
    BandLeft,
    BandReturned,
    ChangeSetpoint,
    Command,
    CommandGiven,
    CommandRejected,
    DeviceFailed,
    DeviceRecovered,
    Event,
    InterlockCleared,
    InterlockTripped,
    JogWeb,
    LoadRecipe,
    PackMLCommand,
    Quality,
    RecipeLoaded,
    SafeStateApplied,
    Sample,
    SequenceStepped,
    SetMode,
    SetpointFailed,
    SetpointWritten,
)
from linecontrol.supervisor import packml
from linecontrol.supervisor.packml import Mode, PackML, State, TripTo
from linecontrol.supervisor.plan import Plan, PurgedOven, Target, equipment_limit

S = State
EPS_SPEED = 0.005  # m/min: the web counts as stopped below this
WRITE_RETRY_POLLS = 10  # a failed write is tried again after this many polls of its device
SETPOINT_STATES = frozenset({S.STARTING, S.EXECUTE, S.HELD, S.SUSPENDED})
LATCHED = ("setpoint_failed:", "readiness_timeout:", "heater_failed:")
# Channels that move the web or close the nip: never set by hand in Manual mode.
MOTION_CHANNELS = frozenset({"run_cmd", "speed_sp_m_min", "nip_cmd", "roll_load_sp_kg"})
STOP_TIMEOUT_POLLS = 20  # a stop not confirmed within this many drive polls is aborted
RAMP_WRITE_S = 1.0  # a ramping setpoint is written once it moved this many seconds' worth
# The failure-to-heat window spans at least this many poll periods of the zone: at a
# speed-up a zone's reading is refreshed only once per (stretched) period, and a reading
# held between two polls is no zone failing to gain.
HEAT_CHECK_POLLS = 3
CHAMBER_TOLERANCE = 0.3  # the sputter chamber is at working pressure within ±30 %
# Cure zones wait this far below the purge gate until the purge is done: a controller
# overshoots the end of its ramp, and a zone held at the gate itself would pass it.
PURGE_WAIT_BELOW_C = 5.0


# ------------------------------------------------------------------ actions and inputs
@dataclass(frozen=True)
class Write:
    """Write ``value`` to ``channel`` (``device.channel``) and verify it by read-back
    (retried once on a mismatch); ``pulse``: a self-clearing command, not read back."""

    channel: str
    value: float
    pulse: bool = False

    @property
    def device(self) -> str:
        return self.channel.split(".", 1)[0]


@dataclass(frozen=True)
class ApplySafeState:
    """Write every one of ``writes`` at once, each device tried even if another fails;
    answer with ``SafeStateDone``."""

    writes: tuple[Write, ...]
    why: str


Action = Write | ApplySafeState


@dataclass(frozen=True)
class WriteDone:
    channel: str
    value: float
    read_back: float


@dataclass(frozen=True)
class WriteFailed:
    channel: str
    value: float
    error: str
    read_back: float | None = None


@dataclass(frozen=True)
class WriteCancelled:
    """A write dropped or cut short by Stop or Abort (nothing is known of its effect:
    the channel is written again if the new state wants it)."""

    channel: str
    value: float


@dataclass(frozen=True)
class SafeStateDone:
    why: str
    answered: tuple[str, ...]
    failed: tuple[str, ...]


@dataclass(frozen=True)
class RecipeReady:
    """The shell loaded, checked and planned the recipe of ``command``."""

    command: LoadRecipe
    plan: Plan
    violations: tuple[str, ...] = ()


@dataclass(frozen=True)
class RecipeRefused:
    command: LoadRecipe
    reason: str


Input = (
    Command
    | WriteDone
    | WriteFailed
    | WriteCancelled
    | SafeStateDone
    | RecipeReady
    | RecipeRefused
    | DeviceFailed
    | DeviceRecovered
)


# ------------------------------------------------------------------ the line's devices
@dataclass(frozen=True)
class LineDevices:
    """The devices of a line by what they are (what the safe state touches)."""

    drive: str | None
    presses: tuple[str, ...]
    coaters: tuple[str, ...]
    psus: tuple[str, ...]
    zones: tuple[str, ...]
    zone_station: Mapping[str, str]
    bits: Mapping[str, Mapping[str, int]]  # model -> flag name -> bit index
    models: Mapping[str, str]  # device -> model
    resolution: Mapping[str, float]  # device.channel -> half a count of the register
    # device.channel -> the equipment limit (register range and station rating)
    limits: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    # device -> its poll period on the line's clock (stretched at a speed-up, as acquisition's)
    period_s: Mapping[str, float] = field(default_factory=dict)
    press_max_kg: Mapping[str, float] = field(default_factory=dict)  # press -> station rating
    cure_zones: frozenset[str] = frozenset()  # zones of an oven with an O2 analyzer

    @classmethod
    def of(cls, line: LineConfig, rate_factor: float = 1.0) -> LineDevices:
        by: dict[str, list[str]] = {}
        for name, d in line.devices.items():
            by.setdefault(d.model, []).append(name)
        drives = by.get("line_drive", [])
        bits: dict[str, dict[str, int]] = {}
        resolution: dict[str, float] = {}
        for model, spec in MODELS.items():
            for ch in spec.channels:
                if ch.bits:
                    bits.setdefault(model, {}).update({v: k for k, v in ch.bits.items()})
        for name, d in line.devices.items():
            rm = MODELS[d.model].regmap
            for ch in MODELS[d.model].channels:
                if rm is not None:
                    reg = rm[ch.name]
                    resolution[f"{name}.{ch.name}"] = (
                        reg.scale / 2 + 1e-9 if reg.type != "f32" else 1e-4
                    )
                else:
                    resolution[f"{name}.{ch.name}"] = 0.006
        return cls(
            drive=drives[0] if drives else None,
            presses=tuple(by.get("press", [])),
            coaters=tuple(by.get("coater", [])),
            psus=tuple(by.get("dc_psu", [])),
            zones=tuple(by.get("oven_zone", [])),
            zone_station=MappingProxyType(
                {n: line.devices[n].station or "" for n in by.get("oven_zone", [])}
            ),
            bits=MappingProxyType({k: MappingProxyType(v) for k, v in bits.items()}),
            models=MappingProxyType({n: d.model for n, d in line.devices.items()}),
            resolution=MappingProxyType(resolution),
            limits=MappingProxyType(
                {
                    f"{n}.{ch.name}": equipment_limit(line, n, ch.name)
                    for n, d in line.devices.items()
                    for ch in MODELS[d.model].channels
                    if ch.writable
                }
            ),
            period_s=MappingProxyType(
                {n: d.period_s * rate_factor for n, d in line.devices.items()}
            ),
            press_max_kg=MappingProxyType(
                {
                    n: st.max_roll_load_kg
                    for n in by.get("press", [])
                    if isinstance(st := line.station(line.devices[n].station or ""), PressStation)
                }
            ),
            cure_zones=frozenset(
                z
                for z in by.get("oven_zone", [])
                if any(
                    d.model == "o2_analyzer" and d.station == line.devices[z].station
                    for d in line.devices.values()
                )
            ),
        )

    def flag(self, sample: Sample, device: str | None, name: str) -> bool | None:
        """A status flag of ``device`` (None: unknown, the status word is not GOOD)."""
        if device is None:
            return None
        word = sample.good(f"{device}.status")
        bit = self.bits.get(self.models.get(device, ""), {}).get(name)
        if word is None or bit is None:
            return None
        return bool(int(word) >> bit & 1)


def safe_writes(d: LineDevices, standby_temp_c: float, *, heaters: bool = True) -> list[Write]:
    """The safe state of every device of the line: drive stopped, nip open, load off, pumps
    and sputter off, heaters at standby and disabled (what Abort and a web break write,
    and what the shell writes without the core when the core itself failed)."""
    out: list[Write] = []
    if d.drive is not None:
        out += [Write(f"{d.drive}.speed_sp_m_min", 0.0), Write(f"{d.drive}.run_cmd", 0.0)]
    for p in d.presses:
        out += [Write(f"{p}.nip_cmd", 0.0), Write(f"{p}.roll_load_sp_kg", 0.0)]
        if heaters:
            out += [Write(f"{p}.top_temp_sp_c", standby_temp_c),
                    Write(f"{p}.bottom_temp_sp_c", standby_temp_c)]  # fmt: skip
    for c in d.coaters:
        out.append(Write(f"{c}.pump_run_cmd", 0.0))
    for s in d.psus:
        out.append(Write(f"{s}.output", 0.0))
    if heaters:
        for z in d.zones:
            out += [Write(f"{z}.temp_sp_c", standby_temp_c),
                    Write(f"{z}.output_enable", 0.0)]  # fmt: skip
    return out


# ------------------------------------------------------------------ the state
Interlock = Literal[
    "estop",
    "web_break",
    "device_lost",
    "o2_trip",
    "heater_runaway",
    "heater_failed",
    "press_overload",
    "press_overload_hh",
    "setpoint_failed",
    "readiness_timeout",
    "stop_timeout",
    "alarm",
]


@dataclass(frozen=True)
class Core:
    """The supervision's state between two steps (replaced, never changed)."""

    machine: PackML
    devices: LineDevices
    standby_temp_c: float
    plan: Plan | None = None
    step_name: str = ""
    step_at: float = 0.0
    last_now: float | None = None
    written: Mapping[str, float] = field(default_factory=dict)
    inflight: Mapping[str, float] = field(default_factory=dict)
    failed_writes: Mapping[str, float] = field(default_factory=dict)
    failed_at: Mapping[str, float] = field(default_factory=dict)  # when each write failed
    overrides: Mapping[str, float] = field(default_factory=dict)  # recipe field -> value
    manual: Mapping[str, float] = field(default_factory=dict)  # channel -> value (Manual)
    ramped: Mapping[str, float] = field(default_factory=dict)  # channel -> ramp position
    failing: frozenset[str] = frozenset()
    unverified: frozenset[str] = frozenset()
    safe_pending: str = ""  # the why of an ApplySafeState not yet answered
    purge_since: Mapping[str, float] = field(default_factory=dict)
    purged: frozenset[str] = frozenset()
    o2_high_since: Mapping[str, float] = field(default_factory=dict)
    standby: frozenset[str] = frozenset()  # zone setpoint channels forced to standby
    counters: Mapping[str, int] = field(default_factory=dict)  # runaway, tension-low
    heat_windows: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    last_pv: Mapping[str, float] = field(default_factory=dict)  # zone PV at the last step
    tension_seen: frozenset[str] = frozenset()  # tensions in band once since the web ran
    active: frozenset[str] = frozenset()  # interlocks now tripped ("name:detail")
    out_of_band: frozenset[str] = frozenset()
    run_start_m: float | None = None
    execute_s: float = 0.0
    waiting_for: tuple[str, ...] = ()  # what the current step waits for
    settings: SupervisorSettings = field(default_factory=SupervisorSettings)
    alarm_defs: Mapping[str, AlarmDefinition] = field(default_factory=dict)
    alarms: alarm_engine.Alarms = field(default_factory=dict)
    alarms_from: float = -math.inf  # a WAITING channel is a communication loss from then
    alarm_inputs: AlarmInputs | None = None  # the alarm engine's context last logged
    # The device-loss watchdog: a needed device is lost once its newest answer is older
    # than ``stale_periods`` of its poll periods less one sampled row (``row_s``), so the
    # row that sees it comes within ``stale_periods`` of its going silent.
    row_s: float = 0.0
    stale_periods: float = 3.0


def boot(
    line: LineConfig,
    now: float,
    *,
    clean: bool = True,
    rate_factor: float = 1.0,
    alarms: alarm_engine.Alarms | None = None,
    alarms_from: float = -math.inf,
    row_s: float = 0.0,
    stale_periods: float = 3.0,
) -> tuple[Core, tuple[Event, ...]]:
    """The core at start: Stopped after a clean stop, Aborted after an unclean one.
    ``alarms``: the alarm states kept from before (acknowledgements, shelves, latches);
    ``alarms_from``: until then a channel not yet polled raises no communication loss.
    ``rate_factor``: how much acquisition stretches the poll periods (at a speed-up).
    ``row_s``, ``stale_periods``: the sampled row's period on the line's clock and the
    poll periods a device may stay silent (acquisition's stale time): the device-loss
    watchdog holds a row before a needed device would turn STALE."""
    machine, events = packml.boot(clean, now)
    core = Core(
        machine,
        LineDevices.of(line, rate_factor),
        line.supervisor.standby_temp_c,
        step_at=now,
        settings=line.supervisor,
        alarm_defs=MappingProxyType(dict(line.alarms)),
        alarms=dict(alarms) if alarms is not None else alarm_engine.initial(line.alarms),
        alarms_from=alarms_from,
        row_s=row_s,
        stale_periods=stale_periods,
    )
    return core, events


def allowed_commands(core: Core) -> frozenset[str]:
    """The wire names the operator may give now (the buttons), with the supervisor's own."""
    out = set(packml.allowed_commands(core.machine))
    st = core.machine.state
    if core.plan is None:  # refused: "no recipe is loaded" (``_Step._refuse_start``)
        out.discard("start")
        if core.machine.mode is Mode.PRODUCTION:
            out.discard("reset")
    if st in (S.STOPPED, S.IDLE, S.ABORTED, S.COMPLETE):
        out.add(LoadRecipe.name)
    if core.plan is not None and st in (S.EXECUTE, S.HELD, S.SUSPENDED, S.STARTING):
        out.add(ChangeSetpoint.name)
    if core.machine.mode is Mode.MANUAL and st in (S.IDLE, S.STOPPED):
        out |= {ChangeSetpoint.name, JogWeb.name}
    return frozenset(out)


# ------------------------------------------------------------------ one step
class _Step:
    """The mutable working copy of one step (private: ``step`` freezes it back)."""

    def __init__(self, core: Core, now: float, sample: Sample) -> None:
        self.c = core
        self.now = now
        self.sample = sample
        self.machine = core.machine
        self.written = dict(core.written)
        self.inflight = dict(core.inflight)
        self.failed_writes = dict(core.failed_writes)
        self.failed_at = dict(core.failed_at)
        self.overrides = dict(core.overrides)
        self.manual = dict(core.manual)
        self.ramped = dict(core.ramped)
        self.failing = set(core.failing)
        self.unverified = set(core.unverified)
        self.purge_since = dict(core.purge_since)
        self.purged = set(core.purged)
        self.o2_high_since = dict(core.o2_high_since)
        self.standby = set(core.standby)
        self.counters = dict(core.counters)
        self.heat_windows = dict(core.heat_windows)
        self.tension_seen = set(core.tension_seen)
        self.active = set(core.active)
        self.out_of_band = set(core.out_of_band)
        self.plan = core.plan
        self.step_name = core.step_name
        self.step_at = core.step_at
        self.safe_pending = core.safe_pending
        self.run_start_m = core.run_start_m
        self.execute_s = core.execute_s
        self.waiting_for: tuple[str, ...] = ()
        self.still: set[str] = set()  # the interlocks asserted in this step
        self.quanta: dict[str, float] = {}  # this step's write quantum of a ramping channel
        self.last_pv = dict(core.last_pv)
        self.alarms = dict(core.alarms)
        self.alarm_inputs = core.alarm_inputs
        self.events: list[Event] = []
        self.actions: list[Action] = []
        self.dt = 0.0 if core.last_now is None else max(0.0, now - core.last_now)

    # ---------------------------------------------------------------- helpers
    @property
    def state(self) -> State:
        return self.machine.state

    def emit(self, *events: Event) -> None:
        self.events.extend(events)

    def apply(self, result: packml.Result) -> None:
        before = self.machine.state
        self.machine, events = result
        self.emit(*events)
        if self.machine.state is not before:
            self.enter(self.machine.state)

    def enter(self, state: State) -> None:
        """A new PackML state: its sequence starts at its first step."""
        first = {
            S.STARTING: "heat",
            S.UNHOLDING: "heat",
            S.UNSUSPENDING: "heat",
            S.EXECUTE: "run",
        }.get(state, "")
        self.set_step(first)
        if state is S.EXECUTE and self.run_start_m is None:
            pos = self.sample.good(f"{self.c.devices.drive}.web_position_m")
            self.run_start_m = pos
        if state in (S.RESETTING, S.CLEARING, S.STOPPED):
            self.run_start_m = None
            self.execute_s = 0.0
        if state is S.RESETTING:
            self.overrides.clear()  # an operator's change is for the run it was made in
        if state is S.ABORTING:
            self.safe_state("abort")
        elif state is S.STOPPING and self.machine.mode is Mode.MANUAL:
            # Stop in Manual: the web stops and the heaters set by hand go to standby.
            drive = self.c.devices.drive
            zones = [ch for ch in self.manual if ch.endswith(".temp_sp_c")]
            self.manual.clear()
            self.manual.update({ch: self.c.standby_temp_c for ch in zones})
            if drive is not None:
                self.manual.update({f"{drive}.speed_sp_m_min": 0.0, f"{drive}.run_cmd": 0.0})

    def set_step(self, name: str) -> None:
        if name != self.step_name:
            self.step_name = name
            self.step_at = self.now
            if name:
                self.emit(SequenceStepped(state=self.state.label, step=name))

    def good(self, channel: str | None) -> float | None:
        return None if channel is None else self.sample.good(channel)

    def trip(self, to: TripTo, interlock: Interlock, detail: str) -> None:
        key = f"{interlock}:{detail}"
        if key not in self.active:
            self.active.add(key)
            pos = self.sample.good(f"{self.c.devices.drive}.web_position_m")
            self.emit(
                InterlockTripped(interlock=interlock, detail=detail, action=to, web_position_m=pos)
            )
        self.apply(packml.trip(self.machine, to, f"{interlock}: {detail}", self.now))
        drive = self.c.devices.drive
        if self.machine.mode is Mode.MANUAL and drive is not None:
            # Stopped meets a hold or a stop, so the machine may not move: a web jogged by
            # hand stops all the same (in Production no web runs in Stopped).
            for ch in (f"{drive}.speed_sp_m_min", f"{drive}.run_cmd"):
                if ch in self.manual:
                    self.manual[ch] = 0.0

    def clear_interlocks(self, still: set[str]) -> None:
        for key in sorted(self.active - still):
            name, _, detail = key.partition(":")
            self.emit(InterlockCleared(interlock=name, detail=detail))
        self.active &= still

    def target_value(self, t: Target) -> float:
        return self.overrides.get(t.field, t.value)

    # ---------------------------------------------------------------- inputs
    def take(self, item: Input) -> None:
        if isinstance(item, PackMLCommand | SetMode):
            if packml.is_duplicate(self.machine, packml.request_key(item)):
                return  # the same request twice acts once
            reason = self._refuse_start(item) if isinstance(item, PackMLCommand) else ""
            if reason:
                self._once(item, reason)
                return
            before = len(self.events)
            was_manual = self.machine.mode is Mode.MANUAL
            self.apply(packml.handle(self.machine, item, self.now))
            if was_manual and self.machine.mode is not Mode.MANUAL:
                self._leave_manual()
            if not any(isinstance(e, CommandRejected) for e in self.events[before:]):
                self.events.insert(before, CommandGiven(command=item))
        elif isinstance(item, AlarmCommand):
            self._alarm_command(item)
        elif isinstance(item, ChangeSetpoint):
            self._change_setpoint(item)
        elif isinstance(item, JogWeb):
            self._jog(item)
        elif isinstance(item, LoadRecipe):
            # The shell loads the file and answers with RecipeReady or RecipeRefused.
            return
        elif isinstance(item, RecipeReady):
            self._recipe_ready(item)
        elif isinstance(item, RecipeRefused):
            self._once(item.command, item.reason)
        elif isinstance(item, WriteDone):
            self.inflight.pop(item.channel, None)
            previous = self.written.get(item.channel)
            self.written[item.channel] = item.value
            self.failed_writes.pop(item.channel, None)
            dev, _, ch = item.channel.partition(".")
            self.emit(
                SetpointWritten(
                    device=dev, channel=ch, value=item.value, read_back=item.read_back,
                    previous=previous,
                )
            )  # fmt: skip
        elif isinstance(item, WriteFailed):
            self.inflight.pop(item.channel, None)
            self.failed_writes[item.channel] = item.value
            self.failed_at[item.channel] = self.now
            dev, _, ch = item.channel.partition(".")
            self.emit(
                SetpointFailed(
                    device=dev, channel=ch, value=item.value, read_back=item.read_back,
                    error=item.error,
                )
            )  # fmt: skip
            if self.state not in (S.ABORTING, S.ABORTED, S.STOPPING, S.STOPPED):
                self.trip("hold", "setpoint_failed", item.channel)
        elif isinstance(item, WriteCancelled):
            self.inflight.pop(item.channel, None)
            self.written.pop(item.channel, None)  # unknown: written again when wanted
        elif isinstance(item, SafeStateDone):
            # Each of its writes was answered by a WriteDone or WriteFailed before this.
            if item.why == self.safe_pending:  # an older safe state's answer is not this one's
                self.safe_pending = ""
            self.emit(SafeStateApplied(why=item.why, answered=item.answered, failed=item.failed))
        elif isinstance(item, DeviceFailed):
            self.failing.add(item.device)
        elif isinstance(item, DeviceRecovered):
            self.failing.discard(item.device)
            if any(ch.split(".", 1)[0] == item.device for ch in self.written):
                self.unverified.add(item.device)
            # What did not reach it while it was away is tried again once it is verified
            # (a drive away when Abort came would run on in Aborted otherwise).
            for ch in [ch for ch in self.failed_writes if ch.split(".", 1)[0] == item.device]:
                del self.failed_writes[ch]
        elif isinstance(item, Command):  # no command vanishes unanswered
            self._once(item, f"{item.name}: not a command the supervisor takes")

    def _alarm_command(self, cmd: AlarmCommand) -> None:
        if packml.is_duplicate(self.machine, packml.request_key(cmd)):
            return
        result = alarm_engine.act(self.c.alarm_defs, self.alarms, cmd, self.now)
        if isinstance(result, alarm_engine.Rejected):
            self._once(cmd, result.reason)
            return
        self._accept(cmd)
        self.alarms, events = result
        self.emit(CommandGiven(command=cmd), *events)

    def _curing(self, p: PurgedOven) -> bool:
        """Whether a zone of the purged oven is past the purge gate (read or set)."""
        gate = self.c.settings.purge_gate_c
        return any(
            (self.good(ch.replace("temp_sp_c", "temp_pv_c")) or 0.0) > gate
            or (self.written.get(ch) or 0.0) > gate
            for ch in p.gated
        )

    def run_alarms(self) -> None:
        """The alarm engine on this sample; what active or latched alarms demand trips the
        machine."""
        defs = self.c.alarm_defs
        plan = self.plan
        needed: tuple[str, ...] = ()
        airy: tuple[str, ...] = ()
        setpoints: dict[str, float] = {}
        limits: dict[str, float] = {}
        if plan is not None:
            # Equipment the recipe does not use raises nothing that would stop its run.
            needed = tuple(sorted(plan.needed))
            # An oven not yet purged and not curing is expected to hold air: its O2 alarms
            # say nothing then (a purge that fails is the readiness timeout's business).
            airy = tuple(
                sorted(
                    p.o2
                    for p in plan.purges
                    if p.o2 is not None and p.station not in self.purged and not self._curing(p)
                )
            )
            setpoints = {t.reads: self.target_value(t) for t in plan.targets}
            limits = {p.o2: p.o2_limit_ppm for p in plan.purges if p.o2 is not None}
        start = self.c.alarms_from
        inputs = AlarmInputs(
            state=self.state.label,
            recipe=plan is not None,
            needed=needed,
            airy=airy,
            setpoints=setpoints,
            limits=limits,
            startup_until=start if math.isfinite(start) else None,
        )
        if inputs != self.alarm_inputs:  # logged so that a run can be evaluated again
            self.alarm_inputs = inputs
            self.emit(inputs)
        if not defs:
            return
        ctx = alarm_engine.context_of(defs, inputs)
        self.alarms, events = alarm_engine.step(defs, self.alarms, self.sample, self.now, ctx)
        self.emit(*events)
        for consequence, ids in alarm_engine.consequences(defs, self.alarms).items():
            if consequence == "none" or not ids:
                continue
            for alarm_id in ids:
                self.still.add(f"alarm:{alarm_id}")
            self.trip(consequence, "alarm", ids[0])

    def _once(self, command: Command, reason: str) -> None:
        if packml.is_duplicate(self.machine, packml.request_key(command)):
            return
        self.machine = packml.remember(self.machine, packml.request_key(command))
        self.emit(CommandRejected(command=command, reason=reason))

    def _accept(self, command: Command) -> bool:
        """Remember a supervisor command's request id; False for a duplicate."""
        if packml.is_duplicate(self.machine, packml.request_key(command)):
            return False
        self.machine = packml.remember(self.machine, packml.request_key(command))
        return True

    def _refuse_start(self, command: PackMLCommand) -> str:
        production = self.machine.mode is Mode.PRODUCTION
        if command.name == "reset" and production and self.plan is None:
            return "no recipe is loaded: load one before Reset"
        if command.name == "start" and self.plan is None:
            return "no recipe is loaded: load one, Reset, then Start"
        if command.name in ("start", "unhold", "unsuspend"):
            blocking = sorted(k for k in self.active if not k.startswith("readiness_timeout"))
            if blocking:
                return f"{command.name} refused while interlocks are active: {', '.join(blocking)}"
        return ""

    def _recipe_ready(self, item: RecipeReady) -> None:
        if self.state not in (S.STOPPED, S.IDLE, S.ABORTED, S.COMPLETE):
            self._once(
                item.command, f"a recipe loads only in Stopped or Idle, not in {self.state.label}"
            )
            return
        if not self._accept(item.command):
            return
        self.plan = item.plan
        self.overrides.clear()
        self.emit(CommandGiven(command=item.command))
        self.emit(
            RecipeLoaded(
                recipe=item.plan.recipe, path=item.command.path, sha256=item.plan.sha256,
                violations=item.violations,
            )
        )  # fmt: skip

    def _change_setpoint(self, cmd: ChangeSetpoint) -> None:
        if packml.is_duplicate(self.machine, packml.request_key(cmd)):
            return
        if self.machine.mode is Mode.MANUAL:
            reason = self._manual_value(cmd.field, cmd.value)
            if reason:
                self._once(cmd, reason)
                return
            self._accept(cmd)
            self.manual[cmd.field] = cmd.value
            self.emit(CommandGiven(command=cmd))
            return
        if self.plan is None:
            self._once(cmd, "no recipe is loaded")
            return
        if self.state not in SETPOINT_STATES:
            self._once(cmd, f"setpoints change in Starting, Execute, Held or Suspended, "
                            f"not in {self.state.label}")  # fmt: skip
            return
        targets = [t for t in self.plan.by_field(cmd.field) if t.sets is not None]
        if not targets:
            self._once(cmd, f"{cmd.field!r} is no setpoint of recipe {self.plan.recipe}")
            return
        for t in targets:
            why = t.allows(cmd.value)
            if why:
                self._once(cmd, why)
                return
        if targets[0].kind == "speed" and cmd.value > self.plan.speed_cap_m_min:
            self._once(cmd, f"speed {cmd.value:g} m/min: above what the oven residence times "
                            f"allow ({self.plan.speed_cap_m_min:g} m/min)")  # fmt: skip
            return
        self._accept(cmd)
        self.overrides[cmd.field] = float(cmd.value)
        self.emit(CommandGiven(command=cmd))

    def _manual_value(self, channel: str, value: float) -> str:
        if self.state not in (S.IDLE, S.STOPPED):
            return f"manual values are set in Idle or Stopped, not in {self.state.label}"
        if self.active:
            active = ", ".join(sorted(self.active))
            return f"manual values are refused while interlocks are active: {active}"
        dev, _, ch = channel.partition(".")
        if ch in MOTION_CHANNELS:
            # The web moves only by jog_web (0..1 m/min); the nip and its load not by hand.
            return f"{channel}: not set by hand (the web moves by jog_web only, the nip never)"
        model = self.c.devices.models.get(dev)
        if model is None:
            return f"{channel!r}: no device {dev!r} on the line"
        spec = next((c for c in MODELS[model].channels if c.name == ch), None)
        if spec is None or not spec.writable:
            return f"{channel!r}: not a setpoint of a {model}"
        if isinstance(value, bool) or not math.isfinite(value):
            return f"{channel} = {value!r}: a finite number is needed"
        gate = self.c.settings.purge_gate_c
        if ch == "temp_sp_c" and dev in self.c.devices.cure_zones and value > gate:
            # The N2 purge that lets a cure zone pass the gate runs with a recipe only.
            return (
                f"{channel} = {value:g}: a cure zone stays at or below {gate:g} °C in Manual mode"
            )
        lo, hi = self.c.devices.limits.get(channel, (-math.inf, math.inf))
        if not lo <= value <= hi:  # the station's rating too, not only the register's
            return f"{channel} = {value:g}: outside the equipment limit {lo:g}..{hi:g}"
        rm = MODELS[model].regmap
        if rm is not None:
            reg = rm[ch]
            if (reg.min is not None and value < reg.min) or (
                reg.max is not None and value > reg.max
            ):
                return f"{channel} = {value:g}: outside the instrument's range {reg.min}..{reg.max}"
        return ""

    def _leave_manual(self) -> None:
        """Out of Manual mode: the web stops and the zones set by hand go to standby. These
        stay wanted (``manual`` keeps them) until each is written: a jog still being
        written when the mode changed must not leave the web running."""
        drive = self.c.devices.drive
        leave = {ch: self.c.standby_temp_c for ch in self.manual if ch.endswith(".temp_sp_c")}
        if drive is not None:
            leave.update({f"{drive}.speed_sp_m_min": 0.0, f"{drive}.run_cmd": 0.0})
        self.manual.clear()
        self.manual.update(leave)

    def _jog(self, cmd: JogWeb) -> None:
        if packml.is_duplicate(self.machine, packml.request_key(cmd)):
            return
        drive = self.c.devices.drive
        if self.machine.mode is not Mode.MANUAL or drive is None:
            self._once(cmd, "the web is jogged in Manual mode only")
            return
        if self.state not in (S.IDLE, S.STOPPED):
            self._once(cmd, f"the web is jogged in Idle or Stopped, not in {self.state.label}")
            return
        if not math.isfinite(cmd.speed_m_min) or not 0.0 <= cmd.speed_m_min <= 1.0:
            self._once(cmd, f"jog speed {cmd.speed_m_min!r} m/min: 0..1 m/min")
            return
        if self.active:
            self._once(
                cmd, f"jog refused while interlocks are active: {', '.join(sorted(self.active))}"
            )
            return
        self._accept(cmd)
        self.manual[f"{drive}.speed_sp_m_min"] = cmd.speed_m_min
        self.manual[f"{drive}.run_cmd"] = 1.0 if cmd.speed_m_min > 0 else 0.0
        self.emit(CommandGiven(command=cmd))

    # ---------------------------------------------------------------- safe states
    def safe_writes(self, *, heaters: bool = True) -> list[Write]:
        return safe_writes(self.c.devices, self.c.standby_temp_c, heaters=heaters)

    def safe_state(self, why: str) -> None:
        """Every safe write at once, to every device (a failing one too: it may answer)."""
        writes = tuple(self.safe_writes())
        for w in writes:
            self.inflight[w.channel] = w.value
        self.manual.clear()
        self.safe_pending = why
        self.actions.append(ApplySafeState(writes, why))

    # ---------------------------------------------------------------- desired values
    def desired(self) -> dict[str, float]:
        want = self._desired()
        if self.machine.mode is not Mode.MANUAL and self.state not in (S.ABORTING, S.ABORTED):
            # What leaving Manual mode must still write, until it is written (the state's
            # own values come first).
            for ch, v in list(self.manual.items()):
                if self.written.get(ch) == v:
                    del self.manual[ch]
                else:
                    want.setdefault(ch, v)
        return want

    def _desired(self) -> dict[str, float]:
        st = self.state
        if st in (S.ABORTING, S.ABORTED):
            return {w.channel: w.value for w in self.safe_writes()}
        if self.machine.mode is Mode.MANUAL:
            # The operator's values; a zone an interlock put to standby stays there.
            by_hand = dict(self.manual)
            for ch in self.standby:
                by_hand[ch] = self.c.standby_temp_c
            return by_hand
        plan = self.plan
        if plan is None:
            return {}
        want: dict[str, float] = {}
        d = self.c.devices
        drive = plan.drive
        stopping = st in (S.STOPPING, S.STOPPED, S.COMPLETING, S.COMPLETE, S.CLEARING)
        holding = st in (S.HOLDING, S.HELD, S.SUSPENDING, S.SUSPENDED)
        if st in (S.IDLE, S.RESETTING):
            return {}
        if stopping or holding:
            speed_pv = self.good(f"{drive}.speed_pv_m_min")
            stopped = speed_pv is not None and speed_pv < EPS_SPEED
            want[f"{drive}.speed_sp_m_min"] = 0.0
            if stopping and (stopped or self.written.get(f"{drive}.run_cmd", 0.0) == 0.0):
                want[f"{drive}.run_cmd"] = 0.0
            for c in plan.coaters:
                want[f"{c}.pump_run_cmd"] = 0.0
                want[f"{c}.head_down_cmd"] = 0.0  # the head off the web with its pump
            if plan.psu:
                want[f"{plan.psu}.output"] = 0.0
            if plan.press:
                want[f"{plan.press}.nip_cmd"] = 0.0
                want[f"{plan.press}.roll_load_sp_kg"] = 0.0
            for t in plan.of_kind("zone_temp", "press_temp"):
                if t.sets is None:
                    continue
                if stopping or t.sets in self.standby:
                    want[t.sets] = self.c.standby_temp_c
                elif t.kind == "zone_temp" and t.cure and not self._purged_for(t):
                    # Held or Suspended before its oven is purged: a cure zone stays below
                    # the gate as in Starting (its oven still holds air; its O2 alarms
                    # stay suppressed, the purge runs on).
                    gate = plan.settings.purge_gate_c
                    want[t.sets] = min(self.target_value(t), gate - PURGE_WAIT_BELOW_C)
                else:
                    want[t.sets] = self.target_value(t)
                if t.kind == "zone_temp":
                    want[f"{t.device}.output_enable"] = 1.0  # holding its temperature
            return want
        # Starting, Unholding, Unsuspending, Execute: the recipe, step by step.
        step = self.step_name
        order = ("heat", "tension", "nip", "run")
        reached = order.index(step) if step in order else 3
        for t in plan.targets:
            if t.sets is None:
                continue
            v = self.target_value(t)
            if t.kind == "zone_temp":
                if t.sets in self.standby:
                    v = self.c.standby_temp_c
                elif t.cure and not self._purged_for(t):
                    v = min(v, plan.settings.purge_gate_c - PURGE_WAIT_BELOW_C)
                if t.device_ramp is not None:
                    want[t.device_ramp[0]] = t.device_ramp[1]
                want[t.sets] = v
                want[f"{t.device}.output_enable"] = 1.0
            elif t.kind == "press_temp":
                want[t.sets] = self.c.standby_temp_c if t.sets in self.standby else self.ramp(t, v)
            elif t.kind in ("n2_flow", "ar_flow"):
                want[t.sets] = v
            elif t.kind in ("unwind_tension", "rewind_tension"):
                if t.kind == "rewind_tension" and plan.taper is not None:
                    dia = self.good(plan.taper.diameter)
                    if dia is not None:
                        v = round(plan.taper.tension(v, dia), 1)
                want[t.sets] = v
            elif t.kind == "roll_load":
                want[t.sets] = self.ramp(t, v) if reached >= 2 else 0.0
            elif t.kind == "coat_flow" or t.kind == "sputter_power":
                want[t.sets] = v if reached >= 3 else 0.0
            elif t.kind == "speed":
                want[t.sets] = self.ramp(t, min(v, plan.speed_cap_m_min)) if reached >= 3 else 0.0
        want[f"{drive}.run_cmd"] = 1.0 if reached >= 1 else 0.0
        if plan.press:
            want[f"{plan.press}.nip_cmd"] = 1.0 if reached >= 2 else 0.0
        for c in plan.coaters:
            want[f"{c}.pump_run_cmd"] = 1.0 if reached >= 3 else 0.0
            # The head on the web while it coats, at the recipe's width (the coater's
            # wet thickness is its flow over width x speed).
            want[f"{c}.head_down_cmd"] = 1.0 if reached >= 3 else 0.0
            if c in plan.coat_widths:
                want[f"{c}.coating_width_mm"] = plan.coat_widths[c]
        if plan.psu:
            want[f"{plan.psu}.output"] = 1.0 if reached >= 3 else 0.0
        del d
        return want

    def ramp(self, t: Target, goal: float) -> float:
        """The setpoint on its way to ``goal`` at the target's ramp, from where it was
        (the last value written, else the process value, else the goal). On the way, a
        new value is written once it is a second's worth of ramp from the last."""
        assert t.sets is not None
        if t.ramp_per_s is None:
            return goal
        at = self.ramped.get(t.sets)
        if at is None:
            at = self.written.get(t.sets)
        if at is None:
            at = self.good(t.reads)
        if at is None:
            at = goal
        step = t.ramp_per_s * self.dt
        nxt = min(goal, at + step) if goal >= at else max(goal, at - step)
        self.ramped[t.sets] = nxt
        if nxt != goal:
            self.quanta[t.sets] = t.ramp_per_s * RAMP_WRITE_S
        return nxt

    def _purged_for(self, t: Target) -> bool:
        assert self.plan is not None
        return all(p.station in self.purged for p in self.plan.purges if t.sets in p.gated)

    # ---------------------------------------------------------------- writes
    def writes(self, want: Mapping[str, float]) -> None:
        for ch, v in want.items():
            dev = ch.split(".", 1)[0]
            if dev in self.failing or dev in self.unverified or ch in self.inflight:
                continue
            # A write that failed is not repeated at every step; the same value is tried
            # again after WRITE_RETRY_POLLS of its device's polls (a safe write refused
            # once must not leave the channel unsafe for good).
            retry = WRITE_RETRY_POLLS * self.c.devices.period_s.get(dev, 1.0)
            if self.failed_writes.get(ch) == v and self.now - self.failed_at.get(ch, 0.0) < retry:
                continue
            have = self.written.get(ch)
            tol = self.c.devices.resolution.get(ch, 1e-6)
            if have is not None and abs(have - v) <= max(tol, self.quanta.get(ch, 0.0)):
                continue
            self.inflight[ch] = v
            self.actions.append(Write(ch, v))

    # ---------------------------------------------------------------- sequences
    def sequences(self) -> None:
        st = self.state
        if st is S.RESETTING:
            self.apply(packml.complete(self.machine, self.now, S.RESETTING))
        elif st is S.CLEARING:
            estop = self.c.devices.flag(self.sample, self.c.devices.drive, "estop")
            if estop is False or self.c.devices.drive is None:
                self.apply(packml.complete(self.machine, self.now, S.CLEARING))
            else:
                self.waiting_for = ("the e-stop to be reset (or the drive to answer)",)
        elif st is S.ABORTING:
            if not self.safe_pending:
                self.apply(packml.complete(self.machine, self.now, S.ABORTING))
        elif st in (S.STOPPING, S.COMPLETING, S.HOLDING, S.SUSPENDING):
            self._stopping(st)
        elif st in (S.STARTING, S.UNHOLDING, S.UNSUSPENDING):
            self._starting(st)
        elif st is S.EXECUTE:
            self._execute()

    def _web_stopped(self) -> bool:
        if self.safe_pending:
            return False
        drive = self.c.devices.drive
        if drive is None:
            return True
        pv = self.good(f"{drive}.speed_pv_m_min")
        return pv is not None and pv < EPS_SPEED

    def _stopping(self, st: State) -> None:
        waits: list[str] = []
        if not self._web_stopped():
            waits.append("the web to stop")
        press = self.plan.press if self.plan is not None else None
        # A press that does not answer cannot say its nip is open: the stop does not wait
        # for it (its loss is an alarm and an interlock of its own), it waits for the web.
        if press:
            nip = self.c.devices.flag(self.sample, press, "nip_closed")
            if nip is True or (nip is None and press not in self.failing):
                waits.append("the nip to open")
        if st in (S.STOPPING, S.COMPLETING) and self.plan is not None:
            run = f"{self.plan.drive}.run_cmd"
            if self.written.get(run, 0.0) != 0.0 or run in self.inflight:
                waits.append("the drive to stop")
        self.waiting_for = tuple(waits)
        if not waits:
            self.apply(packml.complete(self.machine, self.now, st))
            return
        # A stop that cannot be confirmed (the drive does not answer) must not wait for
        # ever: after the stop timeout (at least STOP_TIMEOUT_POLLS of the drive's polls)
        # it becomes an Abort, which writes the safe state to every device and ends.
        drive = self.c.devices.drive
        polls = STOP_TIMEOUT_POLLS * self.c.devices.period_s.get(drive or "", 0.0)
        if self.now - self.machine.entered_at > max(self.c.settings.stop_timeout_s, polls):
            self.trip("abort", "stop_timeout", f"{st.label}: waiting for {', '.join(waits)}")

    def _band(self, t: Target) -> tuple[float, float] | None:
        """The window the read value must be in: the recipe band; for a tapered rewind
        tension, the band's width around the tension written now."""
        band = t.band
        if band is not None and t.kind == "rewind_tension" and self.plan is not None:
            sp = self.written.get(t.sets or "") if self.plan.taper is not None else None
            if sp is not None:
                half = (band[1] - band[0]) / 2
                band = (sp - half, sp + half)
        return band

    def _in_band(self, t: Target) -> bool:
        v = self.good(t.reads)
        if t.kind == "chamber_pressure":
            goal = self.target_value(t)
            return v is not None and abs(v - goal) <= goal * CHAMBER_TOLERANCE
        band = self._band(t)
        if band is None:
            return True
        # A value read back through a register is within half a count of what it is: a
        # setpoint on the band's edge must not read as out of it (0.48 reads 0.4799999).
        res = self.c.devices.resolution.get(t.reads, 0.0)
        return v is not None and band[0] - res <= v <= band[1] + res

    def _not_in_band(self, kinds: tuple[str, ...]) -> list[str]:
        """What of ``kinds`` is not in its window, as the operator reads it."""
        assert self.plan is not None
        out = []
        for t in self.plan.targets:
            if t.kind not in kinds or self._in_band(t):
                continue
            v = _fmt(self.good(t.reads))
            if t.kind == "chamber_pressure":
                out.append(f"{t.reads} {v} (want {self.target_value(t):g} ±30 %)")
            else:
                band = self._band(t)
                assert band is not None
                out.append(f"{t.reads} {v} (band {band[0]:g}..{band[1]:g})")
        return out

    def _starting(self, st: State) -> None:
        plan = self.plan
        if plan is None:
            self.trip("stop", "readiness_timeout", "no recipe loaded")
            return
        step = self.step_name
        if step == "heat":
            waits = [f"purge of {p.station}" for p in plan.purges if p.station not in self.purged]
            waits += self._not_in_band(("zone_temp", "press_temp", "chamber_pressure"))
            self.waiting_for = tuple(waits)
            # The cure zones heat past the gate only once their oven is purged: their
            # heat-up is timed from the end of the purge (the purge from the step's start).
            since = self.step_at
            ends = [self.purge_since.get(p.station) for p in plan.purges]
            if plan.purges and all(p.station in self.purged for p in plan.purges):
                purge_s = plan.settings.purge_time_s
                since = max([since, *(e + purge_s for e in ends if e is not None)])
            if not waits:
                self.set_step("tension")
            elif self.now - since > plan.readiness_timeout_s:
                self.trip("hold", "readiness_timeout", "; ".join(waits[:5]))
        elif step == "tension":
            waits = self._not_in_band(("unwind_tension", "rewind_tension"))
            self.waiting_for = tuple(waits)
            if not waits:
                self.tension_seen |= {
                    t.reads for t in plan.of_kind("unwind_tension", "rewind_tension")
                }
                self.set_step("nip" if plan.press else "run")
            elif self.now - self.step_at > plan.settings.readiness_margin_s:
                self.trip("hold", "readiness_timeout", "; ".join(waits[:5]))
        elif step == "nip":
            waits = self._not_in_band(("roll_load",))
            if self.c.devices.flag(self.sample, plan.press, "nip_closed") is not True:
                waits.append("the nip to close")
            self.waiting_for = tuple(waits)
            if not waits:
                self.set_step("run")
            elif self.now - self.step_at > plan.settings.readiness_margin_s + self._ramp_time(
                "roll_load"
            ):
                self.trip("hold", "readiness_timeout", "; ".join(waits[:5]))
        elif step == "run":
            waits = self._not_in_band(("speed", "coat_flow", "sputter_power", "roll_load",
                                       "unwind_tension", "rewind_tension"))  # fmt: skip
            self.waiting_for = tuple(waits)
            if not waits:
                self.apply(packml.complete(self.machine, self.now, st))
            elif self.now - self.step_at > plan.settings.readiness_margin_s + self._ramp_time(
                "speed"
            ):
                self.trip("hold", "readiness_timeout", "; ".join(waits[:5]))

    def _ramp_time(self, kind: str) -> float:
        assert self.plan is not None
        times = [self.target_value(t) / t.ramp_per_s for t in self.plan.targets
                 if t.kind == kind and t.ramp_per_s]  # fmt: skip
        return max(times, default=0.0)

    def _execute(self) -> None:
        plan = self.plan
        if plan is None:
            return
        self.execute_s += self.dt
        out = {
            t.reads for t in plan.targets
            if t.band is not None and t.kind != "chamber_pressure" and not self._in_band(t)
        }  # fmt: skip
        for ch in sorted(out - self.out_of_band):
            self.emit(BandLeft(channel=ch, value=self.good(ch)))
        for ch in sorted(self.out_of_band - out):
            self.emit(BandReturned(channel=ch, value=self.good(ch)))
        self.out_of_band = out
        done = False
        if plan.end_time_s is not None and self.execute_s >= plan.end_time_s:
            done = True
        pos = self.good(f"{plan.drive}.web_position_m")
        if plan.end_length_m is not None and self.run_start_m is not None and pos is not None:
            done = done or pos - self.run_start_m >= plan.end_length_m
        if done:
            self.apply(packml.complete(self.machine, self.now, S.EXECUTE))

    # ---------------------------------------------------------------- interlocks
    def interlocks(self) -> None:
        d = self.c.devices
        plan = self.plan
        st = self.state
        still: set[str] = set()

        def hold(kind: TripTo, name: Interlock, detail: str) -> None:
            still.add(f"{name}:{detail}")
            self.trip(kind, name, detail)

        self.still = still

        if d.flag(self.sample, d.drive, "estop"):
            # Clearing waits for the e-stop's reset (its sequence), it does not abort again.
            if st is S.CLEARING:
                still.add("estop:e-stop pressed")
            else:
                hold("abort", "estop", "e-stop pressed")
        running = self.written.get(f"{d.drive}.run_cmd", 0.0) == 1.0
        if d.flag(self.sample, d.drive, "web_break") and (
            running or "web_break:drive flag" in self.active
        ):
            if "web_break:drive flag" not in self.active:
                self.safe_state("web break")
            hold("stop", "web_break", "drive flag")
        if plan is not None and running:
            self._tension_collapse(still)
        if plan is not None and st not in (
            S.STOPPED,
            S.IDLE,
            S.ABORTED,
            S.ABORTING,
            S.COMPLETE,
            S.CLEARING,
            S.RESETTING,
        ):
            for dev in sorted(plan.needed):
                if dev in self.failing:
                    hold("hold", "device_lost", f"{dev} does not answer")
                    continue
                reads = [
                    t.reads for t in plan.targets if t.device == dev and t.reads in self.sample
                ]
                bad = [
                    ch for ch in reads
                    if self.sample.quality(ch) in (Quality.STALE, Quality.INVALID)
                ]  # fmt: skip
                if bad:
                    hold("hold", "device_lost", f"{dev}: {bad[0]} not GOOD")
                elif (silent := self._silent_s(dev, reads)) is not None:
                    hold("hold", "device_lost", f"{dev} silent for {silent:.3g} s")
        if plan is not None:
            self._purge_and_o2(still)
        self._heaters(still)  # with or without a recipe: Manual mode keeps every interlock
        self._press(still)
        for key in self.active:
            # Latched until the line is stopped: a write that did not hold, a start that
            # did not get ready, a heater that failed (its zone is at standby now).
            if key.startswith(LATCHED) and st not in (
                S.STOPPED,
                S.IDLE,
                S.ABORTED,
            ):
                still.add(key)
        self.run_alarms()
        self.clear_interlocks(still)

    def _silent_s(self, dev: str, reads: list[str]) -> float | None:
        """How long ``dev`` has not answered, when that is past the watchdog's limit
        (its stale time less one row); None while it answers, or when the sample carries
        no answer times. A channel never answered is the readiness check's, not this."""
        times = [t for ch in reads if (t := self.sample.answered_at(ch)) is not None]
        newest = max(times, default=-math.inf)
        if newest == -math.inf:
            return None
        silent = self.now - newest
        limit = self.c.stale_periods * self.c.devices.period_s.get(dev, math.inf) - self.c.row_s
        return silent if silent > limit else None

    def _tension_collapse(self, still: set[str]) -> None:
        assert self.plan is not None
        s = self.plan.settings
        for t in self.plan.of_kind("unwind_tension", "rewind_tension"):
            sp = self.written.get(t.sets or "")
            v = self.good(t.reads)
            if sp is None or sp <= 0 or v is None:
                continue
            if t.in_band(v):
                self.tension_seen.add(t.reads)
            if t.reads not in self.tension_seen:
                continue
            key = f"low:{t.reads}"
            if v < s.web_break_tension_fraction * sp:
                self.counters[key] = self.counters.get(key, 0) + 1
            else:
                self.counters.pop(key, None)
            if self.counters.get(key, 0) >= s.web_break_cycles:
                name = f"web_break:{t.reads} collapsed"
                if name not in self.active:
                    self.safe_state("web break")
                still.add(name)
                self.trip("stop", "web_break", f"{t.reads} collapsed")

    def _purge_and_o2(self, still: set[str]) -> None:
        assert self.plan is not None
        s = self.plan.settings
        for p in self.plan.purges:
            o2 = self.good(p.o2)
            if p.o2 is not None and self.c.devices.flag(
                self.sample, p.o2.split(".", 1)[0], "sensor_fail"
            ):
                o2 = None  # a failed cell's reading is no value (a stuck one reads low)
            flowing = all((self.written.get(ch) or 0.0) > 0 for ch in p.n2) and bool(p.n2)
            if o2 is not None and o2 < p.o2_limit_ppm and flowing:
                since = self.purge_since.setdefault(p.station, self.now)
                if self.now - since >= s.purge_time_s and p.station not in self.purged:
                    self.purged.add(p.station)
                    self.emit(SequenceStepped(state=self.state.label, step=f"purged {p.station}"))
            else:
                self.purge_since.pop(p.station, None)
            hot = self._curing(p)
            worst = o2 is None or o2 > s.o2_trip_ppm
            key = f"o2_trip:{p.station}"
            if hot and worst:
                since = self.o2_high_since.setdefault(p.station, self.now)
                if self.now - since >= s.o2_trip_delay_s or key in self.active:
                    self.standby |= set(p.gated)
                    self.purged.discard(p.station)
                    still.add(key)
                    self.trip("hold", "o2_trip", p.station)
            else:
                self.o2_high_since.pop(p.station, None)
                if key in self.active and not worst:
                    pass  # cleared: the zones stay at standby until Unhold/Start re-arms them

    def _zones(self) -> list[tuple[str, str, str]]:
        """(sets, reads, device) of the heaters the heater checks watch: the recipe's
        zones and press rolls, and every oven zone or press roll a setpoint was written to
        (in Manual mode by hand, with or without a recipe loaded)."""
        out: dict[str, tuple[str, str, str]] = {}
        if self.plan is not None:
            heated = self.plan.of_kind("zone_temp", "press_temp")  # ovens and the press rolls
            out.update({t.sets: (t.sets, t.reads, t.device) for t in heated if t.sets})
        heaters = [(f"{z}.temp_sp_c", f"{z}.temp_pv_c", z) for z in self.c.devices.zones]
        heaters += [
            (f"{p}.{roll}_temp_sp_c", f"{p}.{roll}_temp_pv_c", p)
            for p in self.c.devices.presses
            for roll in ("top", "bottom")
        ]
        for h in heaters:
            if h[0] in self.written and h[0] not in out:
                out[h[0]] = h
        return list(out.values())

    def _heaters(self, still: set[str]) -> None:
        s = self.c.settings
        for sets, reads, device in self._zones():
            t = _Zone(sets, reads, device)
            sp = self.written.get(t.sets)
            pv = self.good(t.reads)
            if sp is None or pv is None:
                continue
            working = self.good(f"{t.device}.working_sp_c")
            out = self.good(f"{t.device}.output_pct")
            # Runaway: above its setpoint (and the controller's working setpoint, which
            # ramps down slower than a setpoint steps) by the margin while still heating
            # or still rising; a zone cooling down to a lower setpoint is none.
            key = f"runaway:{t.sets}"
            prev = self.last_pv.get(t.reads)
            self.last_pv[t.reads] = pv
            heating = (out is not None and out > 0.0) or (prev is not None and pv > prev)
            if pv > max(sp, working or sp) + s.runaway_margin_c and heating:
                self.counters[key] = self.counters.get(key, 0) + 1
            elif pv <= max(sp, working or sp) + s.runaway_margin_c:
                self.counters.pop(key, None)
            name = f"heater_runaway:{t.device}"
            if self.counters.get(key, 0) >= s.runaway_cycles:
                self.standby.add(t.sets)
                still.add(name)
                self.trip("hold", "heater_runaway", t.device)
            ref = working if working is not None else sp
            fname = f"heater_failed:{t.device}"
            if fname in self.active:
                continue  # latched until the line is stopped (below)
            if (
                ref - pv > s.heat_check_below_c
                and out is not None
                and out >= s.heat_check_output_pct
            ):
                w = self.heat_windows.get(t.sets)
                if w is None or pv >= w[1] + s.heat_check_gain_c:
                    self.heat_windows[t.sets] = (self.now, pv)
                elif self.now - w[0] >= max(
                    s.heat_check_time_s,
                    HEAT_CHECK_POLLS * self.c.devices.period_s.get(t.device, 0.0),
                ):
                    self.standby.add(t.sets)
                    still.add(fname)
                    self.trip("hold", "heater_failed", t.device)
            else:
                self.heat_windows.pop(t.sets, None)

    def _press(self, still: set[str]) -> None:
        """The recipe's press, or without a recipe (Manual mode) every press."""
        plan = self.plan
        presses = (
            ([plan.press] if plan.press else []) if plan is not None else self.c.devices.presses
        )
        for press in presses:
            self._one_press(still, press)

    def _one_press(self, still: set[str], press: str) -> None:
        plan = self.plan
        rating = self.c.devices.press_max_kg.get(press)
        load = self.good(f"{press}.roll_load_pv_kg")
        sp = self.written.get(f"{press}.roll_load_sp_kg", 0.0)
        flag = self.c.devices.flag(self.sample, press, "overload")
        if load is not None and rating is not None and load > rating:
            # One key while it lasts (the load in it would make every step a new trip).
            detail = f"roll load above {rating:g} kg"
            still.add(f"press_overload_hh:{detail}")
            self.trip("abort", "press_overload_hh", detail)
            return
        # Against the recipe's load as well as the one written: while the load is taken
        # off, the roll load lags its falling setpoint, which is no overload.
        targets = plan.of_kind("roll_load") if plan is not None else ()
        goal = max((self.target_value(t) for t in targets), default=0.0)
        over = flag or (
            load is not None and load > max(sp, goal) + self.c.settings.overload_margin_kg
        )
        name = "press_overload:roll load"
        if over or (name in self.active and self.state in (S.HOLDING, S.HELD)):
            still.add(name)
            self.trip("hold", "press_overload", "roll load")

    # ---------------------------------------------------------------- verification
    def verify_reconnected(self) -> None:
        for dev in sorted(self.unverified):
            if dev in self.failing:
                continue
            chans = [ch for ch in self.written if ch.split(".", 1)[0] == dev]
            values = {ch: self.sample.good(ch) for ch in chans if ch in self.sample}
            if any(v is None for v in values.values()):
                continue  # not yet read back
            self.unverified.discard(dev)
            for ch, v in values.items():
                want = self.written[ch]
                assert v is not None
                if abs(v - want) > self.c.devices.resolution.get(ch, 1e-6):
                    del self.written[ch]
                    away = "changed while the device was away"
                    name = ch.split(".", 1)[1]
                    self.emit(
                        SetpointFailed(
                            device=dev, channel=name, value=want, read_back=v, error=away
                        )
                    )
                    if self.state not in (S.STOPPED, S.IDLE, S.ABORTED, S.ABORTING):
                        self.trip("hold", "setpoint_failed", ch)

    def freeze(self) -> Core:
        return replace(
            self.c,
            machine=self.machine,
            plan=self.plan,
            step_name=self.step_name,
            step_at=self.step_at,
            last_now=self.now,
            written=self.written,
            inflight=self.inflight,
            failed_writes=self.failed_writes,
            failed_at=self.failed_at,
            overrides=self.overrides,
            manual=self.manual,
            ramped=self.ramped,
            failing=frozenset(self.failing),
            unverified=frozenset(self.unverified),
            safe_pending=self.safe_pending,
            purge_since=self.purge_since,
            purged=frozenset(self.purged),
            o2_high_since=self.o2_high_since,
            standby=frozenset(self.standby),
            counters=self.counters,
            heat_windows=self.heat_windows,
            last_pv=self.last_pv,
            alarms=self.alarms,
            alarm_inputs=self.alarm_inputs,
            tension_seen=frozenset(self.tension_seen),
            active=frozenset(self.active),
            out_of_band=frozenset(self.out_of_band),
            run_start_m=self.run_start_m,
            execute_s=self.execute_s,
            waiting_for=self.waiting_for,
        )


@dataclass(frozen=True)
class _Zone:
    sets: str
    reads: str
    device: str


def _fmt(v: float | None) -> str:
    return "not GOOD" if v is None else f"{v:g}"


def step(
    core: Core, now: float, sample: Sample, inputs: Sequence[Input] = ()
) -> tuple[Core, tuple[Action, ...], tuple[Event, ...]]:
    """One step: take the inputs, check the interlocks, run the state's sequence and
    decide the writes. ``now`` is the line clock's monotonic time (finite, not going
    back)."""
    if not math.isfinite(now) or (core.last_now is not None and now < core.last_now):
        raise InvalidArgument(f"now = {now!r}: finite and not before {core.last_now!r}")
    s = _Step(core, now, sample)
    for item in inputs:
        s.take(item)
    s.verify_reconnected()
    s.interlocks()
    s.sequences()
    # Leaving a stop or abort: the zones forced to standby are re-armed by a new start.
    if (
        s.state in (S.STARTING, S.UNHOLDING, S.UNSUSPENDING)
        and s.step_name == "heat"
        and s.step_at == now
    ):
        s.standby.clear()
    if s.state in (S.RESETTING, S.IDLE, S.STOPPED, S.CLEARING):
        s.purged.clear()
        s.ramped.clear()
        s.tension_seen.clear()
    if not s.safe_pending:
        s.writes(s.desired())
    return s.freeze(), tuple(s.actions), tuple(s.events)
