"""The driver of the DC magnetron sputter power supply (``dc_psu``): a thin async shell
over a ``QueryLink``. Its declaration (channels, command table, limits) is
``drivers.devices.dc_psu``."""

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
from drivers.devices.dc_psu import MAX_POWER_KW, MODEL
from drivers.errors import BadReply, DeviceRejected, SetpointError
from drivers.links import Probe, QueryLink
from drivers.setpoints import check_setpoint, verify_readback
from drivers.spec import ModelSpec

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


def make(spec: ModelSpec, name: str, link: QueryLink, address: int) -> Device:
    """The factory ``MODEL`` names: one supply per serial line, so no bus address."""
    return DcPsuDriver(name, link)
