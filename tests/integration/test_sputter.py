"""Sputter instruments over their ASCII protocols: supply on a pty, gauge on socket://."""

from __future__ import annotations

import asyncio
import math

import pytest
import serial

from drivers.ascii.dc_psu import DcPsuDriver
from drivers.ascii.vacuum_gauge import VacuumGaugeDriver
from drivers.ascii_protocol import (
    gauge_body,
    gauge_frame,
    gauge_number,
    parse_gauge,
    psu_output,
    psu_value,
)
from drivers.errors import BadReply, DeviceRejected, DeviceTimeout, SetpointError
from drivers.links.ascii_link import AsciiLink
from drivers.links.serial_port import AsyncSerialPort, SerialSettings
from simulators.ascii_devices import AsciiSerialSim, DcPsuSim, VacuumGaugeSim
from simulators.models.sputter import thickness_um
from tests.integration.simline import ascii_link, served_line

pytestmark = pytest.mark.integration


async def test_argon_sets_the_pressure_and_the_magnetron_then_burns() -> None:
    async with served_line() as line:
        assert line.ascii_servers["sputter_gauge"].path.startswith("socket://127.0.0.1:")
        psu = DcPsuDriver("sputter_psu", ascii_link(line, "sputter_psu"))
        gauge = VacuumGaugeDriver("sputter_gauge", ascii_link(line, "sputter_gauge"))
        assert await psu.write_setpoint("power_sp_kw", 10.0) == 10.0
        assert await psu.write_setpoint("output", 1) == 1
        line.step(5.0)
        r = await psu.poll()
        # At base pressure no plasma can burn: no power, and the supply says why.
        assert r.values["power_pv_kw"] == 0.0
        assert psu.flags(int(r.values["status"]))["plasma_lost"]
        assert await gauge.write_setpoint("ar_flow_sp_sccm", 120.0) == 120.0
        for _ in range(60):
            line.step(0.5)
        g = await gauge.poll()
        # p = Q / S = 120 sccm x 1.689e-3 Pa·m³/s / 0.5 m³/s ≈ 0.405 Pa
        assert g.values["pressure_pa"] == pytest.approx(0.4055, rel=0.01)
        assert g.values["ar_flow_sp_sccm"] == 120.0
        r = await psu.poll()
        assert r.values["power_pv_kw"] == pytest.approx(10.0)
        assert r.values["voltage_v"] * r.values["current_a"] == pytest.approx(10_000, rel=0.01)
        assert not psu.flags(int(r.values["status"]))["plasma_lost"]
        # What that power deposits on the web at 1 m/min with 100 nm·m/min per kW.
        assert thickness_um(100.0, r.values["power_pv_kw"], 1.0) == pytest.approx(1.0)
        await psu.link.close()
        await gauge.link.close()


@pytest.mark.parametrize("value", [math.nan, math.inf, -0.1, 20.01])
async def test_bad_setpoints_send_nothing(value: float) -> None:
    async with served_line() as line:
        psu = DcPsuDriver("sputter_psu", ascii_link(line, "sputter_psu"))
        gauge = VacuumGaugeDriver("sputter_gauge", ascii_link(line, "sputter_gauge"))
        with pytest.raises(SetpointError):
            await psu.write_setpoint("power_sp_kw", value)
        with pytest.raises(SetpointError):
            await gauge.write_setpoint("ar_flow_sp_sccm", value * 100)
        assert line.ascii_devices["sputter_psu"].requests == 0
        assert line.ascii_devices["sputter_gauge"].requests == 0


async def test_instrument_errors_are_typed() -> None:
    async with served_line() as line:
        link = ascii_link(line, "sputter_psu")
        psu = DcPsuDriver("sputter_psu", link)
        with pytest.raises(DeviceRejected) as info:
            await psu.ask("PSET 99")  # beyond the supply's own range
        assert info.value.code == 3
        with pytest.raises(DeviceRejected) as info:
            await psu.ask("FIRE")
        assert info.value.code == 1
        gauge = VacuumGaugeDriver("sputter_gauge", ascii_link(line, "sputter_gauge"))
        with pytest.raises(DeviceRejected) as info:
            await gauge.ask("XX", "?")
        assert info.value.code == 2
        await link.close()
        await gauge.link.close()


@pytest.mark.parametrize("name", ["sputter_psu", "sputter_gauge"])
async def test_link_faults(name: str) -> None:
    async with served_line() as line:
        link = ascii_link(line, name, timeout_s=0.5)  # honest answers well inside it under load
        drv = DcPsuDriver(name, link) if name == "sputter_psu" else VacuumGaugeDriver(name, link)
        faults = line.ascii_devices[name].faults
        faults.no_reply = True
        with pytest.raises(DeviceTimeout):
            await drv.poll()
        faults.no_reply = False
        faults.garbage = True
        with pytest.raises(BadReply):
            await drv.poll()
        faults.garbage = False
        if name == "sputter_gauge":
            faults.corrupt_crc = True
            with pytest.raises(BadReply, match="checksum"):
                await drv.poll()
            faults.corrupt_crc = False
        assert (await drv.poll()).errors == {}
        await link.close()


