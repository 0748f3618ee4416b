"""The supervisor core, pure: table-driven and step by step, without an event loop.

A tiny in-test plant (``tests/supervision_plant.py``) answers the core's writes at once
and moves its process values to their setpoints (or not, when a test says so), so each
test reads as the sequence of a line: load, reset, start, the steps of Starting,
Execute, the end, and the faults.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pytest

from linecontrol.model import (
    Abort,
    ChangeSetpoint,
    Clear,
    CommandGiven,
    CommandRejected,
    DeviceFailed,
    DeviceRecovered,
    Event,
    Hold,
    InterlockCleared,
    InterlockTripped,
    RecipeLoaded,
    Reset,
    SafeStateApplied,
    SequenceStepped,
    SetMode,
    SetpointFailed,
    Start,
    StateChanged,
    Stop,
    Unhold,
)
from linecontrol.supervisor import core as sup
from tests.supervision_plant import LINE, Plant, Run


def states(events: Sequence[Event]) -> list[str]:
    return [e.new for e in events if isinstance(e, StateChanged)]


# ------------------------------------------------------------------ boot and commands
def test_boots_stopped_or_aborted() -> None:
    assert Run.boot().state == "Stopped"
    assert Run.boot(clean=False).state == "Aborted"


def test_reset_without_a_recipe_is_refused_and_changes_nothing() -> None:
    r = Run.boot()
    events = r.step(Reset(by="ana", request_id="r1"))
    assert r.state == "Stopped"
    rejected = [e for e in events if isinstance(e, CommandRejected)]
    assert len(rejected) == 1 and "no recipe" in rejected[0].reason


def test_reset_and_start_are_offered_only_with_a_recipe_loaded() -> None:
    """The buttons agree with what the supervisor takes: no recipe, no Reset or Start
    offered (both refused "no recipe is loaded"); once one is loaded, Reset is."""
    r = Run.boot()
    assert not {"reset", "start"} & sup.allowed_commands(r.core)
    events = r.step(Start(by="ana", request_id="s1"))
    (rejected,) = [e for e in events if isinstance(e, CommandRejected)]
    assert "no recipe is loaded" in rejected.reason and r.state == "Stopped"
    r = Run.boot().loaded()
    assert "reset" in sup.allowed_commands(r.core)
    r.step(Reset(by="ana", request_id="r1"))
    r.until("Idle")
    assert "start" in sup.allowed_commands(r.core)


def test_a_loaded_recipe_is_logged_with_its_hash() -> None:
    r = Run.boot().loaded()
    (loaded,) = r.of(RecipeLoaded)
    assert isinstance(loaded, RecipeLoaded) and len(loaded.sha256) == 64
    assert loaded.recipe == "001-ex1"


def test_the_same_request_twice_acts_once() -> None:
    r = Run.boot().loaded()
    r.step(Reset(by="ana", request_id="r1"), Reset(by="ana", request_id="r1"))
    given = [e for e in r.events if isinstance(e, CommandGiven) and e.command.name == "reset"]
    assert len(given) == 1
    assert not r.of(CommandRejected)


# ------------------------------------------------------------------ the sequence
def test_a_run_goes_from_stopped_to_complete_through_every_step() -> None:
    r = Run.boot().executing()
    # Starting's steps, in order, and the purge before any cure zone passed the gate.
    steps = [e.step for e in r.of(SequenceStepped)]
    assert steps[:1] == ["heat"]
    assert steps.index("purged cure_oven") < steps.index("tension") < steps.index("nip")
    assert steps.index("nip") < steps.index("run")
    r.until("Complete", 5000)
    assert states(r.events) == [
        "Stopped", "Resetting", "Idle", "Starting", "Execute", "Completing", "Complete",
    ]  # fmt: skip
    # Completing put the heaters to standby and the web stopped.
    assert r.plant.values["zone_C07.temp_sp_c"] == LINE.supervisor.standby_temp_c
    assert r.plant.values["drive.run_cmd"] == 0.0


def test_no_cure_zone_passes_the_gate_before_the_purge() -> None:
    r = Run.boot().loaded()
    r.step(Reset(by="ana", request_id="r1"))
    r.until("Idle")
    r.step(Start(by="ana", request_id="s1"))
    gate = LINE.supervisor.purge_gate_c
    purged_at = None
    for _ in range(2000):
        r.step()
        if any(getattr(e, "step", "") == "purged cure_oven" for e in r.events):
            purged_at = r.now
            break
        for z in ("C05", "C06", "C07", "C10"):
            assert r.plant.values[f"zone_{z}.temp_sp_c"] <= gate
    assert purged_at is not None and purged_at >= LINE.supervisor.purge_time_s


def test_the_nip_closes_only_at_temperature() -> None:
    r = Run.boot().loaded()
    r.plant.follow = False  # nothing heats
    r.step(Reset(by="ana", request_id="r1"))
    r.until("Idle")
    r.step(Start(by="ana", request_id="s1"))
    for _ in range(100):
        r.step()
    assert r.plant.values["press.nip_cmd"] == 0.0
    assert r.core.step_name == "heat"
    assert any("press.top_temp_pv_c" in w for w in r.core.waiting_for)


def test_readiness_timeout_ends_the_start_with_its_reason() -> None:
    r = Run.boot().loaded()
    r.plant.follow = False
    r.step(Reset(by="ana", request_id="r1"))
    r.until("Idle")
    r.step(Start(by="ana", request_id="s1"))
    plan = r.core.plan
    assert plan is not None
    r.dt = 60.0
    for _ in range(int(plan.readiness_timeout_s / 60) + 3):
        r.step()
    assert r.state in ("Held", "Holding", "Stopping", "Stopped")
    assert "readiness_timeout" in r.core.machine.first_out
    assert "temp_pv_c" in r.core.machine.first_out


def test_the_run_ends_after_its_length() -> None:
    r = Run.boot().executing()
    start = r.core.run_start_m
    assert start is not None
    r.until("Completing", 5000)
    assert r.plant.values["drive.web_position_m"] - start >= 10.0


# ------------------------------------------------------------------ operator setpoints
def test_a_setpoint_inside_the_band_is_taken_outside_refused() -> None:
    r = Run.boot().executing()
    ok = ChangeSetpoint(by="ana", request_id="c1", field="press.roll_load_kg", value=1520.0)
    far = ChangeSetpoint(by="ana", request_id="c2", field="press.roll_load_kg", value=1600.0)
    nan = ChangeSetpoint(by="ana", request_id="c3", field="web.speed_m_min", value=0.205)
    r.step(ok, far)
    for _ in range(200):
        r.step()
    assert r.plant.values["press.roll_load_sp_kg"] == pytest.approx(1520.0)
    reasons = [e.reason for e in r.of(CommandRejected)]
    assert len(reasons) == 1 and "band" in reasons[0]
    r.step(nan)
    assert r.plant.values["drive.speed_sp_m_min"] <= 0.21


def test_a_manual_value_outside_the_station_rating_is_refused() -> None:
    # Found by test_supervisor_stateful: Manual mode checked the register's range only
    # (0..500 slm on an MFC whose oven takes 200; a PSU without registers: anything).
    r = Run.boot()
    r.step(SetMode(by="ana", request_id="m1", mode="manual"))
    too_much = [("n2_dryer_1.flow_sp_slm", 401.0), ("sputter_psu.power_sp_kw", 25.0)]
    for i, (channel, value) in enumerate(too_much):
        r.step(ChangeSetpoint(by="ana", request_id=f"c{i}", field=channel, value=value))
    reasons = [e.reason for e in r.of(CommandRejected)]
    assert len(reasons) == 2 and all("equipment limit" in why for why in reasons)
    r.step(ChangeSetpoint(by="ana", request_id="ok", field="n2_dryer_1.flow_sp_slm", value=150.0))
    r.step()
    assert r.plant.values["n2_dryer_1.flow_sp_slm"] == 150.0


def test_an_abort_with_the_id_of_an_earlier_reset_is_not_lost() -> None:
    # Found by the hostile review: a client that restarts its request counter.
    r = Run.boot().loaded()
    r.step(Reset(by="ana", request_id="r1"))
    r.until("Idle")
    r.step(Abort(by="ana", request_id="r1"))
    assert r.state == "Aborting"


# ------------------------------------------------------------------ interlocks
def tripped(r: Run) -> list[str]:
    return [e.interlock for e in r.of(InterlockTripped)]


def test_losing_a_needed_device_holds_the_line() -> None:
    r = Run.boot().executing()
    r.step(DeviceFailed(device="zone_C07", state="failing", error="timeout"))
    assert r.state in ("Holding", "Held")
    assert "device_lost" in tripped(r)
    r.until("Held")
    # No Unhold while the device is away.
    r.step(Unhold(by="ana", request_id="u1"))
    assert r.state == "Held"


def test_a_stale_value_of_a_needed_device_holds_the_line() -> None:
    r = Run.boot().executing()
    r.plant.bad.add("press.roll_load_pv_kg")
    r.step()
    assert r.state in ("Holding", "Held") and "device_lost" in r.core.machine.first_out


@pytest.mark.parametrize("device", ["press", "zone_C07"])
def test_a_silent_needed_device_holds_a_row_before_it_would_turn_stale(device: str) -> None:
    """The watchdog: a needed device whose newest answer is older than its stale time
    (3 poll periods) less one row holds the line at that row, so the Hold comes within
    3 of its poll periods of its last answer; one row earlier it does not."""
    row = 0.1
    r = Run.boot(row_s=row).executing()
    r.dt = row
    period = LINE.devices[device].period_s
    r.plant.silent[device] = last = r.now
    limit = 3 * period - row
    while r.now + r.dt - last < limit - 1e-6:
        r.step()
        assert r.state == "Execute", f"held {r.now - last:.2f} s after the last answer"
    for _ in range(2):  # the row on the limit (float rounding decides) or the next
        if r.step() and r.state != "Execute":
            break
    assert r.state in ("Holding", "Held"), r.state
    assert r.now - last <= 3 * period + 1e-9
    assert any(
        e.interlock == "device_lost" and f"{device} silent" in e.detail
        for e in r.of(InterlockTripped)
    )


def test_web_break_from_the_drive_flag_stops_every_device_in_one_step() -> None:
    r = Run.boot().executing()
    r.plant.refuse.add("coater_1.pump_run_cmd")  # one device refuses: the others still stop
    r.plant.flags["drive.web_break"] = 1
    events = r.step()
    assert states(events) == ["Stopping"]
    safe = [e for e in r.events if isinstance(e, SafeStateApplied)]
    assert not safe  # answered at the next step
    r.step()
    (applied,) = r.of(SafeStateApplied)
    assert isinstance(applied, SafeStateApplied) and applied.failed == ("coater_1",)
    v = r.plant.values
    assert v["drive.run_cmd"] == 0.0 and v["press.nip_cmd"] == 0.0
    assert v["coater_2.pump_run_cmd"] == 0.0 and v["sputter_psu.output"] == 0.0
    assert v["zone_C07.temp_sp_c"] == LINE.supervisor.standby_temp_c
    trip = r.of(InterlockTripped)[0]
    assert trip.web_position_m is not None


def test_web_break_from_tension_collapse_after_n_cycles() -> None:
    r = Run.boot().executing()
    n = LINE.supervisor.web_break_cycles
    r.plant.follow = False
    r.plant.values["drive.rewind_tension_pv_n"] = 5.0
    for _ in range(n - 1):
        r.step()
        assert r.state == "Execute"
    r.step()
    assert r.state == "Stopping" and "web_break" in r.core.machine.first_out


def test_o2_trip_holds_with_the_cure_heaters_at_standby() -> None:
    r = Run.boot().executing()
    r.plant.follow = False
    r.plant.values["o2_cure.o2_ppm"] = 5000.0
    delay = LINE.supervisor.o2_trip_delay_s
    for _ in range(int(delay / r.dt) + 2):
        r.step()
    assert r.state in ("Holding", "Held") and "o2_trip" in r.core.machine.first_out
    r.step()
    assert r.plant.values["zone_C07.temp_sp_c"] == LINE.supervisor.standby_temp_c
    assert r.plant.values["zone_D1-1.temp_sp_c"] == 80.0  # the dryers stay at temperature


def test_a_failed_o2_analyzer_is_the_worst_case_never_zero() -> None:
    r = Run.boot().executing()
    r.plant.bad.add("o2_cure.o2_ppm")
    r.plant.values["o2_cure.o2_ppm"] = 0.0  # its last value says 0 ppm: never believed
    for _ in range(int(LINE.supervisor.o2_trip_delay_s / r.dt) + 2):
        r.step()
    assert "o2_trip" in tripped(r)


def test_an_o2_analyzer_flagging_its_cell_failed_is_the_worst_case_whatever_it_reads() -> None:
    r = Run.boot().executing()
    r.plant.pinned["o2_cure.status"] = 1.0  # sensor_fail (bit 0); the reading stays 20 ppm
    for _ in range(int(LINE.supervisor.o2_trip_delay_s / r.dt) + 2):
        r.step()
    assert r.plant.values["o2_cure.o2_ppm"] == 20.0
    assert "o2_trip" in tripped(r) and r.state in ("Holding", "Held")


def test_a_zone_cooling_to_a_lower_setpoint_is_no_runaway() -> None:
    r = Run.boot().executing()
    r.plant.follow = False
    r.plant.values["zone_C08.temp_pv_c"] = 350.0 + LINE.supervisor.runaway_margin_c + 1
    r.plant.values["zone_C08.output_pct"] = 0.0  # heater off: it is cooling
    for _ in range(LINE.supervisor.runaway_cycles + 3):
        r.step()
    assert "heater_runaway" not in tripped(r)


def test_heater_runaway_puts_the_zone_to_standby_and_holds() -> None:
    r = Run.boot().executing()
    r.plant.follow = False
    r.plant.values["zone_C08.temp_pv_c"] = 350.0 + LINE.supervisor.runaway_margin_c + 1
    r.plant.values["zone_C08.output_pct"] = 100.0  # the heater's relay stuck on
    for _ in range(LINE.supervisor.runaway_cycles):
        r.step()
    assert "heater_runaway" in tripped(r)
    r.step()
    assert r.plant.values["zone_C08.temp_sp_c"] == LINE.supervisor.standby_temp_c


def test_failure_to_heat_is_caught_by_the_gain_check() -> None:
    r = Run.boot().executing()
    r.plant.follow = False
    s = LINE.supervisor
    r.plant.values["zone_C09.temp_pv_c"] = 300.0  # fell out: reads far under its setpoint
    r.plant.values["zone_C09.output_pct"] = 100.0
    for _ in range(int(s.heat_check_time_s / r.dt) + 2):
        r.step()
    assert "heater_failed" in tripped(r)


def test_press_overload_opens_the_nip_and_holds_above_rating_aborts() -> None:
    r = Run.boot().executing()
    r.plant.flags["press.overload"] = 1
    r.step()
    assert r.state in ("Holding", "Held") and "press_overload" in r.core.machine.first_out
    r.step()
    assert r.plant.values["press.nip_cmd"] == 0.0
    r2 = Run.boot().executing()
    r2.plant.follow = False
    r2.plant.values["press.roll_load_pv_kg"] = 40001.0
    r2.step()
    assert r2.state == "Aborting"


def test_a_press_above_its_rating_trips_once_and_stays_active() -> None:
    # Found by test_supervisor_stateful: the key kept active differed from the key
    # tripped, so the trip was cleared in the step it tripped and raised again at the
    # next (an InterlockTripped/InterlockCleared pair every step, nothing active).
    r = Run.boot().executing()
    r.plant.follow = False
    r.plant.values["press.roll_load_pv_kg"] = 40001.0
    for _ in range(5):
        r.step()
    assert tripped(r).count("press_overload_hh") == 1
    assert not [e for e in r.of(InterlockCleared) if e.interlock == "press_overload_hh"]
    assert any(k.startswith("press_overload_hh:") for k in r.core.active)
    assert r.state == "Aborted"


def test_estop_aborts_and_clear_waits_for_its_reset() -> None:
    r = Run.boot().executing()
    r.plant.flags["drive.estop"] = 1
    r.step()
    assert r.state == "Aborting"
    r.until("Aborted")
    r.step(Clear(by="ana", request_id="c1"))
    for _ in range(5):
        r.step()
    assert r.state == "Clearing"
    r.plant.flags["drive.estop"] = 0
    r.until("Stopped")


def test_a_write_that_does_not_hold_after_its_retry_holds_the_line() -> None:
    r = Run.boot().executing()
    r.step(sup.WriteFailed("press.roll_load_sp_kg", 1500.0, "wrote 1500, read back 0", 0.0))
    assert r.state in ("Holding", "Held") and "setpoint_failed" in r.core.machine.first_out
    assert r.of(SetpointFailed)


def test_a_device_back_is_read_back_before_anything_is_written_to_it() -> None:
    r = Run.boot().executing()
    r.step(Hold(by="ana", request_id="h1"))
    r.until("Held")
    r.step(DeviceFailed(device="zone_C03", state="failing", error="timeout"))
    r.plant.values["zone_C03.temp_sp_c"] = 0.0  # it rebooted to its defaults
    events = r.step(DeviceRecovered(device="zone_C03", was="failing"))
    failed = [e for e in events if isinstance(e, SetpointFailed)]
    assert failed and failed[0].channel == "temp_sp_c"
    assert "zone_C03" not in r.core.unverified


def test_a_device_back_after_an_abort_is_put_in_the_safe_state() -> None:
    # Found by test_supervisor_stateful: the drive away when Abort came kept running
    # after it was back (its failed safe writes were never tried again).
    r = Run.boot().executing()
    r.plant.down.add("drive")
    r.step(DeviceFailed(device="drive", state="failing", error="timeout"))
    r.step(Abort(by="ana", request_id="a1"))
    r.until("Aborted")
    (applied,) = r.of(SafeStateApplied)
    assert isinstance(applied, SafeStateApplied) and applied.failed == ("drive",)
    assert r.plant.values["drive.run_cmd"] == 1.0  # away: it runs on
    r.plant.down.discard("drive")
    r.step(DeviceRecovered(device="drive", was="failing"))
    for _ in range(3):
        r.step()
    assert r.state == "Aborted"
    assert r.plant.values["drive.run_cmd"] == 0.0
    assert r.plant.values["drive.speed_sp_m_min"] == 0.0


def test_abort_reaches_the_safe_state_on_every_device_that_answers() -> None:
    r = Run.boot().executing()
    r.plant.refuse.add("press.nip_cmd")
    r.step(Abort(by="ana", request_id="a1"))
    r.until("Aborted")
    (applied,) = r.of(SafeStateApplied)
    assert isinstance(applied, SafeStateApplied) and applied.failed == ("press",)
    v = r.plant.values
    assert v["drive.run_cmd"] == 0.0 and v["coater_1.pump_run_cmd"] == 0.0
    assert all(
        v[f"{z}.temp_sp_c"] == LINE.supervisor.standby_temp_c
        for z, d in LINE.devices.items()
        if d.model == "oven_zone"
    )


def test_the_core_refuses_a_time_going_back() -> None:
    r = Run.boot()
    r.step()
    with pytest.raises(ValueError):
        sup.step(r.core, r.now - 1, r.plant.sample(r.now))
    with pytest.raises(ValueError):
        sup.step(r.core, math.nan, r.plant.sample(r.now))


def test_a_cure_zone_waiting_for_the_purge_overshooting_its_setpoint_does_not_trip() -> None:
    """A cure zone waits below the purge gate, not at it: a PI controller overshoots the
    end of a fast ramp (half a degree at 30 °C/min on the simulated zone), and a zone
    held at exactly the gate then passes it while O2 is still high (the purge under
    way), an O2 trip during Starting (002 on the simulated line)."""
    r = Run.boot().loaded()
    r.step(Reset(by="ana", request_id="r1"))
    r.until("Idle")
    r.plant.follow = False  # the values below are the plant's
    r.step(Start(by="ana", request_id="s1"))
    gate = LINE.supervisor.purge_gate_c
    for _ in range(200):
        r.step()
        r.plant.values["o2_cure.o2_ppm"] = 60_000.0  # the purge has not yet got O2 down
        for z in ("C05", "C10"):
            sp = r.plant.values[f"zone_{z}.temp_sp_c"]
            assert sp <= gate - sup.PURGE_WAIT_BELOW_C
            r.plant.values[f"zone_{z}.temp_pv_c"] = sp + 0.5  # the controller's overshoot
    assert "o2_trip" not in tripped(r)
    assert r.state == "Starting" and any("purge" in w for w in r.core.waiting_for)


def test_failure_to_heat_is_judged_over_poll_periods_at_a_speed_up() -> None:
    """At a speed-up acquisition polls a zone once per stretched period (300 s at 300
    for a 1 Hz zone), and the reading is held in between: a zone heating behind its
    ramp (002 at 30 °C/min) is no failure to heat for want of a fresh reading; the
    window spans HEAT_CHECK_POLLS periods. A reading that does not move over them is."""
    factor = 300.0
    core, events = sup.boot(LINE, 0.0, rate_factor=factor)
    r = Run(Plant(LINE), core)
    r.events += events
    r.executing()
    r.plant.follow = False
    period = factor * LINE.devices["zone_C07"].period_s
    v = r.plant.values
    pv = 300.0
    steps = int(sup.HEAT_CHECK_POLLS * period / r.dt)
    for i in range(steps):
        if i % int(period / r.dt) == 0:
            pv += 10.0  # a fresh reading each poll: 2 °C/min, behind its working setpoint
        v["zone_C07.working_sp_c"], v["zone_C07.temp_pv_c"] = 350.0, pv
        v["zone_C07.output_pct"] = 100.0
        r.step()
    assert "heater_failed" not in tripped(r)
    for _ in range(steps + 2):  # a reading that stays put: the thermocouple fell out
        r.step()
    assert "heater_failed" in tripped(r)


@dataclass
class _SlowPurgePlant(Plant):
    """O2 stays high until ``o2_until``, and zone C07 stays below its band until
    ``hot_from`` (seconds of plant time): a slow purge, then a zone's heat-up after it."""

    o2_until: float = 0.0
    hot_from: float = 0.0
    t: float = 0.0

    def physics(self, dt: float) -> None:
        super().physics(dt)
        self.t += dt
        if self.t < self.o2_until:
            self.values["o2_cure.o2_ppm"] = 60_000.0
        if self.t < self.hot_from:
            self.values["zone_C07.temp_pv_c"] = min(self.values["zone_C07.temp_pv_c"], 300.0)


