"""The driver of the sputter chamber's vacuum gauge and gas controller (``vacuum_gauge``):
a thin async shell over a ``QueryLink``. Its declaration (channels, command table, limits)
is ``drivers.devices.vacuum_gauge``."""

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
from drivers.devices.vacuum_gauge import MAX_AR_FLOW_SCCM, MODEL
from drivers.errors import BadReply, DeviceRejected, SetpointError
from drivers.links import Probe, QueryLink
from drivers.setpoints import check_setpoint, verify_readback
from drivers.spec import ModelSpec

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


def make(spec: ModelSpec, name: str, link: QueryLink, address: int) -> Device:
    """The factory ``MODEL`` names: the gauge at bus ``address`` on its line."""
    return VacuumGaugeDriver(name, link, address)