async def test_late_answer_is_never_taken_for_the_next_one() -> None:
    async with served_line() as line:
        psu = DcPsuDriver("sputter_psu", ascii_link(line, "sputter_psu", timeout_s=0.2))
        await psu.write_setpoint("power_sp_kw", 7.5)
        line.ascii_devices["sputter_psu"].faults.delay_s = 0.3
        with pytest.raises(DeviceTimeout):
            await psu.ask("PSET?")
        line.ascii_devices["sputter_psu"].faults.delay_s = 0.0
        assert psu_output(await psu.ask("OUT?")) == 0  # not the late "PSET 7.50"
        await psu.link.close()


async def test_documented_frames_with_plain_pyserial() -> None:
    """A third party (pyserial alone, no driver code) speaks the documented protocol."""

    async with served_line() as line:
        gauge = line.ascii_devices["sputter_gauge"]
        assert isinstance(gauge, VacuumGaugeSim)
        gauge.ar_flow_sp_sccm = 50.0
        url = line.ascii_servers["sputter_gauge"].path
        # Blocking pyserial in a worker thread: its own 2 s read timeout bounds it.
        port = serial.serial_for_url(url, baudrate=9600, timeout=2.0)
        try:
            port.write(b"@01AF?*" + b"%02X" % (sum(b"01AF?") % 256) + b"\r")
            answer = await asyncio.to_thread(port.read_until, b"\r")
            assert answer.startswith(b"@01AF=50.0*")
        finally:
            port.close()


class _HostilePsu(DcPsuSim):
    """A supply that answers STAT? with whatever the test says."""

    stat_answer = b"STAT 05"

    def handle(self, line: bytes) -> bytes | None:
        return self.stat_answer if line == b"STAT?" else super().handle(line)


class _HostileGauge(VacuumGaugeSim):
    """A gauge whose answers carry the values the test says."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.answers: dict[str, str] = {}

    def handle(self, line: bytes) -> bytes | None:
        reply = super().handle(line)
        if reply is None:
            return None
        msg = parse_gauge(reply)  # the simulator's own, honest answer
        if msg.op != "=" or msg.param not in self.answers:
            return reply
        return gauge_frame(gauge_body(msg.address, msg.param, "=", self.answers[msg.param]))[:-1]


@pytest.mark.parametrize("answer", [b"OUT 1", b"STAT -1", b"STAT 0x5", b"STAT 5", b"STAT 05 1"])
async def test_a_status_answer_of_the_wrong_key_or_form_is_a_bad_reply(answer: bytes) -> None:
    dev = _HostilePsu("psu")
    server = AsciiSerialSim(dev, "pty")
    await server.start()
    link = AsciiLink(AsyncSerialPort(SerialSettings(server.path, 9600, "N")), timeout_s=0.3)
    try:
        psu = DcPsuDriver("psu", link)
        assert (await psu.poll()).values["status"] == 5
        dev.stat_answer = answer
        with pytest.raises(BadReply, match="STAT"):
            await psu.poll()
    finally:
        await link.close()
        await server.stop()


@pytest.mark.parametrize(
    ("param", "value"), [("ST", "-1"), ("ST", "0x1F"), ("PR", "-4.000E-01"), ("PR", "4_0")]
)
async def test_gauge_answers_of_the_wrong_form_are_bad_replies(param: str, value: str) -> None:
    dev = _HostileGauge("gauge")
    server = AsciiSerialSim(dev, "pty")
    await server.start()
    link = AsciiLink(AsyncSerialPort(SerialSettings(server.path, 9600, "N")), timeout_s=0.3)
    try:
        gauge = VacuumGaugeDriver("gauge", link)
        assert (await gauge.poll()).errors == {}
        dev.answers = {param: value}
        with pytest.raises(BadReply, match=param):
            await gauge.poll()
    finally:
        await link.close()
        await server.stop()


@pytest.mark.parametrize("name", ["sputter_psu", "sputter_gauge"])
@pytest.mark.deadline(40)
async def test_an_answer_later_than_the_late_window_never_answers_a_later_query(name: str) -> None:
    """0.7 s late at a 0.2 s deadline (the late-answer window is 0.4 s): the late answer
    lands in the next query of the same kind. The value asked changes every time, so a
    late answer taken for the next would show; none ever is."""

    async with served_line() as line:
        link = ascii_link(line, name, timeout_s=0.2)
        dev = line.ascii_devices[name]
        if name == "sputter_psu":
            psu = DcPsuDriver(name, link)

            def put(v: float) -> None:
                dev.power_sp_kw = v  # type: ignore[attr-defined]

            async def get() -> float:
                return psu_value(await psu.ask("PSET?"), "PSET")
        else:
            gauge = VacuumGaugeDriver(name, link)

            def put(v: float) -> None:
                dev.ar_flow_sp_sccm = v  # type: ignore[attr-defined]

            async def get() -> float:
                return gauge_number((await gauge.ask("AF", "?")).value)

        values = 0
        for i in range(18):
            dev.faults.delay_s = 0.7 if i % 3 == 0 else 0.0
            put(1.0 + i)
            try:
                got = await get()
            except DeviceTimeout:
                continue
            assert got == 1.0 + i, (i, got)
            values += 1
        assert values >= 6 and link.probes > 0
        await link.close()
