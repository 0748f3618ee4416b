"""DC magnetron sputter power supply, ASCII query/answer over RS-232 (CR terminator).

Power setpoint (kW), output on/off, measured power, voltage and current, and a
status word (output on, arc, interlock open, overtemperature). See
``drivers.ascii_protocol`` for the command set and ``drivers.ascii.dc_psu`` for
the driver.
"""

from __future__ import annotations

from drivers.spec import ChannelSpec, Command, ModelSpec, first_paragraph

STATUS_BITS = {
    0: "output_on",
    1: "arc",
    2: "interlock_open",
    3: "overtemperature",
    4: "plasma_lost",
}
MAX_POWER_KW = 20.0

CHANNELS = (
    ChannelSpec("power_pv_kw", "kW"),
    ChannelSpec("voltage_v", "V"),
    ChannelSpec("current_a", "A"),
    ChannelSpec("power_sp_kw", "kW", writable=True),
    ChannelSpec("status", "", STATUS_BITS),
)
COMMANDS = (
    Command("PSET <kW>", "OK", "power setpoint, 0..20 kW, 2 decimals", "rw"),
    Command("PSET?", "PSET <kW>", "power setpoint", "r"),
    Command("OUT <0|1>", "OK", "output off / on", "rw"),
    Command("OUT?", "OUT <0|1>", "output state", "r"),
    Command("MEAS?", "P <kW> V <V> I <A>", "measured power, voltage, current", "r"),
    Command(
        "STAT?",
        "STAT <2 hex digits>",
        "status bits: " + ", ".join(f"{b}={n}" for b, n in STATUS_BITS.items()),
        "r",
    ),
    Command(
        "*IDN?",
        "<maker>,<model>,<serial>,<firmware>",
        "identification; also sent to resynchronise after a timeout",
        "r",
    ),
)

MODEL = ModelSpec(
    model="dc_psu",
    protocol="ascii",
    description=first_paragraph(__doc__),
    channels=CHANNELS,
    factory="drivers.ascii.dc_psu:make",  # DcPsuDriver
    commands=COMMANDS,
)