def _slow_purge_start(o2_until: float, hot_from: float) -> Run:
    core, events = sup.boot(LINE, 0.0)
    r = Run(_SlowPurgePlant(LINE, o2_until=o2_until, hot_from=hot_from), core)
    r.events += events
    r.loaded()
    r.step(Reset(by="ana", request_id="r1"))
    r.until("Idle")
    r.step(Start(by="ana", request_id="s1"))
    return r


def test_the_cure_zones_heat_up_budget_starts_when_the_purge_is_done() -> None:
    """The cure zones heat past the gate only once the oven is purged, so their heat-up
    is timed from the end of the purge: a purge that took most of the readiness
    timeout (002 on the simulated line: 55 min of a 73 min timeout) leaves them the
    whole heat-up time after it, not what is left of it."""
    assert Run.boot().loaded().core.plan is not None
    timeout = Run.boot().loaded().core.plan.readiness_timeout_s  # type: ignore[union-attr]
    r = _slow_purge_start(o2_until=timeout - 1000.0, hot_from=timeout + 500.0)
    r.until("Execute", int((timeout + 3000.0) / r.dt))
    assert "readiness_timeout" not in tripped(r)


def test_a_purge_that_does_not_end_still_times_the_start_out() -> None:
    timeout = Run.boot().loaded().core.plan.readiness_timeout_s  # type: ignore[union-attr]
    r = _slow_purge_start(o2_until=math.inf, hot_from=0.0)
    r.until("Held", int((timeout + 100.0) / r.dt))
    assert "readiness_timeout" in tripped(r)
    assert "purge of cure_oven" in r.core.machine.first_out  # what it waited for first


