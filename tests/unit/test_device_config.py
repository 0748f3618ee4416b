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
            lines += [f"{k} = {json.dumps(v)}" for k, v in fields.items()]
    out = tmp_path / "line.toml"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


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
