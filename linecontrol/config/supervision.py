"""The supervisor's settings: the ``[supervisor]`` table of the line config.

Every field has a default (an engineering choice, stated here, to be replaced by the
line's hazard analysis); a line config names only what it changes. Times are seconds
of the line's clock (simulated seconds in an accelerated run), but for the two I/O
deadlines (``write_deadline_s``, ``cancel_deadline_s``: real seconds); counts are poll
cycles, so a detection bound holds at any speed-up.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, PositiveFloat, PositiveInt

from linecontrol.config.tomlfile import StrictModel

Fraction = Annotated[float, Field(gt=0.0, lt=1.0)]
NonNeg = Annotated[float, Field(ge=0.0)]


class SupervisorSettings(StrictModel):
    # Starting: how long to wait for readiness beyond the heat-up the ramps imply (the
    # readiness timeout of a start is the slowest ramp's time plus this), then Held.
    readiness_margin_s: PositiveFloat = 3600.0
    # A cure zone may not pass this temperature before the oven's N2 purge is done
    # (O2 below the recipe's limit without a break for the purge time).
    purge_gate_c: PositiveFloat = 150.0
    purge_time_s: PositiveFloat = 300.0
    # O2 trip: above o2_trip_ppm (or the analyzer failed or stale: the worst case) for
    # o2_trip_delay_s during a cure: Hold with the heaters at standby (the same limit and
    # delay as the shipped lines' o2_cure_trip alarm, which annunciates it).
    o2_trip_ppm: PositiveFloat = 200.0
    o2_trip_delay_s: NonNeg = 5.0
    # Where heaters go at standby (Hold on an O2 trip, Stop, Abort, a zone tripped).
    standby_temp_c: NonNeg = 50.0
    # Heater runaway: PV above the setpoint by this much for runaway_cycles cycles.
    runaway_margin_c: PositiveFloat = 25.0
    runaway_cycles: PositiveInt = 2
    # Failure to heat: a zone more than heat_check_below_c under its (working) setpoint
    # and asked for heat_check_output_pct % or more must gain heat_check_gain_c within
    # heat_check_time_s (Klipper's verify_heater: 2 °C in 20-60 s).
    heat_check_below_c: PositiveFloat = 10.0
    heat_check_output_pct: PositiveFloat = 90.0
    heat_check_gain_c: PositiveFloat = 2.0
    heat_check_time_s: PositiveFloat = 120.0
    # Web break: the drive's flag, or a tension below this fraction of its setpoint for
    # this many cycles while the web runs, whichever comes first.
    web_break_tension_fraction: Fraction = 0.3
    web_break_cycles: PositiveInt = 3
    # Press overload: roll load above its setpoint by overload_margin_kg (or the PLC's
    # overload flag): open the nip and Hold; above the station's max roll load: Abort.
    overload_margin_kg: PositiveFloat = 500.0
    # Stopping, Holding, Suspending or Completing not confirmed after this (the web not seen
    # to stop: the drive does not answer): Abort (at least 20 of the drive's polls).
    stop_timeout_s: PositiveFloat = 300.0
    # A command or write to a device that takes longer than this is failed (REAL seconds,
    # as are cancel_deadline_s: they bound I/O, which does not run faster at a speed-up).
    write_deadline_s: PositiveFloat = 2.0
    # Stop and Abort cancel the work of the acting state before them within this.
    cancel_deadline_s: PositiveFloat = 1.0
