"""Every driver against an in-memory fake link (``drivers.links.fake``): pure, no sockets.

The drivers take a link interface (``RegisterLink``, ``QueryLink``), so the same
code that runs on hardware and simulators runs here on word tables and scripted
answers.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from drivers.ascii.dc_psu import DcPsuDriver
from drivers.ascii.vacuum_gauge import VacuumGaugeDriver
from drivers.ascii_protocol import gauge_body, gauge_frame, parse_gauge
from drivers.device import Device, ModbusDevice
from drivers.devices import MODELS
from drivers.errors import (
    BadReply,
    DeviceRejected,
    DeviceTimeout,
    ReadbackMismatch,
    SetpointError,
)
from drivers.factories import make_device
from drivers.links import QueryLink, RegisterLink
from drivers.links.fake import FakeQueryLink, FakeRegisterLink

ZONE = MODELS["oven_zone"]
assert ZONE.regmap is not None
ZONE_MAP = ZONE.regmap


# ------------------------------------------------------------------ Modbus
async def test_a_modbus_device_polls_and_decodes_the_fake_words() -> None:
    link = FakeRegisterLink()
    link.fill(ZONE_MAP, unit=7)
    link.set(ZONE_MAP, "temp_pv_c", 181.3, unit=7)
    link.set(ZONE_MAP, "status", 0b100010, unit=7)
    dev = make_device(ZONE, "zone", link, 7)
    r = await dev.poll()
    assert r.errors == {}
    assert r.values["temp_pv_c"] == pytest.approx(181.3)
    assert ZONE.decode_flags("status", int(r.values["status"])) == {
        "sensor_break": False,
        "heater_fail": True,
        "alarm_high": False,
        "alarm_low": False,
        "ramping": False,
        "output_on": True,
    }
    assert {u for *_, u in link.reads} == {7}  # the unit the factory was given


async def test_a_modbus_setpoint_is_written_and_verified_by_read_back() -> None:
    link = FakeRegisterLink()
    link.fill(ZONE_MAP)
    dev = make_device(ZONE, "zone", link, 1)
    assert await dev.write_setpoint("temp_sp_c", 215.5) == pytest.approx(215.5)
    reg = ZONE_MAP["temp_sp_c"]
    assert link.writes == [(reg.address, reg.encode(215.5), 1)]


async def test_a_modbus_device_that_clamps_a_setpoint_is_a_readback_mismatch() -> None:
    clamp = ZONE_MAP["temp_sp_c"]

    def clamp_at_200(fake: FakeRegisterLink, address: int, words: list[int], unit: int) -> None:
        if address == clamp.address and clamp.decode(words) > 200.0:
            fake.set(ZONE_MAP, "temp_sp_c", 200.0, unit)

    link = FakeRegisterLink(on_write=clamp_at_200)
    link.fill(ZONE_MAP)
    with pytest.raises(ReadbackMismatch) as info:
        await make_device(ZONE, "zone", link, 1).write_setpoint("temp_sp_c", 250.0)
    assert (info.value.written, info.value.read) == (250.0, 200.0)


async def test_a_refused_setpoint_sends_nothing_to_the_fake() -> None:
    link = FakeRegisterLink()
    dev = make_device(ZONE, "zone", link, 1)
    with pytest.raises(SetpointError):
        await dev.write_setpoint("temp_sp_c", float("nan"))
    with pytest.raises(SetpointError, match="not a command register"):
        await dev.command("temp_sp_c", 1)
    assert link.writes == [] and link.transactions == 0


async def test_a_link_error_propagates_from_a_modbus_poll() -> None:
    link = FakeRegisterLink(fail_next=[DeviceTimeout("no answer", device="zone")])
    link.fill(ZONE_MAP)
    dev = make_device(ZONE, "zone", link, 1)
    with pytest.raises(DeviceTimeout):
        await dev.poll()
    assert (await dev.poll()).errors == {}  # the next poll answers


async def test_an_unset_address_is_rejected_like_an_instrument_would() -> None:
    with pytest.raises(DeviceRejected) as info:
        await make_device(ZONE, "zone", FakeRegisterLink(), 1).poll()
    assert info.value.code == 2


async def test_a_pulse_command_on_the_fake_drive() -> None:
    drive = MODELS["line_drive"]
    assert drive.regmap is not None
    link = FakeRegisterLink()
    await make_device(drive, "drive", link, 1).command("position_reset_cmd", 1)
    reg = drive.regmap["position_reset_cmd"]
    assert link.writes == [(reg.address, [1], 1)]


# ------------------------------------------------------------------ ASCII: supply
class FakePsu:
    """The supply's answers, as a function of the query line."""

    def __init__(self) -> None:
        self.power_sp = 0.0
        self.output = 0
        self.status = 0x11  # output_on, plasma_lost
        self.meas = b"P 4.00 V 512.0 I 7.81"

    def __call__(self, line: bytes) -> bytes:
        cmd, *args = line.decode().split()
        if cmd == "MEAS?":
            return self.meas
        if cmd == "PSET?":
            return f"PSET {self.power_sp:.2f}".encode()
        if cmd == "PSET":
            self.power_sp = float(args[0])
            return b"OK"
        if cmd == "OUT?":
            return f"OUT {self.output}".encode()
        if cmd == "OUT":
            self.output = int(args[0])
            return b"OK"
        if cmd == "STAT?":
            return f"STAT {self.status:02X}".encode()
        return b"ERR 1 syntax"


