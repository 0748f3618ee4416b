"""Interlocks and faults against the real simulators (issue 9), each with its bound.

Every test runs a recipe with ``linecontrol.recording.run_recipe`` on the simulated
line (a child process on the same ``ScaledClock``, speed-up ``SPEEDUP``), waits for
Execute, injects a fault over the simulators' lifeline (``inject_faults``) and checks
what the supervisor did and how fast. The recipe (``data/fault-run.toml``) is 004
Example 1 with a 200 m run, so a fault injected in Execute lands in Execute.

How the bounds are counted. Acquisition polls each device at its configured rate in
real time (its period on the line clock is stretched by the speed-up), and the
supervisor steps once per sampled row. A spy around the pure ``core.step`` records
every step (its ``now``, the actions and events). The injection time is read from the
clock *before* the fault line is sent (the last one, where a test sends two), so a
measured latency is never shorter than the true one; the reaction is the first step
whose events show it. Latencies are given in poll periods of the device concerned
(``period_s`` of its poller, stretched); each test keeps what it measured as its
``measured`` property (``--junitxml``).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from linecontrol.config import DEFAULT_LINE, load_line
from linecontrol.model import (
    Abort,
    AlarmRaised,
    Event,
    InterlockTripped,
    SafeStateApplied,
    SetpointFailed,
    SetpointWritten,
    StateChanged,
)
from linecontrol.recording import RunOptions, RunResult, run_recipe
from linecontrol.recording.runner import RunHandle
from linecontrol.runlog import load_events
from linecontrol.runtime import clear_faults, inject_faults
from linecontrol.supervisor import core as sup_core

pytestmark = [pytest.mark.integration, pytest.mark.deadline(90)]

RECIPE = Path(__file__).parent / "data" / "fault-run.toml"
SPEEDUP = 1000.0
EXECUTE_DEADLINE_S = 40.0  # real seconds for the recipe to reach Execute
REACT_DEADLINE_S = 20.0  # real seconds for the supervisor to react to a fault
REQUEST_DEADLINE_S = 5.0
STANDBY_C = 50.0  # [supervisor] standby_temp_c of the shipped line
CURE_ZONES = tuple(f"zone_C{i:02d}" for i in range(1, 11))


@dataclass
class StepSeen:
    index: int
    now: float
    state: str
    actions: tuple[sup_core.Action, ...]
    events: tuple[Event, ...]
    seen: dict[str, float | None]  # the sample's GOOD value of each watched channel


@dataclass
class Trace:
    """What the spy and the script saw."""

    steps: list[StepSeen] = field(default_factory=list)
    injected_at: float = math.nan  # line clock, just before the last fault line went out
    injected_step: int = -1  # steps taken before the first fault line went out
    periods: dict[str, float] = field(default_factory=dict)  # device -> poll period
    row_s: float = math.nan  # the sampler's period: one supervisor step
    measured: list[str] = field(default_factory=list)
    watch: tuple[str, ...] = ()  # channels whose sample value each step keeps

    def first(self, pred: Callable[[StepSeen], bool]) -> StepSeen:
        for s in self.steps:
            if s.index >= self.injected_step and pred(s):
                return s
        trips = [
            f"{e.interlock}: {e.detail}"
            for s in self.steps
            for e in s.events
            if isinstance(e, InterlockTripped)
        ]
        raise AssertionError(
            f"no step after the injection matched; states {self.states()}, trips {trips}"
        )

    def states(self) -> list[str]:
        out: list[str] = []
        for s in self.steps:
            if not out or out[-1] != s.state:
                out.append(s.state)
        return out

    def periods_since(self, s: StepSeen, device: str, since: float | None = None) -> float:
        """Poll periods of ``device`` from the injection (or ``since``) to step ``s``;
        kept in ``measured`` (the test's junit property ``measured``)."""
        t0 = self.injected_at if since is None else since
        x = (s.now - t0) / self.periods[device]
        self.measured.append(f"{x:.2f} periods of {device}")
        return x


def tripped(name: str) -> Callable[[StepSeen], bool]:
    return lambda s: any(isinstance(e, InterlockTripped) and e.interlock == name for e in s.events)


def has_tripped(trace: Trace, name: str) -> bool:
    return any(tripped(name)(s) for s in trace.steps[trace.injected_step :])


def entered(*states: str) -> Callable[[StepSeen], bool]:
    return lambda s: any(isinstance(e, StateChanged) and e.new in states for e in s.events)


@pytest.fixture
def trace(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[Trace]:
    """A spy around the pure core's ``step`` (the shell calls it through the module)."""
    t = Trace()
    real = sup_core.step

    def spy(
        core: sup_core.Core, now: float, sample: Any, inputs: Sequence[sup_core.Input] = ()
    ) -> tuple[sup_core.Core, tuple[sup_core.Action, ...], tuple[Event, ...]]:
        out = real(core, now, sample, inputs)
        seen = {ch: sample.good(ch) for ch in t.watch}
        t.steps.append(
            StepSeen(len(t.steps), now, out[0].machine.state.label, out[1], out[2], seen)
        )
        return out

    monkeypatch.setattr(sup_core, "step", spy)
    yield t
    request.node.user_properties.append(("measured", "; ".join(t.measured)))


async def until(h: RunHandle, pred: Callable[[], bool], deadline_s: float, what: str) -> None:
    """Until ``pred()`` holds after a supervisor step, within ``deadline_s`` real seconds."""
    try:
        async with asyncio.timeout(deadline_s):
            await h.supervisor.wait_for(lambda _s: pred())
    except TimeoutError:
        raise AssertionError(f"{what}: not within {deadline_s:g} s") from None


Injection = tuple[str, dict[str, Any]]


def fault_script(
    trace: Trace,
    faults: Sequence[Injection],
    *,
    reacted: Callable[[RunHandle], bool],
    then: Callable[[RunHandle], Coroutine[Any, Any, None]] | None = None,
) -> Callable[[RunHandle], Coroutine[Any, Any, None]]:
    """A run script: wait for Execute, inject ``faults`` (in order), wait until
    ``reacted``, then run ``then`` (clear the fault so the line can stop, ...)."""

    async def script(h: RunHandle) -> None:
        await until(h, lambda: h.supervisor.state.label == "Execute", EXECUTE_DEADLINE_S,
                    "the run reaching Execute")  # fmt: skip
        acq = h.supervisor.acq
        trace.periods = {n: p.period_s for n, p in acq.pollers.items()}
        trace.row_s = acq.rate_factor / acq.sample_hz
        assert h.sim is not None
        trace.injected_step = len(trace.steps)
        for device, f in faults:
            # Latencies count from the last fault line (the one a test measures), read
            # just before it goes out.
            trace.injected_at = h.clock.monotonic()
            await inject_faults(h.sim, device, f, REQUEST_DEADLINE_S)
        await until(h, lambda: reacted(h), REACT_DEADLINE_S, "the supervisor's reaction")
        if then is not None:
            await then(h)

    return script


def clear(*devices: str) -> Callable[[RunHandle], Coroutine[Any, Any, None]]:
    async def then(h: RunHandle) -> None:
        assert h.sim is not None
        for d in devices:
            await clear_faults(h.sim, d, REQUEST_DEADLINE_S)

    return then


async def run(
    script: Callable[[RunHandle], Coroutine[Any, Any, None]], tmp_path: Path
) -> RunResult:
    line = load_line(DEFAULT_LINE)
    opts = RunOptions(
        config=DEFAULT_LINE, line=line, recipe=RECIPE, data_dir=tmp_path, sim=True,
        speedup=SPEEDUP, deadline_s=EXECUTE_DEADLINE_S + 2 * REACT_DEADLINE_S, script=script,
    )  # fmt: skip
    return await run_recipe(opts)


def logged(result: RunResult, kind: type[Event]) -> list[Any]:
    return [e.event for e in load_events(result.run_dir).events if isinstance(e.event, kind)]


def state_is(*labels: str) -> Callable[[RunHandle], bool]:
    return lambda h: h.supervisor.state.label in labels


# ------------------------------------------------------------------ device loss
@pytest.mark.parametrize("device", ["zone_C07", "coater_1", "press"])
async def test_loss_of_a_needed_device_holds_within_three_of_its_poll_periods(
    device: str, trace: Trace, tmp_path: Path
) -> None:
    """Bound: Hold (the step entering Holding) within 3 poll periods of the lost
    device from the injection. A zone on the RS-485 bus (1 Hz), a coater (5 Hz) and the
    press (10 Hz) on Modbus TCP; each answers nothing from the injection on. The
    supervisor's watchdog holds at the first row on which the device's newest answer is
    older than its stale time (3 periods) less one row, so that row comes within 3
    periods of the last answer, which is before the injection (a poll answered just
    after the fault line was sent, before the simulator read it, counts from the
    injection all the same: the bound is from there). A poll that times out first
    (the zone's timeout is shorter than 2 of its periods) holds it sooner."""
    script = fault_script(
        trace, [(device, {"no_reply": True})], reacted=state_is("Holding", "Held"),
        then=clear(device),  # back, so that the line can stop (the nip's state is known)
    )  # fmt: skip
    result = await run(script, tmp_path)
    hold = trace.first(entered("Holding"))
    assert any(
        isinstance(e, InterlockTripped) and e.interlock == "device_lost" and device in e.detail
        for e in hold.events
    ), hold.events
    periods = trace.periods_since(hold, device)
    assert periods <= 3.0, f"Hold {periods:.2f} poll periods of {device} after the injection"
    assert result.final_state == "Stopped" and "device_lost" in result.first_out


# ------------------------------------------------------------------ O2
O2 = "o2_cure.o2_ppm"
CURE_SP = tuple(f"{z}.temp_sp_c" for z in CURE_ZONES)


def standby_writes_after(trace: Trace, s: StepSeen) -> set[str]:
    """The cure zone setpoints written to standby from step ``s`` on."""
    return {
        a.channel for t in trace.steps[s.index:] for a in t.actions
        if isinstance(a, sup_core.Write) and a.channel in CURE_SP and a.value == STANDBY_C
    }  # fmt: skip


async def test_o2_above_the_limit_in_cure_alarms_then_holds_with_the_cure_heaters_at_standby(
    trace: Trace, tmp_path: Path
) -> None:
    """A leak into the cure oven (N2 at 350 slm, 0.05 m³/min of air: O2 settles near
    26,000 ppm). Bound: the O2 alarm is raised at the first step whose sample is above
    its limit (its on-delay is under one poll period of o2_cure); the trip (above
    ``o2_trip_ppm`` for ``o2_trip_delay_s``) holds within one poll period of o2_cure
    after the first sample above the trip limit, and every cure zone's setpoint is
    written to standby from the trip's step on."""
    line = load_line(DEFAULT_LINE)
    trip_ppm = line.supervisor.o2_trip_ppm
    trace.watch = (O2,)
    script = fault_script(
        trace, [("o2_cure", {"o2_leak_m3_min": 0.05})], reacted=state_is("Held"),
        then=clear("o2_cure"),
    )  # fmt: skip
    result = await run(script, tmp_path)
    above = trace.first(lambda s: (s.seen[O2] or 0.0) > trip_ppm)
    trip = trace.first(tripped("o2_trip"))
    assert trip.state == "Holding", trip.state
    assert trace.periods_since(trip, "o2_cure", since=above.now) <= 1.0
    raised = [e for e in logged(result, AlarmRaised) if e.alarm.startswith("o2_cure")]
    assert raised, "no O2 alarm raised"
    alarm_step = trace.first(
        lambda s: any(isinstance(e, AlarmRaised) and e.alarm.startswith("o2_cure")
                      for e in s.events)
    )  # fmt: skip
    assert alarm_step.index <= trip.index
    assert standby_writes_after(trace, trip) == set(CURE_SP)
    assert result.final_state == "Stopped"


async def test_a_stuck_o2_cell_counts_as_the_worst_case_never_as_its_low_reading(
    trace: Trace, tmp_path: Path
) -> None:
    """The analyzer's cell sticks at its last reading (a few ppm; its sensor_fail flag
    set) while air leaks in. Bound: the O2 trip (Hold, every cure heater to standby)
    within 2 poll periods of o2_cure from the injection (the flag at its next poll;
    the trip delay is under one period)."""
    trace.watch = (O2,)
    script = fault_script(
        trace, [("o2_cure", {"stuck_sensor": True, "o2_leak_m3_min": 0.05})],
        reacted=lambda h: has_tripped(trace, "o2_trip"), then=clear("o2_cure"),
    )  # fmt: skip
    result = await run(script, tmp_path)
    trip = trace.first(tripped("o2_trip"))
    assert trip.state == "Holding", trip.state
    assert (trip.seen[O2] or 0.0) < 200.0  # the reading still low: the flag told
    assert trace.periods_since(trip, "o2_cure") <= 2.0
    assert standby_writes_after(trace, trip) == set(CURE_SP)
    assert result.final_state == "Stopped"


async def test_a_silent_o2_analyzer_holds_the_line_within_three_of_its_poll_periods(
    trace: Trace, tmp_path: Path
) -> None:
    """The analyzer answers nothing: its reading is never taken as a value (the line
    holds on its loss before the reading even turns STALE). Bound: Hold within 3 poll
    periods of o2_cure from the injection."""
    trace.watch = (O2,)
    script = fault_script(
        trace, [("o2_cure", {"no_reply": True})], reacted=state_is("Holding", "Held"),
        then=clear("o2_cure"),
    )  # fmt: skip
    result = await run(script, tmp_path)
    hold = trace.first(entered("Holding"))
    assert trace.periods_since(hold, "o2_cure") <= 3.0
    assert "o2_cure" in result.first_out
    assert result.final_state == "Stopped"


# ------------------------------------------------------------------ heaters
async def test_a_zone_that_fails_to_heat_goes_to_its_safe_setpoint_and_the_line_holds(
    trace: Trace, tmp_path: Path
) -> None:
    """Failure to heat (``heater_failure`` cuts the heater; the runaway, with
    ``heater_stuck_on``, is the next test). zone_C07 at 350 °C loses its heater and
    cools. Bound: from the first sample where the zone is ``heat_check_below_c``
    under its working setpoint with its output at ``heat_check_output_pct`` or more,
    the zone's setpoint goes to standby and the line holds at the first step after
    the check's window: ``heat_check_time_s`` or, at a speed-up, 3 poll periods of
    the zone (the core's HEAT_CHECK_POLLS: a reading held between two polls is no
    zone failing to gain)."""
    line = load_line(DEFAULT_LINE)
    s = line.supervisor
    pv, wsp, out = "zone_C07.temp_pv_c", "zone_C07.working_sp_c", "zone_C07.output_pct"
    trace.watch = (pv, wsp, out)
    script = fault_script(
        trace, [("zone_C07", {"heater_failure": True})], reacted=state_is("Held"),
        then=clear("zone_C07"),
    )  # fmt: skip
    result = await run(script, tmp_path)

    def failing(st: StepSeen) -> bool:
        p, w, o = st.seen[pv], st.seen[wsp], st.seen[out]
        if p is None or w is None or o is None:
            return False
        return w - p > s.heat_check_below_c and o >= s.heat_check_output_pct

    first = trace.first(failing)
    trip = trace.first(tripped("heater_failed"))
    assert trip.state == "Holding"
    window = max(s.heat_check_time_s, 3 * trace.periods["zone_C07"])
    limit = trace.first(lambda st: st.now - first.now >= window)
    after = trace.periods_since(trip, "zone_C07", since=first.now)
    assert trip.index <= limit.index, after
    assert any(
        isinstance(a, sup_core.Write) and a.channel == "zone_C07.temp_sp_c" and a.value == STANDBY_C
        for t in trace.steps[trip.index:] for a in t.actions
    )  # fmt: skip
    assert result.final_state == "Stopped"


async def test_a_heater_stuck_on_trips_the_runaway_interlock_and_alarms(
    trace: Trace, tmp_path: Path
) -> None:
    """``heater_stuck_on`` (a welded SSR): zone_C07 at 350 °C gets full heater power
    whatever its controller asks (its output reads the PI loop's 0 %) and climbs
    toward 505 °C. Bound: from the first step whose sample shows the zone above its
    (working) setpoint by ``runaway_margin_c``, the interlock trips at the
    ``runaway_cycles``-th step that sees it there and still heating: with the output
    at 0 % only a new, higher reading counts, and a reading changes once per poll of
    the zone, so within ``runaway_cycles - 1`` poll periods of the zone, plus how much
    later the next poll's answer may land than the crossing one's (its transaction,
    under the zone's ``timeout_s``: half a period at 1 Hz; polls are due at a fixed
    rate), plus the sampled row that sees it. The zone's setpoint goes to standby,
    the line holds, and the trip is an alarm event in the run log, as is the zone's
    shipped high-high alarm (the zone passes 445 °C: stuck on, it climbs at standby
    too). At this speed-up a poll period is 1000 s of process, so the first new
    reading can already be above 445 °C and the alarm's own Hold come first: the trip
    is then taken in Holding or Held."""
    line = load_line(DEFAULT_LINE)
    s = line.supervisor
    zone = "zone_C07"
    pv, wsp = f"{zone}.temp_pv_c", f"{zone}.working_sp_c"
    hh = line.alarms[f"{zone}_temp_hh"]
    trace.watch = (pv, wsp)

    def runaway(h: RunHandle) -> bool:
        return has_tripped(trace, "heater_runaway") and h.supervisor.state.label == "Held"

    def hh_raised() -> bool:
        return any(
            isinstance(e, AlarmRaised) and e.alarm == f"{zone}_temp_hh"
            for st in trace.steps for e in st.events
        )  # fmt: skip

    async def then(h: RunHandle) -> None:
        await until(h, hh_raised, REACT_DEADLINE_S, "the zone's high-high alarm")
        await clear(zone)(h)

    script = fault_script(
        trace, [(zone, {"heater_stuck_on": True})], reacted=runaway, then=then
    )  # fmt: skip
    result = await run(script, tmp_path)

    def above(st: StepSeen) -> bool:
        p, w = st.seen[pv], st.seen[wsp]
        sp = 350.0  # zone C07's setpoint in the recipe
        return p is not None and p > max(sp, w or sp) + s.runaway_margin_c

    first = trace.first(above)
    trip = trace.first(tripped("heater_runaway"))
    (ev,) = [e for e in trip.events if isinstance(e, InterlockTripped)
             and e.interlock == "heater_runaway"]  # fmt: skip
    assert ev.detail == zone and ev.action == "hold" and ev.is_alarm
    assert trip.state in ("Holding", "Held"), trip.state
    periods = trace.periods_since(trip, zone, since=first.now)
    timeout_periods = line.devices[zone].timeout_s * line.devices[zone].poll_hz
    bound = (s.runaway_cycles - 1) + timeout_periods + trace.row_s / trace.periods[zone]
    assert periods <= bound, f"trip {periods:.2f} poll periods of {zone} after the crossing"
    trace.periods_since(trip, zone)  # from the injection, for the record
    assert any(
        isinstance(a, sup_core.Write) and a.channel == f"{zone}.temp_sp_c" and a.value == STANDBY_C
        for t in trace.steps[trip.index:] for a in t.actions
    )  # fmt: skip
    assert "Held" in trace.states()[trace.states().index("Execute") :]
    assert any(e.interlock == "heater_runaway" for e in logged(result, InterlockTripped))
    assert hh.limit is not None
    assert max(st.seen[pv] or 0.0 for st in trace.steps) > hh.limit
    assert any(e.alarm == f"{zone}_temp_hh" for e in logged(result, AlarmRaised))
    assert result.final_state == "Stopped"


# ------------------------------------------------------------------ web break
def safe_channels(line: Any) -> set[str]:
    """What the coordinated stop must write: drives stopped, nips open, heaters to
    standby, coater pumps and sputter power off."""
    per_model = {
        "line_drive": ("speed_sp_m_min", "run_cmd"),
        "press": ("nip_cmd", "roll_load_sp_kg", "top_temp_sp_c", "bottom_temp_sp_c"),
        "coater": ("pump_run_cmd",),
        "dc_psu": ("output",),
        "oven_zone": ("temp_sp_c", "output_enable"),
    }
    return {f"{n}.{ch}" for n, d in line.devices.items() for ch in per_model.get(d.model, ())}


def safe_state_step(trace: Trace, why: str) -> tuple[StepSeen, sup_core.ApplySafeState]:
    st = trace.first(
        lambda s: any(isinstance(a, sup_core.ApplySafeState) and a.why == why for a in s.actions)
    )
    a = next(a for a in st.actions if isinstance(a, sup_core.ApplySafeState) and a.why == why)
    return st, a


def read_back(result: RunResult) -> dict[str, float]:
    """The last verified value of every channel written in the run."""
    return {f"{e.device}.{e.channel}": e.read_back for e in logged(result, SetpointWritten)}


@pytest.mark.parametrize("refusing", [None, "coater_1"], ids=["all-answer", "a-coater-refuses"])
async def test_a_web_break_is_a_coordinated_stop_in_one_step(
    refusing: str | None, trace: Trace, tmp_path: Path
) -> None:
    """Bound: the step that sees the drive's web-break flag trips the interlock and
    writes the whole safe state (every drive stopped, the nip open, the heaters to
    standby, the coater pumps and the sputter power off) in that same step, within 2.5
    poll periods of the drive from the break's injection (its next poll, up to 1
    period, that poll's own transaction, under half a period, then the next sampled
    row, up to 1 period: the drive's rate is the sampler's); the web position is
    logged with the trip. With a coater refusing every request (Modbus exception 4 at
    its pump register, injected first), every other device still takes its safe
    writes and the coater is reported."""
    line = load_line(DEFAULT_LINE)
    faults: list[Injection] = []
    if refusing:
        faults.append((refusing, {"exception_addresses": {0: 4}}))
    faults.append(("drive", {"web_break": True}))
    script = fault_script(
        trace, faults, reacted=state_is("Stopped", "Aborted"),
    )  # fmt: skip
    result = await run(script, tmp_path)
    trip_step = trace.first(tripped("web_break"))
    st, action = safe_state_step(trace, "web break")
    assert st.index == trip_step.index, "the safe state was not written in the trip's step"
    assert trace.periods_since(st, "drive") <= 2.5
    want = safe_channels(line)
    assert {w.channel for w in action.writes} >= want
    trip = next(e for e in trip_step.events if isinstance(e, InterlockTripped)
                and e.interlock == "web_break")  # fmt: skip
    assert trip.web_position_m is not None and math.isfinite(trip.web_position_m)
    (applied,) = [e for e in logged(result, SafeStateApplied) if e.why == "web break"]
    back = read_back(result)
    values = {w.channel: w.value for w in action.writes}
    answering = {ch for ch in want if refusing is None or not ch.startswith(refusing + ".")}
    for ch in sorted(answering):
        assert back.get(ch) == pytest.approx(values[ch], abs=0.01), ch
    if refusing is None:
        assert applied.failed == ()
    else:
        assert applied.failed == (refusing,)
        assert refusing not in applied.answered
        assert any(
            e.device == refusing and e.channel == "pump_run_cmd"
            for e in logged(result, SetpointFailed)
        )
    assert {ch.split(".")[0] for ch in answering} <= set(applied.answered)
    assert result.final_state == "Stopped"


# ------------------------------------------------------------------ press
async def test_a_press_overload_above_its_rating_opens_the_nip_and_aborts(
    trace: Trace, tmp_path: Path
) -> None:
    """``press_overload``: the press shows 42,000 kg (its relief's trip), above the
    station's 40,000 kg rating: high-high, Abort; the safe state opens the nip. Bound:
    Aborting within 2.5 poll periods of the press from the injection (as the web break:
    its next poll, that poll's transaction, the next row). The overload below the
    rating (Hold) has no fault in the simulators: the forced overload always reads
    above the rating (tests/unit/test_supervisor_core.py covers the Hold)."""
    script = fault_script(
        trace, [("press", {"press_overload": True})], reacted=state_is("Aborted"),
    )  # fmt: skip
    result = await run(script, tmp_path)
    abort = trace.first(entered("Aborting"))
    assert any(
        isinstance(e, InterlockTripped)
        and e.interlock == "press_overload_hh"
        and e.action == "abort"
        for e in abort.events
    ), abort.events
    assert trace.periods_since(abort, "press") <= 2.5
    _, action = safe_state_step(trace, "abort")
    assert {"press.nip_cmd", "press.roll_load_sp_kg"} <= {w.channel for w in action.writes}
    assert read_back(result)["press.nip_cmd"] == 0.0
    assert result.final_state == "Aborted"


# ------------------------------------------------------------------ abort
async def test_abort_from_execute_reaches_the_safe_state_on_every_device_that_answers(
    trace: Trace, tmp_path: Path
) -> None:
    """coater_2 stops answering; the operator aborts at once. Bound: the step that
    takes the Abort writes the safe state to every device (in that step), every device
    that answers reads its safe values back, and coater_2 is reported as not answering
    (after its write deadline)."""
    line = load_line(DEFAULT_LINE)

    async def abort(h: RunHandle) -> None:
        h.supervisor.submit(Abort(by="test", request_id="t-abort", at=h.clock.wall(),
                                  reason="test"))  # fmt: skip
        await until(h, lambda: h.supervisor.state.label == "Aborted", REACT_DEADLINE_S,
                    "Aborted")  # fmt: skip

    script = fault_script(trace, [("coater_2", {"no_reply": True})], reacted=lambda h: True,
                          then=abort)  # fmt: skip
    result = await run(script, tmp_path)
    st = trace.first(entered("Aborting"))
    st2, action = safe_state_step(trace, "abort")
    assert st2.index == st.index
    want = safe_channels(line)
    assert {w.channel for w in action.writes} >= want
    (applied,) = [e for e in logged(result, SafeStateApplied) if e.why == "abort"]
    assert applied.failed == ("coater_2",)
    back = read_back(result)
    values = {w.channel: w.value for w in action.writes}
    for ch in sorted(c for c in want if not c.startswith("coater_2.")):
        assert back.get(ch) == pytest.approx(values[ch], abs=0.01), ch
    assert {c.split(".")[0] for c in want} - {"coater_2"} <= set(applied.answered)
    assert result.final_state == "Aborted"
