"""Oven bus drivers against the simulated RS-485 bus: Modbus RTU over a pty, pyserial."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import replace

import pytest
import serial
from pymodbus.client import AsyncModbusSerialClient

from drivers.device import ModbusDevice
from drivers.devices import MODBUS_MAPS
from drivers.errors import BadReply, DeviceRejected, DeviceTimeout
from drivers.links.modbus_rtu import ModbusRtuLink, UnitLink
from drivers.links.serial_port import AsyncSerialPort, SerialSettings
from drivers.modbus_rtu import crc_ok, frame
from linecontrol.config import DEFAULT_LINE
from simulators.config import BusSpec, load_config
from simulators.devices import O2AnalyzerSim, OvenZoneSim
from simulators.line import SimLine
from simulators.models.atmosphere import AtmosphereState
from tests.integration.simline import rtu_bus, rtu_device, served_line

pytestmark = pytest.mark.integration


async def test_zone_poll_setpoint_and_physics_over_rtu() -> None:
    async with served_line() as line:
        bus = rtu_bus(line)
        zone = rtu_device(line, bus, "zone_C07")
        assert await zone.write_setpoint("temp_sp_c", 350.0) == pytest.approx(350.0)
        await zone.write_setpoint("ramp_c_per_min", 5.0)
        await zone.write_setpoint("output_enable", 1)
        before = bus.transactions
        r = await zone.poll()
        assert bus.transactions - before == len(zone.blocks) == 2
        assert r.errors == {} and r.values["temp_pv_c"] == pytest.approx(25.0)
        for _ in range(120):  # 2 simulated hours
            line.step(60.0)
        r = await zone.poll()
        assert r.values["temp_pv_c"] == pytest.approx(350.0, abs=0.5)
        assert r.values["working_sp_c"] == pytest.approx(350.0)
        assert 0.0 < r.values["output_pct"] < 100.0
        flags = zone.regmap.decode_flags("status", int(r.values["status"]))
        assert flags["output_on"] and not flags["heater_fail"]
        await bus.close()


async def test_o2_follows_the_purge_and_the_leak() -> None:
    async with served_line() as line:
        bus = rtu_bus(line)
        mfc = rtu_device(line, bus, "n2_cure_oven")
        o2 = rtu_device(line, bus, "o2_cure")
        assert (await o2.poll()).values["o2_ppm"] == pytest.approx(209_000.0)
        await mfc.write_setpoint("flow_sp_slm", 300.0)
        for _ in range(180):
            line.step(30.0)
        assert (await mfc.poll()).values["flow_pv_slm"] == pytest.approx(300.0)
        assert (await o2.poll()).values["o2_ppm"] < 50.0
        line.devices["o2_cure"].faults.o2_leak_m3_min = 0.01
        for _ in range(10):
            line.step(30.0)
        r = await o2.poll()
        assert r.values["o2_ppm"] > 1000.0
        line.devices["o2_cure"].faults.stuck_sensor = True
        line.step(1.0)
        r = await o2.poll()
        assert o2.regmap.decode_flags("status", int(r.values["status"]))["sensor_fail"]
        # A stuck cell holds its reading while the oven's O2 goes on rising.
        stuck = r.values["o2_ppm"]
        for _ in range(10):
            line.step(30.0)
        assert (await o2.poll()).values["o2_ppm"] == stuck
        analyzer = line.devices["o2_cure"]
        assert isinstance(analyzer, O2AnalyzerSim)
        assert analyzer.state.o2_ppm > stuck + 1000.0
        await bus.close()


async def test_dead_unit_costs_its_deadline_and_never_stalls_the_others() -> None:
    async with served_line() as line:
        bus = rtu_bus(line, timeout_s=0.2)
        dead = rtu_device(line, bus, "zone_C01")
        alive = rtu_device(line, bus, "zone_C02")
        line.devices["zone_C01"].faults.no_reply = True
        events: list[str] = []
        done = asyncio.Event()

        async def poll_dead() -> None:
            for _ in range(3):
                with pytest.raises(DeviceTimeout):
                    await dead.poll()
                events.append("dead-timeout")
            done.set()

        async def poll_alive() -> None:
            while not done.is_set():
                r = await alive.poll()
                assert r.errors == {}
                events.append("alive")

        await asyncio.gather(poll_dead(), poll_alive())
        starts = [i for i, e in enumerate(events) if e == "dead-timeout"]
        assert len(starts) == 3
        # Between the dead unit's attempts the others had the bus, several cycles each.
        for a, b in itertools.pairwise(starts):
            assert events[a + 1 : b].count("alive") >= 3, events
        await bus.close()


async def test_late_reply_is_never_taken_for_the_next_answer() -> None:
    async with served_line() as line:
        bus = rtu_bus(line, timeout_s=0.2)
        zone = rtu_device(line, bus, "zone_C03")
        other = rtu_device(line, bus, "zone_C04")
        await zone.write_setpoint("temp_sp_c", 250.0)
        await other.write_setpoint("temp_sp_c", 180.0)
        line.devices["zone_C03"].faults.delay_s = 0.3  # answers after the deadline
        with pytest.raises(DeviceTimeout):
            await zone.read("temp_sp_c")
        line.devices["zone_C03"].faults.delay_s = 0.0
        # Another unit asked while the late reply is on its way: answered by itself.
        assert await other.read("temp_sp_c") == pytest.approx(180.0)
        # The same unit, same function, same length: the late 250.0 must not answer it.
        assert await zone.read("ramp_c_per_min") == pytest.approx(0.0)
        assert await zone.read("temp_sp_c") == pytest.approx(250.0)
        await bus.close()


async def test_corrupt_crc_garbage_and_exception_replies() -> None:
    async with served_line() as line:
        bus = rtu_bus(line, timeout_s=0.2)
        zone = rtu_device(line, bus, "zone_C05")
        sim = line.devices["zone_C05"]
        sim.faults.corrupt_crc = True
        with pytest.raises(BadReply):
            await zone.poll()
        sim.faults.corrupt_crc = False
        sim.faults.garbage = True
        with pytest.raises(BadReply):
            await zone.poll()
        sim.faults.garbage = False
        sim.faults.exception_addresses[1] = 2
        with pytest.raises(DeviceRejected) as info:
            await zone.poll()
        assert info.value.code == 2
        sim.faults.exception_addresses.clear()
        words = zone.regmap["temp_sp_c"].encode(499.0)
        words[0] = 6000  # 600.0 °C: beyond the controller's range
        with pytest.raises(DeviceRejected) as info:
            await bus.write(0, words, zone.unit)
        assert info.value.code == 3
        assert (await zone.poll()).errors == {}
        await bus.close()


async def test_third_party_serial_client_reads_the_documented_addresses() -> None:
    async with served_line() as line:
        line.devices["zone_D1-1"].bank.set("temp_sp_c", 80.0)
        o2 = line.devices["o2_cure"]
        assert isinstance(o2, O2AnalyzerSim)
        o2.state = AtmosphereState(o2_ppm=42.5)
        o2.publish()
        path = line.buses["oven_bus"].path
        client = AsyncModbusSerialClient(path, baudrate=19200, parity="N", timeout=1, retries=0)
        assert await client.connect()
        rr = await client.read_holding_registers(0, count=1, device_id=1)
        assert rr.registers == [800]  # 80.0 °C at 0.1 °C per count
        ir = await client.read_input_registers(0, count=2, device_id=30)
        dt = client.DATATYPE
        assert client.convert_from_registers(ir.registers, dt.FLOAT32, word_order="little") == 42.5
        client.close()


async def test_heater_failure_and_stuck_sensor_show_on_the_wire() -> None:
    async with served_line() as line:
        bus = rtu_bus(line)
        zone = rtu_device(line, bus, "zone_D1-1")
        await zone.write_setpoint("temp_sp_c", 140.0)
        await zone.write_setpoint("output_enable", 1)
        for _ in range(60):
            line.step(60.0)
        hot = (await zone.poll()).values["temp_pv_c"]
        assert hot == pytest.approx(140.0, abs=0.5)
        line.devices["zone_D1-1"].faults.heater_failure = True
        for _ in range(30):
            line.step(60.0)
        r = await zone.poll()
        assert zone.regmap.decode_flags("status", int(r.values["status"]))["heater_fail"]
        assert r.values["temp_pv_c"] < hot - 50.0
        assert r.values["output_pct"] == pytest.approx(100.0)  # the loop asks, nothing heats
        line.devices["zone_D1-1"].faults.heater_failure = False
        line.devices["zone_D1-1"].faults.stuck_sensor = True
        frozen = (await zone.poll()).values["temp_pv_c"]
        for _ in range(30):
            line.step(60.0)
        assert (await zone.poll()).values["temp_pv_c"] == frozen
        sim_zone = line.devices["zone_D1-1"]
        assert isinstance(sim_zone, OvenZoneSim) and sim_zone.state.temp_c > frozen + 50.0
        await bus.close()


async def test_rtu_bus_on_a_socket_url() -> None:
    """The same bus behind pyserial's socket:// handler (a serial-to-Ethernet converter)."""

    cfg = load_config(DEFAULT_LINE)
    b = cfg.buses["oven_bus"]
    bus_spec = BusSpec(b.name, "socket", b.baudrate, b.parity, b.stopbits)
    line = SimLine(cfg.devices, buses={"oven_bus": bus_spec})
    await line.start()
    try:
        url = line.buses["oven_bus"].path
        assert url.startswith("socket://127.0.0.1:")
        link = ModbusRtuLink(AsyncSerialPort(SerialSettings(url, 19200, "N")), timeout_s=0.3)
        zone = ModbusDevice("zone_C10", MODBUS_MAPS["oven_zone"], UnitLink(link, 16), 16)
        assert await zone.write_setpoint("temp_sp_c", 210.0) == pytest.approx(210.0)
        assert (await zone.poll()).errors == {}
        line.devices["zone_C10"].faults.no_reply = True
        with pytest.raises(DeviceTimeout):
            await zone.poll()
        await link.close()
    finally:
        await line.stop()


