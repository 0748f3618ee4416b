"""Drivers against their simulators over real Modbus TCP on loopback."""

from __future__ import annotations

import math

import pytest
from pymodbus.client import AsyncModbusTcpClient

from drivers.errors import (
    BadReply,
    CodecError,
    DeviceRejected,
    DeviceTimeout,
    DeviceUnreachable,
    SetpointError,
)
from simulators.devices import LineDriveSim
from simulators.models.web import WebState
from tests.integration.simline import served_line, tcp_device

pytestmark = pytest.mark.integration


async def test_a_poll_costs_one_transaction_per_block() -> None:
    async with served_line() as line:
        for name in ("drive", "coater_1", "press"):
            dev = tcp_device(line, name)
            server = line.tcp_server(name)
            before = server.requests
            result = await dev.poll()
            assert set(result.values) == set(dev.regmap.registers)
            assert result.errors == {}
            assert len(dev.blocks) == 2
            assert dev.link.transactions == len(dev.blocks)
            assert server.requests - before == len(dev.blocks)
            await dev.link.close()


async def test_setpoints_are_written_verified_and_drive_the_physics() -> None:
    async with served_line() as line:
        drive = tcp_device(line, "drive")
        assert await drive.write_setpoint("speed_sp_m_min", 0.5) == pytest.approx(0.5)
        assert await drive.write_setpoint("unwind_tension_sp_n", 80.0) == pytest.approx(80.0)
        await drive.write_setpoint("run_cmd", 1)
        for _ in range(100):  # 10 s of simulated time
            line.step(0.1)
        r = await drive.poll()
        assert r.values["speed_pv_m_min"] == pytest.approx(0.5)
        assert r.values["unwind_tension_pv_n"] == pytest.approx(80.0, abs=0.2)
        # ramp at 0.5 m/min/s reaches 0.5 m/min after 1 s; position integrates the rest
        assert r.values["web_position_m"] == pytest.approx(0.5 * (10 - 0.5) / 60, abs=2e-3)
        status = drive.regmap.decode_flags("status", int(r.values["status"]))
        assert status["running"] and status["at_speed"] and not status["web_break"]

        coater = tcp_device(line, "coater_1")
        await coater.write_setpoint("flow_sp_ml_min", 20.0)
        await coater.write_setpoint("coating_width_mm", 500.0)
        await coater.write_setpoint("head_down_cmd", 1)
        await coater.write_setpoint("pump_run_cmd", 1)
        for _ in range(300):
            line.step(0.1)
        c = await coater.poll()
        assert c.values["flow_pv_ml_min"] == pytest.approx(20.0, rel=1e-3)
        # wet thickness = flow / (width x speed) = 20 cm³/min / (50 cm x 50 cm/min) = 80 µm
        assert c.values["wet_thickness_um"] == pytest.approx(80.0, rel=1e-3)

        press = tcp_device(line, "press")
        await press.write_setpoint("roll_load_sp_kg", 1500.0)
        await press.write_setpoint("top_temp_sp_c", 320.0)
        await press.write_setpoint("nip_cmd", 1)
        for _ in range(60):
            line.step(0.1)
        p = await press.poll()
        assert p.values["roll_load_pv_kg"] == pytest.approx(1500.0)
        assert p.values["gap_um"] < 0
        for _ in range(360):  # one simulated hour in 10 s steps
            line.step(10.0)
        p = await press.poll()
        assert p.values["top_temp_pv_c"] == pytest.approx(320.0, abs=0.5)
        for dev in (drive, coater, press):
            await dev.link.close()


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 20.01, -0.01, "5"])
async def test_bad_setpoint_is_refused_and_nothing_is_sent(value: object) -> None:
    async with served_line() as line:
        drive = tcp_device(line, "drive")
        server = line.tcp_server("drive")
        with pytest.raises(SetpointError):
            await drive.write_setpoint("speed_sp_m_min", value)  # type: ignore[arg-type]
        assert server.requests == 0
        with pytest.raises(SetpointError, match="read-only"):
            await drive.write_setpoint("speed_pv_m_min", 1.0)
        assert server.requests == 0