def test_a_stop_does_not_wait_for_the_nip_of_a_press_that_does_not_answer() -> None:
    r = Run.boot().executing()
    r.step(DeviceFailed(device="press", state="failing", error="timeout"))
    r.plant.bad |= {n for n in r.plant.names if n.startswith("press.")}
    r.step(Stop(by="ana", request_id="st1"))
    r.until("Stopped", 50)


def test_a_safe_write_refused_once_is_tried_again_after_some_polls() -> None:
    r = Run.boot().executing()
    r.plant.refuse.add("coater_1.pump_run_cmd")
    r.step(Abort(by="ana", request_id="a1"))
    r.until("Aborted")
    assert r.plant.values["coater_1.pump_run_cmd"] == 1.0  # refused: still running
    r.plant.refuse.clear()  # the coater takes writes again (no failure reported)
    for _ in range(20):  # 20 steps of 5 s: past 10 polls of a 0.2 s coater
        r.step()
    assert r.plant.values["coater_1.pump_run_cmd"] == 0.0


def test_a_setpoint_change_outside_its_states_is_refused_and_none_outlives_its_run() -> None:
    r = Run.boot().loaded()
    r.step(Reset(by="ana", request_id="r1"))
    r.until("Idle")
    r.step(ChangeSetpoint(by="ana", request_id="c1", field="press.roll_load_kg", value=1470.0))
    assert "not in Idle" in r.of(CommandRejected)[-1].reason
    assert not r.core.overrides
    r.step(Start(by="ana", request_id="s1"))
    r.until("Execute")
    r.step(ChangeSetpoint(by="ana", request_id="c2", field="press.roll_load_kg", value=1470.0))
    assert r.core.overrides
    r.step(Stop(by="ana", request_id="st1"))
    r.until("Stopped")
    r.step(Reset(by="ana", request_id="r2"))
    assert not r.core.overrides  # the next run starts from the recipe