def test_faults_from_the_simulator_config() -> None:
    cfg = load_config(DEFAULT_LINE)
    specs = [
        replace(s, faults={"no_reply": True, "exception_addresses": {"3": 2}})
        if s.name == "zone_C02"
        else s
        for s in cfg.devices
    ]
    line = SimLine(specs, buses=cfg.buses)
    f = line.devices["zone_C02"].faults
    assert f.no_reply and f.exception_addresses == {3: 2}
    bad = [replace(s, faults={"melt": True}) if s.name == "zone_C02" else s for s in cfg.devices]
    with pytest.raises(ValueError, match=r"devices.zone_C02.faults: unknown fault 'melt'"):
        SimLine(bad, buses=cfg.buses)


@pytest.mark.deadline(40)
async def test_a_reply_later_than_the_late_window_never_crosses_into_another_read() -> None:
    """0.7 s late at a 0.2 s deadline (the late-reply window is 0.4 s): the reply lands
    in the unit's next request of the same size. Never a crossed value, however often."""

    async with served_line() as line:
        bus = rtu_bus(line, timeout_s=0.2)
        zone = rtu_device(line, bus, "zone_C06")
        sim = line.devices["zone_C06"]
        truth = {"temp_sp_c": 250.0, "ramp_c_per_min": 5.0}
        for name, value in truth.items():
            await zone.write_setpoint(name, value)
        assert (await zone.poll()).errors == {}
        # Two one-register reads of the same unit: the same reply form.
        plan = [(i % 3 == 0, name) for i in range(15) for name in truth]
        values = 0
        for late, name in plan:
            sim.faults.delay_s = 0.7 if late else 0.0
            try:
                got = await zone.read(name)
            except DeviceTimeout:
                continue
            assert got == pytest.approx(truth[name]), (name, got)
            values += 1
        assert values >= len(plan) // 3  # reads succeed too: the test shows both sides
        assert bus.probes > 0  # the unit was resynchronised, not merely waited for
        await bus.close()