async def test_device_refuses_out_of_range_value_with_exception_3() -> None:
    async with served_line() as line:
        drive = tcp_device(line, "drive")
        # Bypass the driver's own check: the instrument itself must refuse.
        words = drive.regmap["speed_sp_m_min"].encode(25.0)
        with pytest.raises(DeviceRejected) as info:
            await drive.link.write(2, words, 1)
        assert info.value.code == 3
        with pytest.raises(DeviceRejected) as info:
            await drive.link.read("holding", 40, 2, 1)
        assert info.value.code == 2
        await drive.link.close()


async def test_exception_fault_on_an_address() -> None:
    async with served_line() as line:
        press = tcp_device(line, "press")
        line.devices["press"].faults.exception_addresses[3] = 4
        with pytest.raises(DeviceRejected) as info:
            await press.poll()
        assert info.value.code == 4
        line.devices["press"].faults.exception_addresses.clear()
        assert (await press.poll()).errors == {}
        await press.link.close()


async def test_no_reply_is_a_timeout_and_recovery_is_clean() -> None:
    async with served_line() as line:
        dev = tcp_device(line, "drive", timeout_s=0.2)
        await dev.write_setpoint("speed_sp_m_min", 1.25)
        line.devices["drive"].faults.no_reply = True
        with pytest.raises(DeviceTimeout):
            await dev.poll()
        line.devices["drive"].faults.no_reply = False
        assert (await dev.poll()).values["speed_sp_m_min"] == pytest.approx(1.25)
        await dev.link.close()


async def test_late_reply_is_never_taken_for_the_next_answer() -> None:
    async with served_line() as line:
        dev = tcp_device(line, "coater_1", timeout_s=0.2)
        sim = line.devices["coater_1"]
        await dev.write_setpoint("flow_sp_ml_min", 12.5)
        sim.faults.delay_s = 0.4  # answers after the driver's deadline
        with pytest.raises(DeviceTimeout):
            await dev.read("flow_sp_ml_min")
        sim.faults.delay_s = 0.0
        # The late answer (12.5 for flow_sp) must not answer this different request.
        assert await dev.read("coating_gap_um") == 0
        assert await dev.read("flow_sp_ml_min") == pytest.approx(12.5)
        await dev.link.close()


async def test_dropped_connection_and_unreachable() -> None:
    async with served_line() as line:
        dev = tcp_device(line, "press", timeout_s=0.3)
        line.devices["press"].faults.drop_connection = True
        with pytest.raises((DeviceUnreachable, DeviceTimeout)):
            await dev.poll()
        line.devices["press"].faults.drop_connection = False
        assert (await dev.poll()).errors == {}
        await line.stop()
        # The first request may still go out on the half-closed connection and
        # time out; the reconnect after it is refused.
        with pytest.raises((DeviceUnreachable, DeviceTimeout)):
            await dev.poll()
        with pytest.raises(DeviceUnreachable):
            await dev.poll()
        await dev.link.close()


async def test_garbage_reply_is_a_typed_error() -> None:
    async with served_line() as line:
        dev = tcp_device(line, "drive", timeout_s=0.3)
        line.devices["drive"].faults.garbage = True
        # 9 random bytes: almost always a bad header at once, else an incomplete frame.
        bad = r"not Modbus|bytes received|header length|transaction id|unit id"
        with pytest.raises(BadReply, match=bad):
            await dev.poll()
        line.devices["drive"].faults.garbage = False
        assert (await dev.poll()).errors == {}
        await dev.link.close()


async def test_nan_from_the_device_is_an_error_not_a_value() -> None:
    async with served_line() as line:
        dev = tcp_device(line, "drive")
        line.devices["drive"].bank.set("speed_pv_m_min", math.nan)
        r = await dev.poll()
        assert "speed_pv_m_min" not in r.values
        assert isinstance(r.errors["speed_pv_m_min"], CodecError)
        assert "web_position_m" in r.values  # the rest of the block is still good
        await dev.link.close()


