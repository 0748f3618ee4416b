"""The pure supervisor core under random operator commands, faults and time steps.

A hypothesis ``RuleBasedStateMachine`` drives ``core.step`` against the in-test plant
(``tests/supervision_plant.py``): commands (load, the nine PackML ones, modes, setpoint
changes with any float, NaN and infinities included, jogs; request ids drawn from a
small pool so they repeat), faults (a device away and back, values STALE, the drive's
web-break and e-stop flags, the press's overload flag and a load above its rating, an
O2 leak, a zone that does not follow its setpoint, refused and failed writes) and time
steps of any length (a fast-forward at a minute a step gets a start to Execute within
the step budget). After every step of the core, not only after every rule:

- never Execute while an interlock is active: ``core.active`` holds nothing but a
  latched readiness-timeout record (the one key Unhold is allowed with), and the
  sample the core just judged shows no condition that trips at once: the e-stop
  flag, the press's overload flag or a load above its rating, the web-break flag
  with the drive running, a needed device reported failed, or a value the recipe
  reads from a needed device not GOOD;
- never Execute after Aborting or Aborted unless this test gave a Clear and, after
  it, a Reset (tracked in the model, from the commands given, not from the core),
  and never into Execute unless this test gave a Start, Unhold or Unsuspend since the
  line was last at rest (it never returns to Execute by itself);
- after Abort, the line is Aborted within ``ABORT_STEPS`` steps and the plant holds
  the safe value on every safe channel of every device that accepts writes (drive
  stopped, nip open and unloaded, pumps and sputter off, heaters at standby, zone
  outputs off; a channel that refused a write since the Abort, or a device away that
  was never reported failed, is excused), a device reported back (``DeviceRecovered``)
  included, within ``ABORT_STEPS`` steps of its return;
- every write is to a writable channel, finite, inside the equipment limit (the
  station's rating and the register's range), and, outside Manual mode, never above
  the top of the recipe band of a recipe setpoint;
- every command with a new request (its command and its id, ``request_key``) is
  answered once (``CommandGiven`` or ``CommandRejected``); the same command with an id
  given before changes nothing and is answered not at all;
- no interlock is tripped and cleared in the same step (a trip that does not stay
  active is no interlock);
- the core never raises, and time never goes back (a ``now`` before the last, or not
  finite, is an ``InvalidArgument`` and changes nothing).
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from drivers.devices import MODELS
from linecontrol.config import load_recipe
from linecontrol.errors import InvalidArgument
from linecontrol.model import (
    Abort,
    ChangeSetpoint,
    Clear,
    Command,
    CommandGiven,
    CommandRejected,
    DeviceFailed,
    DeviceRecovered,
    Event,
    Hold,
    InterlockCleared,
    InterlockTripped,
    JogWeb,
    LoadRecipe,
    Quality,
    Reset,
    Sample,
    SetMode,
    Start,
    StateChanged,
    Stop,
    Suspend,
    Unhold,
    Unsuspend,
)
from linecontrol.supervisor import core as sup
from linecontrol.supervisor import request_key
from linecontrol.supervisor.plan import build_plan, equipment_limit, register_range
from tests.supervision_plant import LINE, RECIPE, Plant

PLAN = build_plan(load_recipe(RECIPE), LINE, source_text=RECIPE.read_text(encoding="utf-8"))
STANDBY = LINE.supervisor.standby_temp_c
ABORT_STEPS = 3  # steps from Abort (or a device's return) to the safe state and Aborted
AT_REST = ("Stopped", "Idle", "Held", "Suspended", "Complete", "Aborted", "Aborting",
           "Stopping", "Holding", "Suspending", "Completing", "Clearing", "Resetting")  # fmt: skip
GO = ("start", "unhold", "unsuspend")


def _limits() -> dict[str, tuple[float, float]]:
    """Every writable channel's equipment limit: the register's range, narrowed to the
    station's rating for a channel a recipe sets (the plan's ``equipment_limit``)."""
    out: dict[str, tuple[float, float]] = {}
    for name, d in LINE.devices.items():
        for ch in MODELS[d.model].channels:
            if ch.writable:
                out[f"{name}.{ch.name}"] = equipment_limit(LINE, name, ch.name)
        if d.model == "dc_psu":  # output on/off: the driver's setpoint "output", 0 or 1
            out[f"{name}.output"] = (0.0, 1.0)
    return out


LIMITS = _limits()
WRITABLE = sorted(LIMITS)
# The channels whose station rating is narrower than their register's range.
NARROWED = sorted(
    c for c in WRITABLE if c.split(".", 1)[1] != "output"
    and LIMITS[c] != register_range(LINE.devices[c.split(".", 1)[0]].model, c.split(".", 1)[1])
)  # fmt: skip


def _safe_values() -> dict[str, float]:
    """What Abort must leave on each device, from the line's devices by model."""
    out: dict[str, float] = {}
    for n, d in LINE.devices.items():
        if d.model == "line_drive":
            out |= {f"{n}.speed_sp_m_min": 0.0, f"{n}.run_cmd": 0.0}
        elif d.model == "press":
            out |= {f"{n}.nip_cmd": 0.0, f"{n}.roll_load_sp_kg": 0.0,
                    f"{n}.top_temp_sp_c": STANDBY, f"{n}.bottom_temp_sp_c": STANDBY}  # fmt: skip
        elif d.model == "coater":
            out[f"{n}.pump_run_cmd"] = 0.0
        elif d.model == "dc_psu":
            out[f"{n}.output"] = 0.0
        elif d.model == "oven_zone":
            out |= {f"{n}.temp_sp_c": STANDBY, f"{n}.output_enable": 0.0}
    return out


