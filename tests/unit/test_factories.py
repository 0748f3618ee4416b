"""Building drivers from declarations (``drivers.factories``): a declaration names its
factory by path, checked where it is made and resolved only where drivers are built."""

from __future__ import annotations

import pytest

from drivers.devices import MODELS
from drivers.errors import DeclarationError
from drivers.factories import factory_of, make_device
from drivers.links.fake import FakeQueryLink, FakeRegisterLink
from drivers.spec import MODBUS_FACTORY, ChannelSpec, Command, ModelSpec

TABLE = (Command("A?", "A <x>", "a", "r"),)


def test_every_declared_factory_builds_a_driver_of_its_model() -> None:
    for name, spec in MODELS.items():
        assert callable(factory_of(spec.factory))
        link = FakeRegisterLink() if spec.regmap is not None else FakeQueryLink(lambda q: b"")
        driver = make_device(spec, f"my_{name}", link, 1)
        assert driver.name == f"my_{name}"
        assert (spec.factory == MODBUS_FACTORY) == (spec.protocol == "modbus")


def test_a_factory_that_is_not_a_path_is_refused_where_it_is_declared() -> None:
    for bad in ("", "make", "drivers.ascii.dc_psu", "drivers/ascii:make", "a:b:c"):
        with pytest.raises(DeclarationError, match="not a path"):
            ModelSpec("m", "ascii", "", (ChannelSpec("a"),), bad, commands=TABLE)


def test_a_factory_that_is_not_there_is_a_declaration_error() -> None:
    for path in ("drivers.nowhere:make", "drivers.ascii.dc_psu:nothing", "drivers.spec:LINKS"):
        spec = ModelSpec("m", "ascii", "", (ChannelSpec("a"),), path, commands=TABLE)
        with pytest.raises(DeclarationError, match="factory"):
            make_device(spec, "m", FakeQueryLink(lambda q: b""), 1)


def test_the_modbus_factory_needs_a_register_map() -> None:
    spec = ModelSpec("m", "ascii", "", (ChannelSpec("a"),), MODBUS_FACTORY, commands=TABLE)
    with pytest.raises(DeclarationError, match="register map"):
        make_device(spec, "m", FakeRegisterLink(), 1)
