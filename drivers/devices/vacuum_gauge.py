"""Vacuum gauge and gas controller of the sputter chamber, ASCII frames with a
checksum over RS-232: chamber pressure (Pa), argon flow setpoint (sccm), status.

The driver is ``drivers.ascii.vacuum_gauge``."""

from __future__ import annotations

from drivers.spec import ChannelSpec, Command, ModelSpec, first_paragraph

STATUS_BITS = {0: "sensor_error", 1: "overrange", 2: "underrange", 3: "flow_deviation"}
MAX_AR_FLOW_SCCM = 500.0

CHANNELS = (
    ChannelSpec("pressure_pa", "Pa"),
    ChannelSpec("ar_flow_sp_sccm", "sccm", writable=True),
    ChannelSpec("status", "", STATUS_BITS),
)
COMMANDS = (
    Command("@aaPR?*cs", "@aaPR=<Pa>*cs", "chamber pressure, Pa (scientific notation)", "r"),
    Command("@aaAF!<sccm>*cs", "@aaAF=<sccm>*cs", "argon flow setpoint, 0..500 sccm", "rw"),
    Command("@aaAF?*cs", "@aaAF=<sccm>*cs", "argon flow setpoint", "r"),
    Command(
        "@aaST?*cs",
        "@aaST=<2 hex digits>*cs",
        "status bits: " + ", ".join(f"{b}={n}" for b, n in STATUS_BITS.items()),
        "r",
    ),
    Command("(error)", "@aaNAK<code>*cs", "1 checksum, 2 unknown parameter, 3 out of range", ""),
    Command(
        "@aaID?*cs", "@aaNAK2*cs", "unknown on purpose: sent to resynchronise after a timeout", "r"
    ),
)

MODEL = ModelSpec(
    model="vacuum_gauge",
    protocol="ascii",
    description=first_paragraph(__doc__),
    channels=CHANNELS,
    factory="drivers.ascii.vacuum_gauge:make",  # VacuumGaugeDriver
    commands=COMMANDS,
)