SAFE = _safe_values()
DEVICES = sorted(LINE.devices)
FIELDS = sorted({t.field for t in PLAN.targets if t.sets is not None})
READS = sorted({t.reads for t in PLAN.targets})
PINNABLE = [*READS, "o2_cure.o2_ppm", "zone_C08.output_pct", "drive.rewind_diameter_mm"]

ids = st.one_of(st.just(""), st.integers(0, 24).map(lambda i: f"id{i}"))
PACKML: dict[str, type[Command]] = {
    c.name: c for c in (Reset, Start, Stop, Hold, Unhold, Suspend, Unsuspend, Abort, Clear)
}
floats_any = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -1.0, 1e9]),
)


@st.composite
def setpoint_values(draw: Any, target: str) -> float:
    """For a recipe field: inside, on and just outside its band; for a channel: inside
    and outside its limit; and any float at all."""
    ts = [t for t in PLAN.targets if t.field == target and t.sets is not None]
    choices = [floats_any]
    if ts and ts[0].band is not None:
        lo, hi = ts[0].band
        choices += [st.floats(lo, hi), st.sampled_from([lo, hi, lo - 1e-3, hi + 1e-3]),
                    st.sampled_from([hi + (hi - lo), lo - (hi - lo)])]  # fmt: skip
    if target in LIMITS:
        lo, hi = LIMITS[target]
        lo, hi = max(lo, -1e6), min(hi, 1e6)
        choices += [st.floats(lo, hi), st.sampled_from([lo, hi, lo - 1, hi + 1]),
                    st.sampled_from([hi + 1, 2 * hi + 1])]  # fmt: skip
    return float(draw(st.one_of(*choices)))


def _command(kind: type[Command], **fields: Any) -> Command:
    """The command as a caller would hand it in; with a non-finite number, as a caller
    bypassing the model's validation would (the core must refuse it all the same)."""
    try:
        return kind(**fields)
    except ValueError:
        return kind.model_construct(**fields)


