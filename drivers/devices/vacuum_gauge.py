"""Vacuum gauge and gas controller of the sputter chamber, ASCII frames with a
checksum over RS-232: chamber pressure (Pa), argon flow setpoint (sccm), status."""

from __future__ import annotations

from drivers.ascii_protocol import (
    GAUGE_ERRORS,
    FramingError,
    GaugeMessage,
    gauge_body,
    gauge_frame,
    gauge_number,
    gauge_status,
    parse_gauge,
)
from drivers.device import Device, PollResult
from drivers.errors import BadReply, DeviceRejected, SetpointError
from drivers.links import Probe, QueryLink
from drivers.setpoints import check_setpoint, verify_readback
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
PROBE_PARAM = "ID"  # no parameter of the gauge: its answer is NAK 2, which no poll gets


class VacuumGaugeDriver:
    model = "vacuum_gauge"

    def __init__(self, name: str, link: QueryLink, address: int = 1) -> None:
        self.name = name
        self.link = link
        self.address = address
        link.probe = Probe(
            gauge_frame(gauge_body(address, PROBE_PARAM, "?"))[:-1], self._is_probe_answer
        )

    def _is_probe_answer(self, line: bytes) -> bool:
        msg = parse_gauge(line)  # FramingError on a corrupt line: not the answer
        return msg.address == self.address and msg.op == "NAK" and msg.value == "2"

    async def ask(self, param: str, op: str, value: str = "") -> GaugeMessage:
        """One raw exchange (``param``, ``op`` ``?`` or ``!``, ``value``) and its
        checked answer, for diagnostics: no range check. A NAK is ``DeviceRejected``
        (its code); a corrupt, foreign or mismatched answer is ``BadReply``."""
        return await self._ask(param, op, value)

    async def _ask(self, param: str, op: str, value: str = "") -> GaugeMessage:
        frame = gauge_frame(gauge_body(self.address, param, op, value))
        line = await self.link.query(frame[:-1])
        try:
            msg = parse_gauge(line)
        except FramingError as exc:
            raise BadReply(f"{param}{op}: {exc}", device=self.name) from exc
        if msg.address != self.address:
            raise BadReply(f"{param}{op}: answer from address {msg.address}", device=self.name)
        if msg.op == "NAK":
            code = int(msg.value)  # one digit: parse_gauge checked it
            raise DeviceRejected(
                f"{param}{op}: NAK {code} ({GAUGE_ERRORS.get(code, '?')})",
                code=code,
                device=self.name,
            )
        if msg.param != param or msg.op != "=":
            raise BadReply(f"{param}{op}: unexpected answer {line!r}", device=self.name)
        return msg

    async def _number(self, param: str, op: str = "?", value: str = "") -> float:
        msg = await self._ask(param, op, value)
        try:
            return gauge_number(msg.value)
        except FramingError as exc:
            raise BadReply(f"{param}: {exc}", device=self.name) from exc

    async def poll(self) -> PollResult:
        result = PollResult()
        result.values["pressure_pa"] = await self._number("PR")
        result.values["ar_flow_sp_sccm"] = await self._number("AF")
        msg = await self._ask("ST", "?")
        try:
            result.values["status"] = gauge_status(msg.value)
        except FramingError as exc:
            raise BadReply(f"ST: {exc}", device=self.name) from exc
        return result

    @staticmethod
    def flags(word: int) -> dict[str, bool]:
        return MODEL.decode_flags("status", word)

    async def write_setpoint(self, name: str, value: float) -> float:
        if name != "ar_flow_sp_sccm":
            raise SetpointError(f"{name}: not a setpoint of the gauge controller", device=self.name)
        value = check_setpoint(name, value, 0.0, MAX_AR_FLOW_SCCM, "sccm", device=self.name)
        back = await self._number("AF", "!", f"{value:.1f}")
        return verify_readback(name, round(value, 1), back, 0.06, device=self.name)

    async def command(self, name: str, value: int = 1) -> None:
        """The gauge controller has no self-clearing command: every name is refused,
        nothing sent."""
        raise SetpointError(f"{name}: not a command of the gauge controller", device=self.name)


def _make(name: str, link: QueryLink, address: int) -> Device:
    return VacuumGaugeDriver(name, link, address)


MODEL = ModelSpec(
    model="vacuum_gauge",
    protocol="ascii",
    description=first_paragraph(__doc__),
    channels=CHANNELS,
    factory=_make,
    commands=COMMANDS,
)
