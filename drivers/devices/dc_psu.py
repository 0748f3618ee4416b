"""DC magnetron sputter power supply, ASCII query/answer over RS-232 (CR terminator).

Power setpoint (kW), output on/off, measured power, voltage and current, and a
status word (output on, arc, interlock open, overtemperature). See
``drivers.ascii_protocol`` for the command set.
"""

from __future__ import annotations

from drivers.ascii_protocol import (
    FramingError,
    psu_error,
    psu_identity,
    psu_measurements,
    psu_output,
    psu_status,
    psu_value,
)
from drivers.device import Device, PollResult
from drivers.errors import BadReply, DeviceRejected, SetpointError
from drivers.links import Probe, QueryLink
from drivers.setpoints import check_setpoint, verify_readback
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
# No other answer has a comma: after a timeout, the link asks this and drops every
# line before its answer (drivers.links.ascii_link).
PROBE = Probe(b"*IDN?", psu_identity)


class DcPsuDriver:
    model = "dc_psu"

    def __init__(self, name: str, link: QueryLink) -> None:
        self.name = name
        self.link = link
        link.probe = PROBE

    async def ask(self, cmd: str) -> bytes:
        """One raw command line and its answer line, for diagnostics: no range check
        and no read-back. An error the supply reports is ``DeviceRejected`` (its
        code); an answer that is not a line of the protocol is ``BadReply``."""
        return await self._ask(cmd)

    async def _ask(self, cmd: str) -> bytes:
        reply = await self.link.query(cmd.encode("ascii"))
        try:
            err = psu_error(reply)
        except FramingError as exc:
            raise BadReply(str(exc), device=self.name) from exc
        if err is not None:
            raise DeviceRejected(f"{cmd}: error {err[0]} ({err[1]})", code=err[0], device=self.name)
        return reply

    async def _value(self, cmd: str, key: str) -> float:
        reply = await self._ask(cmd)
        try:
            return psu_value(reply, key)
        except FramingError as exc:
            raise BadReply(f"{cmd}: {exc}", device=self.name) from exc

    async def poll(self) -> PollResult:
        result = PollResult()
        reply = await self._ask("MEAS?")
        try:
            m = psu_measurements(reply)
        except FramingError as exc:
            raise BadReply(f"MEAS?: {exc}", device=self.name) from exc
        result.values.update(power_pv_kw=m["P"], voltage_v=m["V"], current_a=m["I"])
        result.values["power_sp_kw"] = await self._value("PSET?", "PSET")
        status = await self._ask("STAT?")
        try:
            result.values["status"] = psu_status(status)
        except FramingError as exc:
            raise BadReply(f"STAT?: {exc}", device=self.name) from exc
        return result

    @staticmethod
    def flags(word: int) -> dict[str, bool]:
        return MODEL.decode_flags("status", word)

    async def write_setpoint(self, name: str, value: float) -> float:
        if name == "output":
            if value not in (0, 1) or isinstance(value, bool):
                raise SetpointError(f"output = {value!r}: 0 or 1", device=self.name)
            await self._ask(f"OUT {int(value)}")
            reply = await self._ask("OUT?")
            try:
                back = float(psu_output(reply))
            except FramingError as exc:
                raise BadReply(f"OUT?: {exc}", device=self.name) from exc
        elif name == "power_sp_kw":
            value = check_setpoint(name, value, 0.0, MAX_POWER_KW, "kW", device=self.name)
            await self._ask(f"PSET {value:.2f}")
            back = await self._value("PSET?", "PSET")
        else:
            raise SetpointError(f"{name}: not a setpoint of the supply", device=self.name)
        return verify_readback(name, round(float(value), 2), back, 0.006, device=self.name)

    async def command(self, name: str, value: int = 1) -> None:
        """The supply has no self-clearing command: every name is refused, nothing sent
        (output on/off is the setpoint ``output``, verified by read-back)."""
        raise SetpointError(f"{name}: not a command of the supply", device=self.name)


def _make(name: str, link: QueryLink, address: int) -> Device:
    return DcPsuDriver(name, link)  # one supply per serial line: no bus address


MODEL = ModelSpec(
    model="dc_psu",
    protocol="ascii",
    description=first_paragraph(__doc__),
    channels=CHANNELS,
    factory=_make,
    commands=COMMANDS,
)