class Supervision(RuleBasedStateMachine):
    """The core, the plant, and the model of what this test has done to them."""

    def __init__(self) -> None:
        super().__init__()
        self.plant = Plant(LINE)
        self.core: sup.Core
        self.now = 0.0
        self.n = 0  # steps made
        self.inbox: list[sup.Input] = []
        self.pending: list[sup.Input] = []  # the plant's answers, for the next step
        self.used: set[str] = set()  # requests (command and id) given so far
        self.told_failed: set[str] = set()  # devices reported failed, not back
        self.back_at: dict[str, int] = {}  # device -> step of its DeviceRecovered
        self.refused_since_abort: set[str] = set()
        self.dark_since_abort: set[str] = set()
        self.abort_at: int | None = None  # step the line entered Aborting (None: not there)
        self.need_clear = False  # Aborted seen: Clear, then Reset, before any Execute
        self.need_reset = False
        self.go_given = False  # a Start/Unhold/Unsuspend since the line was at rest
        self.seen_execute = False
        self.counter = 0
        self.broken = False  # a step failed its checks (no more steps at teardown)

    # ------------------------------------------------------------ set-up
    @initialize(clean=st.booleans(), run=st.booleans(), clear=st.booleans())
    def boot(self, clean: bool, run: bool, clear: bool) -> None:
        self.core, events = sup.boot(LINE, 0.0, clean=clean)
        self.check_step(events)
        if not clean:
            self.need_clear = self.need_reset = True
        if run:
            self.operator_starts(clear)  # no fault yet: the start must get there
            if clean or clear:
                assert self.state == "Execute", (self.state, self.core.waiting_for)

    # ------------------------------------------------------------ one step of the core
    def step(self, dt: float) -> None:
        self.broken = True  # until this step has passed its checks
        self.now += dt
        self.n += 1
        self.plant.physics(dt)
        sample = self.plant.sample(self.now)
        given = self.inbox
        self.inbox = []
        fresh: list[Command] = []
        for item in given:
            cmd = item.command if isinstance(item, sup.RecipeReady | sup.RecipeRefused) else item
            if isinstance(cmd, Command):
                # A request is its command and its id (packml.request_key): the same id on
                # another command is a new request.
                key = request_key(cmd)
                if key == "" or key not in self.used:
                    fresh.append(cmd)
                    self.see_command(cmd)
                self.used.add(key)
        before = self.core
        self.core, actions, events = sup.step(before, self.now, sample, [*self.pending, *given])
        assert self.core.last_now == self.now >= (before.last_now or 0.0)
        self.check_writes(actions)
        self.pending = self.plant.act(actions)
        self.check_answers(events, fresh)
        self.check_step(events, sample)
        self.broken = False

    def see_command(self, cmd: Command) -> None:
        if cmd.name == "clear":
            self.need_clear = False
        elif cmd.name == "reset" and not self.need_clear:
            self.need_reset = False
        elif cmd.name in GO:
            self.go_given = True

    def advance(self, steps: int, dt: float) -> None:
        for _ in range(steps):
            self.step(dt)

    # ------------------------------------------------------------ the checks
    @property
    def state(self) -> str:
        return self.core.machine.state.label

    def check_writes(self, actions: tuple[sup.Action, ...]) -> None:
        manual = self.core.machine.mode.wire == "manual"
        plan = self.core.plan
        for a in actions:
            for w in a.writes if isinstance(a, sup.ApplySafeState) else (a,):
                assert w.channel in LIMITS, f"a write to {w.channel}, no writable channel"
                assert math.isfinite(w.value), f"{w.channel} = {w.value!r} written"
                lo, hi = LIMITS[w.channel]
                assert lo <= w.value <= hi, f"{w.channel} = {w.value!r} outside {lo}..{hi}"
                t = plan.by_sets(w.channel) if plan is not None else None
                if t is not None and t.band is not None and not manual:
                    assert w.value <= t.band[1], f"{w.channel} = {w.value!r} above {t.band}"

    def check_answers(self, events: tuple[Event, ...], fresh: list[Command]) -> None:
        answered = [e.command for e in events if isinstance(e, CommandGiven | CommandRejected)]
        for cmd in answered:
            assert cmd in fresh, f"{cmd!r} answered: not a command with a new request id"
        for cmd in fresh:
            n = sum(1 for c in answered if c is cmd or c == cmd)
            same = sum(1 for c in fresh if c == cmd)
            assert n == same, f"{cmd!r} answered {n} times"

    def shown(self, sample: Sample) -> list[str]:
        """The conditions the plant showed the core that trip at once."""
        out = []
        f = self.plant.flags
        if f.get("drive.estop"):
            out.append("e-stop flag")
        if f.get("press.overload"):
            out.append("press overload flag")
        load = sample.good("press.roll_load_pv_kg")
        if load is not None and PLAN.press_max_kg is not None and load > PLAN.press_max_kg:
            out.append(f"roll load {load}")
        if f.get("drive.web_break") and self.plant.values["drive.run_cmd"] == 1.0:
            out.append("web break flag, drive running")
        plan = self.core.plan
        if plan is not None:
            out += [f"{d} reported failed" for d in sorted(self.told_failed & plan.needed)]
            out += [
                f"{t.reads} not GOOD" for t in plan.targets
                if t.device in plan.needed and sample.quality(t.reads) is not Quality.GOOD
            ]  # fmt: skip
        return out

    def check_step(self, events: tuple[Event, ...], sample: Sample | None = None) -> None:
        passed = [e.new for e in events if isinstance(e, StateChanged)]
        st_ = self.state
        if "Aborting" in passed or "Aborted" in passed or st_ in ("Aborting", "Aborted"):
            self.need_clear = self.need_reset = True
        if st_ in ("Aborting", "Aborted"):
            if self.abort_at is None or "Aborting" in passed:  # a new abort, maybe via Clearing
                self.abort_at = self.n
                self.refused_since_abort = set()
                self.dark_since_abort = set()
            self.refused_since_abort |= self.plant.refuse
            # A device away that nobody reported: its writes timed out and nothing tells
            # the core it is back; excused from the safe-state check for this abort.
            self.dark_since_abort |= self.plant.down - self.told_failed
        else:
            self.abort_at = None
        tripped = {(e.interlock, e.detail) for e in events if isinstance(e, InterlockTripped)}
        cleared = {(e.interlock, e.detail) for e in events if isinstance(e, InterlockCleared)}
        assert not tripped & cleared, f"tripped and cleared in one step: {tripped & cleared}"
        if "Execute" in passed or st_ == "Execute":
            self.seen_execute = True
            assert not (self.need_clear or self.need_reset), (
                f"Execute after Aborted without Clear and Reset: {passed}"
            )
            assert self.go_given, f"Execute by itself: {passed}"
        if st_ == "Execute":
            blocking = sorted(k for k in self.core.active if not k.startswith("readiness_timeout"))
            assert not blocking, f"Execute with interlocks active: {blocking}"
            if sample is not None:
                shown = self.shown(sample)
                assert not shown, f"Execute while the plant shows {shown}"
        if st_ in AT_REST:
            self.go_given = False
        self.check_safe()

    def check_safe(self) -> None:
        if self.abort_at is None:
            return
        since = self.n - self.abort_at
        if since >= ABORT_STEPS:
            assert self.state == "Aborted", f"{self.state} {since} steps after Abort"
        wrong = []
        for ch, want in SAFE.items():
            dev = ch.split(".", 1)[0]
            if dev in self.plant.down | self.dark_since_abort or ch in self.refused_since_abort:
                continue
            if self.n - max(self.abort_at, self.back_at.get(dev, -1)) < ABORT_STEPS:
                continue
            if self.plant.values.get(ch) != want:
                wrong.append(f"{ch}={self.plant.values.get(ch)}")
        assert not wrong, f"{since} steps after Abort, not safe: {wrong}"

    # ------------------------------------------------------------ operator commands
    def rid(self) -> str:
        self.counter += 1
        return f"op-{self.counter}"

    def operator_starts(self, clear: bool = True) -> None:
        """What an operator does to run the recipe: Clear if Aborted (``clear``: or
        forgets to), load it if none, Reset, Start; then time at a minute a step until
        the start ends one way or another."""
        if self.state == "Aborted" and clear:
            self.inbox.append(Clear(by="ana", request_id=self.rid()))
            self.advance(2, 1.0)
        if self.core.plan is None:
            self.inbox.append(sup.RecipeReady(LoadRecipe(by="ana", request_id=self.rid(),
                                                         path=str(RECIPE)), PLAN))  # fmt: skip
            self.step(1.0)
        self.inbox.append(Reset(by="ana", request_id=self.rid()))
        self.advance(2, 1.0)
        self.inbox.append(Start(by="ana", request_id=self.rid()))
        for _ in range(150):
            self.step(60.0)
            if self.state not in ("Starting", "Unholding", "Unsuspending"):
                break

    @rule(data=st.data(), clear=st.booleans(), change=st.booleans())
    def run_the_recipe(self, data: st.DataObject, clear: bool, change: bool) -> None:
        """The start, then (``change``) an operator's setpoint change in the run."""
        self.operator_starts(clear)
        if change:
            where = data.draw(st.sampled_from(FIELDS))
            value = data.draw(setpoint_values(where))
            self.inbox.append(
                _command(ChangeSetpoint, by="ana", request_id=self.rid(), field=where, value=value)
            )
            self.advance(3, 1.0)

    @rule(path=st.sampled_from(["ok", "refused"]), request_id=ids)
    def load_recipe(self, path: str, request_id: str) -> None:
        cmd = LoadRecipe(by="ana", request_id=request_id, path=str(RECIPE))
        if path == "ok":
            self.inbox.append(sup.RecipeReady(cmd, PLAN))
        else:
            self.inbox.append(sup.RecipeRefused(cmd, "violates a rule"))

    @rule(name=st.sampled_from(sorted(PACKML)), request_id=ids)
    def packml_command(self, name: str, request_id: str) -> None:
        self.inbox.append(_command(PACKML[name], by="ana", request_id=request_id))

    @rule(away=st.one_of(st.none(), st.sampled_from(sorted({c.split(".")[0] for c in SAFE}))))
    def abort(self, away: str | None) -> None:
        """Abort, the command this test is most about, more often than the others;
        ``away``: with that device just lost (reported), the case of a comm loss."""
        if away is not None:
            self.device_fails(away, True)
        self.inbox.append(Abort(by="ana", request_id=self.rid()))

    @rule(mode=st.sampled_from(["production", "maintenance", "manual"]), request_id=ids)
    def set_mode(self, mode: str, request_id: str) -> None:
        self.inbox.append(_command(SetMode, by="ana", request_id=request_id, mode=mode))

    @rule(data=st.data(), recipe=st.booleans(), request_id=ids)
    def change_setpoint(self, data: st.DataObject, recipe: bool, request_id: str) -> None:
        """A recipe field (half the time) or a channel by name, as in Manual mode."""
        where = data.draw(st.sampled_from(FIELDS if recipe else [*WRITABLE, "nowhere.x"]))
        value = data.draw(setpoint_values(where))
        cmd = _command(ChangeSetpoint, by="ana", request_id=request_id, field=where, value=value)
        self.inbox.append(cmd)

    @rule(data=st.data())
    def manual_setpoint(self, data: st.DataObject) -> None:
        """Manual mode and a value set by hand in one go (refused outside Stopped or Idle)."""
        where = data.draw(st.one_of(st.sampled_from(NARROWED), st.sampled_from(WRITABLE)))
        value = data.draw(setpoint_values(where))
        self.inbox.append(SetMode(by="ana", request_id=self.rid(), mode="manual"))
        self.inbox.append(
            _command(ChangeSetpoint, by="ana", request_id=self.rid(), field=where, value=value)
        )

    @rule(speed=st.one_of(st.floats(-0.5, 1.5), floats_any), request_id=ids)
    def jog(self, speed: float, request_id: str) -> None:
        self.inbox.append(_command(JogWeb, by="ana", request_id=request_id, speed_m_min=speed))

    # ------------------------------------------------------------ faults
    @rule(device=st.sampled_from(DEVICES), tell=st.booleans())
    def device_fails(self, device: str, tell: bool) -> None:
        self.plant.down.add(device)
        if tell:  # else the acquisition has not noticed yet: only its values are STALE
            self.told_failed.add(device)
            self.inbox.append(DeviceFailed(device=device, state="failing", error="timeout"))

    @precondition(lambda self: bool(self.plant.down))
    @rule(data=st.data())
    def device_returns(self, data: st.DataObject) -> None:
        device = data.draw(st.sampled_from(sorted(self.plant.down)))
        self.plant.down.discard(device)
        if device in self.told_failed:
            self.told_failed.discard(device)
            self.inbox.append(DeviceRecovered(device=device, was="failing"))
            self.back_at[device] = self.n + 1  # the core hears of it at the next step

    @rule(channel=st.sampled_from(PINNABLE), stale=st.booleans())
    def value_stale(self, channel: str, stale: bool) -> None:
        (self.plant.bad.add if stale else self.plant.bad.discard)(channel)

    @rule(flag=st.sampled_from(["drive.web_break", "drive.estop", "drive.drive_fault",
                                "press.overload"]), on=st.booleans())  # fmt: skip
    def status_flag(self, flag: str, on: bool) -> None:
        self.plant.flags[flag] = int(on)

    @rule(channel=st.sampled_from(PINNABLE), value=st.floats(-100.0, 60_000.0))
    def pin(self, channel: str, value: float) -> None:
        """A value that does not follow: an O2 leak, a zone not heating or running
        away, a tension collapsing, a load above the press's rating."""
        self.plant.pinned[channel] = value

    @rule(channel=st.sampled_from(PINNABLE))
    def unpin(self, channel: str) -> None:
        self.plant.pinned.pop(channel, None)

    @rule(follow=st.booleans())
    def process_follows(self, follow: bool) -> None:
        self.plant.follow = follow

    @rule(channel=st.sampled_from(sorted(SAFE) + [t.sets for t in PLAN.targets if t.sets]),
          refuse=st.booleans())  # fmt: skip
    def write_refused(self, channel: str, refuse: bool) -> None:
        (self.plant.refuse.add if refuse else self.plant.refuse.discard)(channel)

    @rule(channel=st.sampled_from([t.sets for t in PLAN.targets if t.sets]),
          value=st.floats(0, 1000), back=st.one_of(st.none(), st.floats(0, 1000)))  # fmt: skip
    def write_did_not_hold(self, channel: str, value: float, back: float | None) -> None:
        self.inbox.append(sup.WriteFailed(channel, value, "read back differs", back))

    # ------------------------------------------------------------ time
    @rule(steps=st.integers(1, 4), dt=st.sampled_from([0.0, 0.1, 1.0, 5.0, 30.0]))
    def time_passes(self, steps: int, dt: float) -> None:
        self.advance(steps, dt)

    @rule(steps=st.integers(1, 60), dt=st.sampled_from([60.0, 600.0]))
    def fast_forward(self, steps: int, dt: float) -> None:
        self.advance(steps, dt)

    @rule(back=st.one_of(st.floats(1e-9, 1e6), st.sampled_from([math.nan, math.inf, -math.inf])))
    def time_goes_back(self, back: float) -> None:
        now = self.now - back if math.isfinite(back) else back
        if self.core.last_now is None or (math.isfinite(now) and now >= self.core.last_now):
            return
        before = self.core
        try:
            sup.step(before, now, self.plant.sample(self.now), list(self.inbox))
        except InvalidArgument:
            pass
        else:
            raise AssertionError(f"now = {now!r} after {before.last_now!r} was taken")
        assert self.core is before

    @invariant()
    def settled(self) -> None:
        self.check_safe()

    def teardown(self) -> None:
        """A few more steps, so what the last rules did is judged too."""
        if hasattr(self, "core") and not self.broken:
            self.advance(ABORT_STEPS, 1.0)  # not after a failure: it is the news


Supervision.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestSupervision = Supervision.TestCase