def test_unholding_that_cannot_get_ready_times_out_into_held() -> None:
    r = Run.boot().executing()
    r.step(Hold(by="ana", request_id="h1"))
    r.until("Held")
    r.plant.follow = False
    r.plant.values["zone_C07.temp_pv_c"] = 300.0  # will not come back into band
    r.step(Unhold(by="ana", request_id="u1"))
    plan = r.core.plan
    assert plan is not None
    r.dt = 60.0
    for _ in range(int(plan.readiness_timeout_s / 60) + 3):
        r.step()
    assert r.state in ("Holding", "Held") and "readiness_timeout" in tripped(r)


def test_an_older_safe_state_answer_does_not_complete_an_abort() -> None:
    r = Run.boot().executing()
    r.plant.flags["drive.web_break"] = 1
    r.plant.physics(1.0)  # the flag into the drive's status word
    r.core, actions, _ = sup.step(r.core, r.now + 1, r.plant.sample(r.now + 1))
    web_break = [a for a in actions if isinstance(a, sup.ApplySafeState)]
    assert web_break and web_break[0].why == "web break"
    r.now += 1
    r.step(Abort(by="ana", request_id="a1"))  # the abort's safe state is now pending
    assert r.core.safe_pending == "abort"
    r.core, _, _ = sup.step(r.core, r.now + 1, r.plant.sample(r.now + 1),
                            [sup.SafeStateDone("web break", (), ())])  # fmt: skip
    r.now += 1
    assert r.state == "Aborting" and r.core.safe_pending == "abort"


