"""``linecontrol regmap`` and ``linecontrol sim`` as a user runs them."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from drivers.device import ModbusDevice
from drivers.devices import MODBUS_MAPS
from drivers.links.modbus_tcp import ModbusTcpLink
from linecontrol.cli import main

pytestmark = pytest.mark.integration


def test_regmap_json_is_the_map(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["regmap", "press", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    regs = {r["name"]: r for r in data["registers"]}
    assert regs["roll_load_sp_kg"] == {
        "name": "roll_load_sp_kg",
        "table": "holding",
        "address": 3,
        "count": 2,
        "type": "f32",
        "word_order": "big",
        "scale": 1.0,
        "unit": "kg",
        "access": "rw",
        "min": 0.0,
        "max": 40000.0,
        "bits": None,
        "description": "",
    }
    assert set(regs) == set(MODBUS_MAPS["press"].registers)


def test_regmap_by_device_name_and_ascii(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["regmap", "zone_C01"]) == 0
    out = capsys.readouterr().out
    assert "holding  0     1  i16" in out and "temp_sp_c" in out
    assert "status bits: 0=sensor_break" in out
    assert main(["regmap", "sputter_psu"]) == 0
    assert "PSET <kW>" in capsys.readouterr().out
    assert main(["regmap", "nothing"]) == 2
    assert "unknown device 'nothing'" in capsys.readouterr().err


@pytest.mark.deadline(40)
async def test_sim_prints_its_address_map_serves_and_stops_cleanly() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "linecontrol",
        "sim",
        "--time-scale",
        "50",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        first = await asyncio.wait_for(proc.stdout.readline(), 20)  # type: ignore[union-attr]
        amap = json.loads(first)
        devices = amap["devices"]
        assert all("port" in d for d in devices.values()), devices
        assert {d["link"] for d in devices.values()} == {"tcp", "rtu", "ascii"}
        assert amap["buses"]["oven_bus"]["units"][:3] == [1, 2, 3]
        d = devices["drive"]
        link = ModbusTcpLink(d["host"], d["port"], timeout_s=1.0)
        drive = ModbusDevice("drive", MODBUS_MAPS["line_drive"], link)
        assert await drive.write_setpoint("speed_sp_m_min", 2.0) == 2.0
        r = await drive.poll()
        assert r.errors == {} and r.values["speed_sp_m_min"] == 2.0
        await link.close()
        proc.send_signal(signal.SIGTERM)
        rc = await asyncio.wait_for(proc.wait(), 10)
        err = await proc.stderr.read()  # type: ignore[union-attr]
        assert rc == 0, err
        assert b"simulators stopped" in err and b"Traceback" not in err
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["sim", "--config", "/nonexistent/line.toml"],
            "error: line config: /nonexistent/line.toml: cannot read file: No such file or "
            "directory",
        ),
        (["sim", "--time-scale", "0"], "error: --time-scale = 0: must be above 0 and below 1e+06"),
        (["sim", "--time-scale", "1e6"], "error: --time-scale = 1e+06: must be above 0 and below"),
        (["sim", "--time-scale", "nan"], "linecontrol sim: error: argument --time-scale: 'nan'"),
        # record --sim took 1e6, which the simulators refuse: a garbled error after start.
        (
            ["record", "--sim", "--duration", "1", "--time-scale", "1e6"],
            "error: --time-scale = 1e+06: must be above 0 and below",
        ),
    ],
)
def test_a_bad_config_or_time_scale_is_named_in_the_users_words(
    args: list[str], expected: str, tmp_path: Path
) -> None:
    """``linecontrol sim`` (and ``record --sim``) check the config and the time scale
    themselves: one line naming what the user typed, exit 2, never the simulators' own
    program name, a raw errno text, or a simulator started for nothing."""
    proc = subprocess.run(
        [sys.executable, "-m", "linecontrol", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "LINECONTROL_DATA": str(tmp_path / "runs")},
    )
    assert proc.returncode == 2, proc.stderr
    assert expected in proc.stderr
    assert "python -m simulators" not in proc.stderr and "Errno" not in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert not (tmp_path / "runs").exists()


def test_the_simulators_name_file_and_field_of_each_problem(tmp_path: Path) -> None:
    """``python -m simulators`` validates with the application's models: one line per
    problem, each naming the file and the field as written, exit 2, nothing served."""
    bad = tmp_path / "line.toml"
    bad.write_text(
        '[devices.press]\nmodel = "press"\nlink = "tcp"\nport = "x"\n'
        '[devices.psu]\nmodel = "dc_psu"\nlink = "tcp"\n'
        '[buses.b]\nport = "pty"\nwire_bits_per_char = 9\n',
        encoding="utf-8",
    )
    proc = subprocess.run(
        [sys.executable, "-m", "simulators", "--config", str(bad)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert [e.split(": ")[2] for e in errors] == [
        "devices.press.port",
        "devices.psu",
        "buses.b.wire_bits_per_char",
    ]
    assert all(e.startswith(f"error: {bad}: ") for e in errors)
    assert "does not speak link 'tcp'" in errors[1]


def test_regmap_with_a_line_config_that_cannot_be_read_says_so(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A model name needs no line config, but one the user names is read (it was ignored).
    assert main(["regmap", "press", "--line", "/nonexistent/line.toml"]) == 2
    err = capsys.readouterr().err
    assert "error: line config: /nonexistent/line.toml: cannot read file" in err
    assert main(["regmap", "zone_C01", "--line", "/nonexistent/line.toml"]) == 2
    capsys.readouterr()
