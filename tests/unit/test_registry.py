"""One device registry: each instrument model is declared once, in ``drivers.devices``,
and everything else derives from it (pure: nothing here opens a link)."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from drivers.config import AnyDevice, AsciiDevice, RtuDevice, TcpDevice
from drivers.devices import ASCII_MODELS, MODBUS_MAPS, MODELS
from drivers.factories import make_device
from drivers.links.fake import FakeQueryLink, FakeRegisterLink
from drivers.spec import ChannelSpec, Command, ModelSpec
from linecontrol.acquisition import Acquisition, device_channels
from linecontrol.cli import main
from linecontrol.config import DEFAULT_LINE, load_line
from linecontrol.runtime import SystemClock
from simulators.ascii_devices import ASCII_MODELS as ASCII_SIMS
from simulators.devices import MODELS as MODBUS_SIMS

ROOT = Path(__file__).resolve().parents[2]


def test_the_set_of_models_is_the_same_everywhere(capsys: pytest.CaptureFixture[str]) -> None:
    models = set(MODELS)
    with pytest.raises(SystemExit):
        main(["regmap", "--help"])
    listed = re.search(r"a model \(([^)]*)\)", " ".join(capsys.readouterr().out.split()))
    assert listed is not None and set(listed.group(1).split(", ")) == models
    assert set(MODBUS_SIMS) | set(ASCII_SIMS) == models  # each model has its simulator
    assert set(MODBUS_MAPS) == {m for m in models if MODELS[m].protocol == "modbus"}
    assert (
        set(ASCII_MODELS) == set(ASCII_SIMS) == {m for m in models if MODELS[m].protocol == "ascii"}
    )
    for name, sim in MODBUS_SIMS.items():
        assert sim.regmap is MODELS[name].regmap  # the simulator serves the declared map


def test_every_model_validates_on_its_links_and_only_there() -> None:
    variants: dict[str, Callable[[str], AnyDevice]] = {
        "tcp": lambda m: TcpDevice.model_validate({"model": m, "link": "tcp"}),
        "rtu": lambda m: RtuDevice.model_validate({"model": m, "link": "rtu", "bus": "b"}),
        "ascii": lambda m: AsciiDevice.model_validate(
            {"model": m, "link": "ascii", "serial_port": "/dev/ttyS0"}
        ),
    }
    for name, spec in MODELS.items():
        for link, make in variants.items():
            if link in spec.links:
                assert make(name).model == name
            else:
                with pytest.raises(ValueError, match="does not speak link"):
                    make(name)


def test_acquisition_takes_channels_and_drivers_from_the_registry() -> None:
    line = load_line(DEFAULT_LINE)
    acq = Acquisition(line, SystemClock())
    seen = set()
    for name, d in line.devices.items():
        spec = MODELS[d.model]
        seen.add(d.model)
        assert [c.name for c in device_channels(name, d)] == [
            f"{name}.{c.name}" for c in spec.channels
        ]
        driver = acq.pollers[name].driver
        fake = FakeRegisterLink() if spec.regmap is not None else FakeQueryLink(lambda q: b"")
        assert type(driver) is type(make_device(spec, name, fake, d.link_address))
    assert seen == set(MODELS)  # the embedded line has one of every model


def _model_literals(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    return [
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value in MODELS
    ]


def _imports(path: Path) -> set[str]:
    out: set[str] = set()
    for n in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(n, ast.ImportFrom) and n.module:
            out.add(n.module)
        elif isinstance(n, ast.Import):
            out.update(a.name for a in n.names)
    return out


@pytest.mark.parametrize(
    "module",
    [
        "linecontrol/acquisition/wiring.py",
        "linecontrol/acquisition/service.py",
        "linecontrol/cli/regmap.py",
        "linecontrol/cli/record.py",
        "linecontrol/cli/sim.py",
        "drivers/config.py",
        "simulators/config.py",
        "simulators/line.py",
    ],
)
def test_no_per_model_branch_outside_the_declarations(module: str) -> None:
    """No model is named, and no model's module imported, where models are only used:
    adding a model touches its declaration and its simulator, nothing else."""
    path = ROOT / module
    assert _model_literals(path) == []
    assert {m for m in _imports(path) if m.startswith("drivers.devices.")} == set()


def test_a_declaration_is_checked_where_it_is_made() -> None:
    factory = "tests.nowhere:never_resolved"  # a declaration names its factory

    with pytest.raises(ValueError, match="channel names repeat"):
        ModelSpec("m", "ascii", "", (ChannelSpec("a"), ChannelSpec("a")), factory,
                  commands=(Command("A?", "A <x>", "a", "r"),))  # fmt: skip
    with pytest.raises(ValueError, match="command table"):
        ModelSpec("m", "ascii", "", (ChannelSpec("a"),), factory)
    with pytest.raises(ValueError, match="register map"):
        ModelSpec("m", "modbus", "", (ChannelSpec("a"),), factory)


def test_ascii_status_bits_decode_like_a_register_maps() -> None:
    zone = MODELS["oven_zone"]
    assert zone.regmap is not None
    assert zone.decode_flags("status", 0b101) == zone.regmap.decode_flags("status", 0b101)
    psu = MODELS["dc_psu"]
    assert psu.status_bits == psu.channel("status").bits
    assert psu.decode_flags("status", 0b10010) == {
        "output_on": False,
        "arc": True,
        "interlock_open": False,
        "overtemperature": False,
        "plasma_lost": True,
    }


DRIVER_MODULES = [
    *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "drivers/devices").glob("*.py")),
    *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "drivers/ascii").glob("*.py")),
    "drivers/factories.py",
    "drivers/device.py",
    "drivers/spec.py",
    "drivers/config.py",
]


@pytest.mark.parametrize("path", DRIVER_MODULES)
def test_drivers_take_a_link_interface_never_a_concrete_link(path: str) -> None:
    concrete = {m for m in _imports(ROOT / path) if m.startswith("drivers.links.")}
    assert concrete == set()  # only drivers.links (RegisterLink, QueryLink, Probe)