async def test_third_party_client_reads_the_documented_addresses() -> None:
    """pymodbus's own client, not our driver: the register map is true on the wire."""

    async with served_line() as line:
        drive = line.devices["drive"]
        assert isinstance(drive, LineDriveSim)
        drive.bank.set("speed_sp_m_min", 3.75)
        drive.state = WebState(position_m=1234.567)
        drive.publish()
        line.devices["coater_1"].bank.set("flow_sp_ml_min", 42.5)
        line.devices["press"].bank.set("top_temp_sp_c", 321.4)
        for name, check in [("drive", "drive"), ("coater_1", "coater"), ("press", "press")]:
            server = line.tcp_server(name)
            client = AsyncModbusTcpClient("127.0.0.1", port=server.port, timeout=1, retries=0)
            assert await client.connect()
            dt = client.DATATYPE
            if check == "drive":
                rr = await client.read_holding_registers(2, count=2, device_id=1)
                assert client.convert_from_registers(rr.registers, dt.FLOAT32) == 3.75
                ir = await client.read_input_registers(6, count=2, device_id=1)
                raw = client.convert_from_registers(ir.registers, dt.UINT32, word_order="little")
                assert raw == 1234567  # mm: 1234.567 m at scale 0.001, low word first
            elif check == "coater":
                rr = await client.read_holding_registers(2, count=2, device_id=1)
                assert (
                    client.convert_from_registers(rr.registers, dt.FLOAT32, word_order="little")
                    == 42.5
                )
            else:
                rr = await client.read_holding_registers(1, count=1, device_id=1)
                assert client.convert_from_registers(rr.registers, dt.INT16) == 3214
                bad = await client.read_holding_registers(100, count=1, device_id=1)
                assert bad.isError() and bad.exception_code == 2
            client.close()


async def test_web_break_and_press_overload_show_on_the_wire() -> None:
    async with served_line() as line:
        drive = tcp_device(line, "drive")
        await drive.write_setpoint("speed_sp_m_min", 1.0)
        await drive.write_setpoint("unwind_tension_sp_n", 100.0)
        await drive.write_setpoint("run_cmd", 1)
        for _ in range(100):
            line.step(0.1)
        line.devices["drive"].faults.web_break = True
        for _ in range(30):
            line.step(0.1)
        r = await drive.poll()
        flags = drive.regmap.decode_flags("status", int(r.values["status"]))
        assert flags["web_break"] and r.values["fault_code"] == 1
        assert r.values["unwind_tension_pv_n"] == 0.0
        assert r.values["speed_pv_m_min"] < 1.0

        press = tcp_device(line, "press")
        await press.write_setpoint("roll_load_sp_kg", 2000.0)
        await press.write_setpoint("nip_cmd", 1)
        for _ in range(50):
            line.step(0.1)
        line.devices["press"].faults.press_overload = True
        line.step(0.1)
        p = await press.poll()
        flags = press.regmap.decode_flags("status", int(p.values["status"]))
        assert flags["overload"] and not flags["nip_closed"]
        for dev in (drive, press):
            await dev.link.close()


async def test_position_reset_command_zeroes_the_web_position() -> None:
    """A self-clearing command: the PLC clears it as it acts, so it is sent as a
    command (never verified by read-back) and its effect is the web position."""

    async with served_line() as line:
        drive = tcp_device(line, "drive")
        await drive.write_setpoint("speed_sp_m_min", 6.0)
        await drive.write_setpoint("run_cmd", 1)
        for _ in range(100):  # 10 s of simulated time
            line.step(0.1)
        travelled = await drive.read("web_position_m")
        assert travelled > 0.3
        server = line.tcp_server("drive")
        before = server.requests
        with pytest.raises(SetpointError, match="self-clearing command"):
            await drive.write_setpoint("position_reset_cmd", 1)
        assert server.requests == before  # refused: nothing sent
        await drive.command("position_reset_cmd")
        assert server.requests == before + 1  # one write, no read-back
        assert await drive.read("web_position_m") == 0.0
        assert await drive.read("position_reset_cmd") == 0  # the PLC cleared it
        line.step(1.0)  # the web keeps moving: counting restarts from zero
        assert 0.05 < await drive.read("web_position_m") < 0.1 < travelled
        await drive.link.close()


async def test_whole_numbers_and_decimal_rounding_on_the_wire() -> None:
    async with served_line() as line:
        drive = tcp_device(line, "drive")
        press = tcp_device(line, "press")
        with pytest.raises(SetpointError, match="whole numbers only"):
            await drive.write_setpoint("run_cmd", 0.6)
        assert line.tcp_server("drive").requests == 0
        assert line.devices["drive"].bank.get("run_cmd") == 0
        assert await press.write_setpoint("top_temp_sp_c", 349.95) == pytest.approx(350.0)
        assert line.devices["press"].bank.holding[1] == 3500
        await drive.link.close()
        await press.link.close()