async def test_late_reply_of_one_unit_during_another_units_timeout_is_a_timeout() -> None:
    async with served_line() as line:
        bus = rtu_bus(line, timeout_s=0.2)
        late = rtu_device(line, bus, "zone_C07")
        silent = rtu_device(line, bus, "zone_C08")
        line.devices["zone_C07"].faults.delay_s = 0.3  # lands in the next transaction
        line.devices["zone_C08"].faults.no_reply = True
        with pytest.raises(DeviceTimeout):
            await late.read("temp_sp_c")
        # C07's reply arrives while C08 says nothing: C08 timed out (STALE, backoff),
        # it did not answer garbage (INVALID).
        with pytest.raises(DeviceTimeout):
            await silent.read("temp_sp_c")
        assert bus.unanswered(late.unit) == []  # and C07's late reply was accounted for
        line.devices["zone_C07"].faults.delay_s = 0.0
        line.devices["zone_C08"].faults.no_reply = False
        assert (await late.poll()).errors == {}
        await bus.close()


async def test_unsupported_function_gets_exception_1_and_the_next_request_is_kept() -> None:
    """Byte level: a request for function 0x2B followed at once by a read in one burst."""

    async with served_line() as line:
        sim = line.buses["oven_bus"]
        unit = line.specs["zone_C09"].unit
        odd = frame(unit, bytes([0x2B, 0x0E, 0x01, 0x00]))  # read device identification
        read = frame(unit, bytes([3, 0, 0, 0, 1]))
        assert sim.frames(odd + read[:3]) == [odd]
        assert sim.frames(read[3:]) == [read]
        # Through pyserial on the bus's pty, both in one write.
        port = serial.serial_for_url(sim.path, baudrate=19200, timeout=2.0)
        try:
            port.write(odd + read)
            exc = await asyncio.to_thread(port.read, 5)
            assert exc == frame(unit, bytes([0x2B | 0x80, 1]))  # illegal function
            ok = await asyncio.to_thread(port.read, 7)
            assert crc_ok(ok) and ok[:3] == bytes([unit, 3, 2])
        finally:
            port.close()
