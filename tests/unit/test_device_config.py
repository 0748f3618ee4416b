"""Config validated once: one set of device and bus models (``drivers.config``) for the
application and the simulators, a union discriminated on ``link``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import drivers.config
import linecontrol.config
from drivers.config import TcpDevice
from linecontrol.config import DEFAULT_LINE, load_line
from linecontrol.errors import InputFileError
from simulators.config import SimConfigError, load_config
from simulators.errors import SimulatorError


def write_line(tmp_path: Path, change: dict[str, Any]) -> Path:
    """The embedded line with the tables of ``change`` (``{"devices": {NAME: fields}}``)
    in place of its own of those names."""
    lines = [_without(DEFAULT_LINE.read_text(encoding="utf-8"), change)]
    for table, entries in change.items():
        for name, fields in entries.items():
            lines.append(f"[{table}.{name}]")
            lines += [f"{k} = {_toml(v)}" for k, v in fields.items()]
    out = tmp_path / "line.toml"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def _toml(value: Any) -> str:
    if isinstance(value, dict):  # an inline table
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


def _without(text: str, change: dict[str, Any]) -> str:
    drop = {f"[{t}.{n}]" for t, entries in change.items() for n in entries}
    out, skipping = [], False
    for line in text.splitlines():
        if line.startswith("["):
            skipping = line.strip() in drop
        if not skipping:
            out.append(line)
    return "\n".join(out) + "\n"


def problems_of_both(path: Path) -> tuple[list[str], list[str]]:
    with pytest.raises(InputFileError) as app:
        load_line(path)
    with pytest.raises(SimConfigError) as sim:
        load_config(path)
    return [str(p) for p in app.value.problems], sim.value.problems


def test_the_application_and_the_simulators_share_the_models() -> None:
    assert linecontrol.config.DeviceConfig is drivers.config.DeviceConfig
    assert linecontrol.config.BusConfig is drivers.config.BusConfig
    line = load_line(DEFAULT_LINE)
    sim = load_config(DEFAULT_LINE)
    assert [s.name for s in sim.devices] == list(line.devices)
    for spec in sim.devices:
        d = line.devices[spec.name]
        assert (spec.model, spec.link, spec.station, spec.zone) == (
            d.model,
            d.link,
            d.station,
            d.zone,
        )


@pytest.mark.parametrize(
    ("fields", "where", "what"),
    [
        ({"model": "press", "link": "tcp", "prot": 0}, "devices.press.prot", "unknown key"),
        ({"model": "press", "link": "tcp", "port": "x"}, "devices.press.port", "integer"),
        ({"model": "press", "link": "tcp", "unit": 300}, "devices.press.unit", "247"),
        ({"model": "pres", "link": "tcp"}, "devices.press.model", "unknown model 'pres'"),
        ({"model": "press", "link": "ascii", "serial_port": "pty"}, "devices.press", "speak"),
        ({"model": "press", "link": "udp"}, "devices.press", "'tcp', 'rtu', 'ascii'"),
        ({"model": "press", "link": "rtu"}, "devices.press.bus", "missing"),
        (
            {"model": "press", "link": "tcp", "faults": ["no_reply"]},
            "devices.press.faults",
            "dictionary",
        ),
    ],
)
def test_a_bad_device_is_refused_by_both_at_the_same_field(
    tmp_path: Path, fields: dict[str, Any], where: str, what: str
) -> None:
    """The same models refuse it, and both name the file and the field as the user
    wrote it (no union tag in the path)."""
    path = write_line(tmp_path, {"devices": {"press": fields}})
    app, sim = problems_of_both(path)
    for found in (app, sim):
        assert len(found) == 1, found
        assert found[0].startswith(f"{path}: {where}: ") or found[0].startswith(
            f"{path}: {where} "
        ), found
        assert what in found[0], found


def test_a_simulator_only_key_is_validated_once_for_both(tmp_path: Path) -> None:
    path = write_line(
        tmp_path,
        {"buses": {"oven_bus": {"port": "pty", "parity": "N", "wire_bits_per_char": 9}}},
    )
    app, sim = problems_of_both(path)
    assert [p.split(": ")[1] for p in app] == [p.split(": ")[1] for p in sim]
    assert sim[0].split(": ")[1] == "buses.oven_bus.wire_bits_per_char"


def test_what_only_a_simulator_needs_is_checked_by_the_simulator(tmp_path: Path) -> None:
    path = write_line(
        tmp_path,
        {
            "devices": {
                "press": {"model": "press", "link": "tcp", "host": "10.0.0.5", "port": 502},
                "sputter_psu": {"model": "dc_psu", "link": "ascii", "serial_port": "/dev/ttyS1"},
            }
        },
    )
    load_line(path)  # the application can reach these
    with pytest.raises(SimConfigError) as info:
        load_config(path)
    assert info.value.problems == [
        f"{path}: devices.press.host = '10.0.0.5': simulators listen on loopback only",
        f"{path}: devices.sputter_psu.serial_port = '/dev/ttyS1': "
        "the simulator serves 'pty' or 'socket'",
    ]


def test_a_simulated_tcp_device_without_a_port_gets_any_free_one(tmp_path: Path) -> None:
    path = write_line(tmp_path, {"devices": {"press": {"model": "press", "link": "tcp"}}})
    press = load_line(path).devices["press"]
    assert isinstance(press, TcpDevice) and press.port == 502  # the application's default
    spec = next(s for s in load_config(path).devices if s.name == "press")
    assert spec.port == 0


def test_sim_config_errors_have_a_root(tmp_path: Path) -> None:
    assert issubclass(SimConfigError, SimulatorError) and issubclass(SimConfigError, ValueError)
    missing = tmp_path / "none.toml"
    with pytest.raises(SimConfigError, match=str(missing)):
        load_config(missing)
    empty = tmp_path / "empty.toml"
    empty.write_text("[line]\nname = 'x'\n", encoding="utf-8")
    with pytest.raises(SimConfigError, match=r"devices: a \[devices.NAME\] table"):
        load_config(empty)


RTU = {"model": "oven_zone", "station": "dryer_1", "zone": "D1-2", "link": "rtu"}
PSU = {"model": "dc_psu", "station": "sputter", "link": "ascii"}
GAUGE = {"model": "vacuum_gauge", "station": "sputter", "link": "ascii", "address": 1}
BUS = {"port": "pty", "baudrate": 19200, "parity": "N", "wire_bits_per_char": 11}
O2 = {"model": "o2_analyzer", "station": "cure_oven", "link": "rtu", "bus": "oven_bus"}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"devices": {"zone_D1-2": {**RTU, "bus": "oven_bus", "unit": 1}}},
            ["devices.zone_D1-2.unit: unit 1 of bus oven_bus is taken by devices.zone_D1-1"],
        ),
        (
            {
                "devices": {
                    "press": {"model": "press", "link": "tcp", "port": 1502, "unit": 3},
                    "coater_1": {"model": "coater", "link": "tcp", "port": 1502, "unit": 3},
                }
            },
            ["devices.coater_1.unit: unit 3 at 127.0.0.1:1502 is taken by devices.press"],
        ),
        (
            {
                "buses": {
                    "oven_bus": {**BUS, "port": "/dev/ttyUSB0"},
                    "b2": {"port": "/dev/ttyUSB0"},
                }
            },
            ["buses.b2.port: '/dev/ttyUSB0' is already the port of buses.oven_bus"],
        ),
        (
            {
                "devices": {
                    "sputter_psu": {**PSU, "serial_port": "/dev/ttyS1"},
                    "sputter_gauge": {**GAUGE, "serial_port": "/dev/ttyS1"},
                }
            },
            [
                "devices.sputter_gauge.serial_port: serial port '/dev/ttyS1' is taken by "
                "devices.sputter_psu"
            ],
        ),
        (
            {
                "buses": {"oven_bus": {**BUS, "port": "/dev/ttyUSB0"}},
                "devices": {"sputter_psu": {**PSU, "serial_port": "/dev/ttyUSB0"}},
            },
            ["devices.sputter_psu.serial_port: '/dev/ttyUSB0' is the port of buses.oven_bus"],
        ),
        (
            {"devices": {"o2_cure": {**O2, "unit": 30, "purge_from": "zone_C01"}}},
            ["devices.o2_cure.purge_from: 'zone_C01' must name an N2 flow controller of [devices]"],
        ),
        (
            {"devices": {"zone_D1-2": {**RTU, "bus": "oven_bus", "unit": 2, "purge_from": "x"}}},
            ["devices.zone_D1-2.purge_from: only an O2 analyzer has a purge_from"],
        ),
        (
            {"devices": {"zone_D1-2": {**RTU, "bus": "nobus", "unit": 2}}},
            ["devices.zone_D1-2.bus: 'nobus' is not one of the [buses] ['oven_bus']"],
        ),
    ],
)
def test_a_collision_is_refused_by_both_with_the_same_message(
    tmp_path: Path, change: dict[str, Any], expected: list[str]
) -> None:
    """Config validated once: the application refuses every line the simulators refuse
    (it used to accept all of these and record from them), with the same lines."""
    path = write_line(tmp_path, change)
    app, sim = problems_of_both(path)
    assert app == sim == [f"{path}: {e}" for e in expected]


def test_the_simulated_placeholders_are_no_collision(tmp_path: Path) -> None:
    """Port 0 (any free port) and the serial ports pty/socket are shared by design."""
    path = write_line(
        tmp_path,
        {
            "devices": {
                "press": {"model": "press", "link": "tcp", "port": 0, "unit": 1},
                "coater_1": {"model": "coater", "link": "tcp", "port": 0, "unit": 1},
                "sputter_psu": {**PSU, "serial_port": "pty"},
                "sputter_gauge": {**GAUGE, "serial_port": "pty"},
            },
            "buses": {"oven_bus": BUS, "b2": {"port": "pty"}},
        },
    )
    load_line(path)
    load_config(path)


def test_an_unknown_or_bad_fault_is_refused_by_both(tmp_path: Path) -> None:
    path = write_line(
        tmp_path, {"devices": {"press": {"model": "press", "link": "tcp", "faults": {"melt": 1}}}}
    )
    app, sim = problems_of_both(path)
    assert (
        app
        == sim
        == [
            f"{path}: devices.press.faults.melt: unknown key (not part of the "
            "schema; check its spelling)"
        ]
    )
    path = write_line(
        tmp_path,
        {"devices": {"press": {"model": "press", "link": "tcp", "faults": {"delay_s": -1.0}}}},
    )
    app, sim = problems_of_both(path)
    assert [p.split(": ")[1] for p in app] == [p.split(": ")[1] for p in sim]
    assert app[0].startswith(f"{path}: devices.press.faults.delay_s: ")


def test_the_faults_model_has_the_simulators_faults() -> None:
    """The shared model and ``simulators.faults.Faults`` name the same faults; a TOML
    fault table reaches the simulated device."""
    from dataclasses import fields

    from simulators.faults import Faults

    assert set(drivers.config.FaultsConfig.model_fields) == {f.name for f in fields(Faults)}


def test_a_fault_table_reaches_the_simulated_device(tmp_path: Path) -> None:
    path = write_line(
        tmp_path,
        {
            "devices": {
                "press": {
                    "model": "press",
                    "link": "tcp",
                    "faults": {"delay_s": 2, "exception_addresses": {"100": 3}},
                }
            }
        },
    )
    spec = next(s for s in load_config(path).devices if s.name == "press")
    faults = __import__("simulators.faults", fromlist=["Faults"]).Faults()
    faults.update(spec.faults)
    assert (faults.delay_s, faults.exception_addresses, faults.web_break) == (2.0, {100: 3}, False)


def test_an_empty_devices_table_is_refused_by_both(tmp_path: Path) -> None:
    text = DEFAULT_LINE.read_text(encoding="utf-8")
    head = text[: text.index("[devices.")]
    path = tmp_path / "line.toml"
    path.write_text(head + "\n[devices]\n", encoding="utf-8")
    app, sim = problems_of_both(path)
    assert app == sim == [f"{path}: devices: empty table: a [devices.NAME] table per instrument"]


@pytest.mark.parametrize("name", ['"sputter.gauge"', '""', '"a b"'])
def test_a_device_name_that_would_lose_its_data_is_refused(tmp_path: Path, name: str) -> None:
    """A channel is DEVICE.FIELD, split at the first dot: ``sputter.gauge.pressure``
    would be read as device ``sputter``; such names are refused by both."""
    text = _without(
        DEFAULT_LINE.read_text(encoding="utf-8"), {"devices": {"sputter_gauge": {}}}
    ).replace('"sputter_gauge.', '"sputter_psu.')
    fields = "\n".join(f"{k} = {json.dumps(v)}" for k, v in GAUGE.items())
    path = tmp_path / "line.toml"
    path.write_text(text + f'\n[devices.{name}]\n{fields}\nserial_port = "socket"\n', "utf-8")
    app, sim = problems_of_both(path)
    assert len(app) == 1 and app == sim, (app, sim)
    assert "letters, digits, '_' and '-' only" in app[0]


def test_an_ascii_baud_rate_is_one_of_the_serial_rates(tmp_path: Path) -> None:
    path = write_line(
        tmp_path,
        {"devices": {"sputter_psu": {**PSU, "serial_port": "pty", "baudrate": 999999999999}}},
    )
    app, sim = problems_of_both(path)
    assert len(app) == len(sim) == 1
    for found in (app, sim):
        assert found[0].startswith(f"{path}: devices.sputter_psu.baudrate: "), found
        assert "115200" in found[0]


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("x = " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
        ("x = " + "{ a = " * 5000 + "1" + " }" * 5000 + "\n", "nested too deeply"),
        ("x = " + "9" * 5000 + "\n", "out of range"),
    ],
    ids=["arrays", "inline-tables", "5000-digits"],
)
def test_toml_the_parser_cannot_take_is_one_clean_error(
    tmp_path: Path, text: str, what: str
) -> None:
    """Both loaders (and so every command reading TOML) refuse it with one line naming
    the file; it used to be a RecursionError or ValueError traceback."""
    path = tmp_path / "deep.toml"
    path.write_text(text, encoding="utf-8")
    app, sim = problems_of_both(path)
    assert len(app) == len(sim) == 1
    for found in (app, sim):
        assert found[0].startswith(f"{path}: "), found
        assert what in found[0], found


def test_a_byte_order_mark_is_skipped_by_both(tmp_path: Path) -> None:
    path = tmp_path / "line.toml"
    path.write_text("\ufeff" + DEFAULT_LINE.read_text(encoding="utf-8"), encoding="utf-8")
    assert load_line(path) == load_line(DEFAULT_LINE)
    assert load_config(path) == load_config(DEFAULT_LINE)


def test_a_syntax_error_names_the_line_in_both(tmp_path: Path) -> None:
    path = tmp_path / "line.toml"
    path.write_text("[line]\nname = \n", encoding="utf-8")
    app, sim = problems_of_both(path)
    assert app == sim
    assert app[0].startswith(f"{path}:2: TOML syntax error: "), app


@pytest.mark.parametrize("command", ["record", "run"])
def test_a_command_that_needs_instruments_refuses_a_line_without_any(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """B9: record used to write a run whose every batch failed (zero channels)."""
    from linecontrol.cli import main

    text = DEFAULT_LINE.read_text(encoding="utf-8")
    path = tmp_path / "line.toml"
    path.write_text(text[: text.index("[devices.")], encoding="utf-8")
    assert load_line(path).devices == {}  # a line without instruments is a line
    data = tmp_path / "runs"
    data.mkdir()
    args = ["--duration", "0.3"] if command == "record" else []
    assert main([command, "--config", str(path), "--data-dir", str(data), *args]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: line config: {path}: devices: the line has no [devices.NAME] table; "
        f"{command} needs at least one instrument\n"
    )
    assert list(data.iterdir()) == []