def test_a_hold_that_cannot_see_the_web_stop_becomes_an_abort_after_the_stop_timeout() -> None:
    # Found by the hostile review: with the drive lost, Holding waited for ever.
    r = Run.boot().executing()
    r.plant.bad |= {n for n in r.plant.names if n.startswith("drive.")}
    r.step(DeviceFailed(device="drive", state="failing", error="timeout"))
    assert r.state == "Holding"
    r.dt = 30.0
    for _ in range(int(LINE.supervisor.stop_timeout_s / r.dt) + 2):
        r.step()
    assert "stop_timeout" in tripped(r)
    r.until("Aborted", 20)


def test_a_press_roll_running_away_is_caught_too() -> None:
    # Found by the stuck-on heater's author: only the oven zones were watched.
    r = Run.boot().executing()
    r.plant.follow = False
    hot = 400.0 + LINE.supervisor.runaway_margin_c
    for i in range(LINE.supervisor.runaway_cycles + 2):
        r.plant.values["press.top_temp_pv_c"] = hot + 5.0 * (i + 1)  # still climbing
        r.step()
    assert "heater_runaway" in tripped(r)
    r.step()
    assert r.plant.values["press.top_temp_sp_c"] == LINE.supervisor.standby_temp_c


def test_a_setpoint_on_its_bands_edge_reads_back_in_band_through_the_register() -> None:
    """An operator sets the line speed to its band's low edge; the drive reads it back
    through a float32 register as 0.4799999893 < 0.48. That is in band (within the
    register's resolution): Unhold comes back to Execute (it waited for ever, then the
    readiness timeout)."""
    r = Run.boot().executing()
    plan = r.core.plan
    assert plan is not None
    band = next(t.band for t in plan.targets if t.field == "web.speed_m_min")
    assert band is not None
    low = band[0]
    r.step(ChangeSetpoint(by="ana", request_id="c1", field="web.speed_m_min", value=low))
    r.step(Hold(by="ana", request_id="h1"))
    r.until("Held")
    r.plant.pinned["drive.speed_pv_m_min"] = float(np.float32(low))  # below low by 1e-8
    assert r.plant.pinned["drive.speed_pv_m_min"] < low
    r.step(Unhold(by="ana", request_id="u1"))
    r.until("Execute", limit=200)