def psu(fake: Callable[[bytes], bytes]) -> tuple[DcPsuDriver, FakeQueryLink]:
    link = FakeQueryLink(fake)
    return DcPsuDriver("psu", link), link


async def test_the_supply_polls_its_declared_channels_from_the_fake() -> None:
    dev, link = psu(FakePsu())
    r = await dev.poll()
    assert set(r.values) == {c.name for c in MODELS["dc_psu"].channels}
    assert r.values["power_pv_kw"] == 4.0 and r.values["current_a"] == pytest.approx(7.81)
    assert link.queries == [b"MEAS?", b"PSET?", b"STAT?"]
    assert link.probe is not None and link.probe.query == b"*IDN?"  # the driver set it


async def test_the_supply_status_decodes_through_the_registry() -> None:
    dev, _ = psu(FakePsu())
    word = int((await dev.poll()).values["status"])
    flags = dev.flags(word)
    assert flags == MODELS["dc_psu"].decode_flags("status", word)
    assert flags["output_on"] and flags["plasma_lost"] and not flags["arc"]


async def test_the_supply_setpoint_is_verified_and_an_error_answer_is_rejected() -> None:
    fake = FakePsu()
    dev, link = psu(fake)
    assert await dev.write_setpoint("power_sp_kw", 5.25) == 5.25
    assert link.queries == [b"PSET 5.25", b"PSET?"]
    fake.meas = b"ERR 3 out of range"
    with pytest.raises(DeviceRejected) as info:
        await dev.poll()
    assert info.value.code == 3
    fake.meas = b"P 4.00 V nan I 7.81"
    with pytest.raises(BadReply):
        await dev.poll()


async def test_the_supply_has_no_command_and_sends_nothing() -> None:
    dev, link = psu(FakePsu())
    with pytest.raises(SetpointError, match="not a command"):
        await dev.command("output", 1)
    with pytest.raises(SetpointError):
        await dev.write_setpoint("power_sp_kw", 25.0)
    assert link.queries == []


# ------------------------------------------------------------------ ASCII: gauge
def fake_gauge(address: int = 1, unknown: tuple[str, ...] = ()) -> Callable[[bytes], bytes]:
    values = {"PR": "2.500E-01", "AF": "40.0", "ST": "02"}
    for param in unknown:
        del values[param]

    def answer(line: bytes) -> bytes:
        msg = parse_gauge(line)
        if msg.op == "!":
            values[msg.param] = f"{float(msg.value):.1f}"
        if msg.param not in values:
            return gauge_frame(gauge_body(address, "", "NAK", "2"))[:-1]
        return gauge_frame(gauge_body(address, msg.param, "=", values[msg.param]))[:-1]

    return answer


async def test_the_gauge_polls_its_declared_channels_from_the_fake() -> None:
    link = FakeQueryLink(fake_gauge(address=3))
    dev = make_device(MODELS["vacuum_gauge"], "gauge", link, 3)
    r = await dev.poll()
    assert set(r.values) == {c.name for c in MODELS["vacuum_gauge"].channels}
    assert r.values["pressure_pa"] == pytest.approx(0.25)
    assert MODELS["vacuum_gauge"].decode_flags("status", int(r.values["status"]))["overrange"]
    assert all(parse_gauge(q).address == 3 for q in link.queries)


async def test_the_gauge_refuses_an_answer_from_another_address_and_a_nak() -> None:
    with pytest.raises(BadReply, match="address 2"):
        await VacuumGaugeDriver("g", FakeQueryLink(fake_gauge(address=2))).poll()
    with pytest.raises(DeviceRejected) as info:
        await VacuumGaugeDriver("g", FakeQueryLink(fake_gauge(unknown=("ST",)))).poll()
    assert info.value.code == 2


async def test_the_gauge_setpoint_round_trips_on_the_fake() -> None:
    link = FakeQueryLink(fake_gauge())
    dev = VacuumGaugeDriver("g", link)
    assert await dev.write_setpoint("ar_flow_sp_sccm", 55.0) == 55.0
    assert [parse_gauge(q).op for q in link.queries] == ["!"]


# ------------------------------------------------------------------ every model
async def test_every_model_makes_a_driver_of_the_one_interface_on_a_fake_link() -> None:
    for name, spec in MODELS.items():
        link: RegisterLink | QueryLink
        if spec.regmap is not None:
            fake = FakeRegisterLink()
            fake.fill(spec.regmap)
            link = fake
        else:
            link = FakeQueryLink(FakePsu() if name == "dc_psu" else fake_gauge())
        dev: Device = make_device(spec, name, link, 1)
        r = await dev.poll()
        assert r.errors == {}, name
        assert set(r.values) == {c.name for c in spec.channels}, name
        if spec.regmap is not None:
            assert isinstance(dev, ModbusDevice) and dev.regmap is spec.regmap
