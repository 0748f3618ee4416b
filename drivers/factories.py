"""Building a device's driver from its model's declaration: the shell side of the registry.

A declaration (``drivers.spec.ModelSpec``, collected in ``drivers.devices.MODELS``) is
pure data and names its factory by dotted path; this module resolves the path and calls
the factory. Only the code that builds drivers imports it (acquisition's wiring, tests,
benchmarks): reading the registry (config validation, recipe bindings, ``regmap``)
imports no driver, device or link.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import cache
from typing import Any, cast

from drivers.device import Device, ModbusDevice
from drivers.errors import DeclarationError
from drivers.links import QueryLink, RegisterLink
from drivers.spec import ModelSpec

# (the model's declaration, the device's name, its link, its address on the link) -> driver.
Factory = Callable[[ModelSpec, str, Any, int], Device]


def modbus_device(spec: ModelSpec, name: str, link: RegisterLink, unit: int) -> Device:
    """The factory of every Modbus model (``drivers.spec.MODBUS_FACTORY``)."""
    if spec.regmap is None:
        raise DeclarationError(f"{spec.model}: a Modbus device needs a register map")
    return ModbusDevice(name, spec.regmap, link, unit)


@cache
def factory_of(path: str) -> Factory:
    """The factory at ``path`` (``package.module:function``); ``DeclarationError`` if
    there is none."""
    module, _, attr = path.partition(":")
    try:
        found = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise DeclarationError(f"factory {path!r} not found: {exc}") from exc
    if not callable(found):
        raise DeclarationError(f"factory {path!r} is not callable")
    return cast(Factory, found)


def make_device(
    spec: ModelSpec, name: str, link: RegisterLink | QueryLink, address: int = 1
) -> Device:
    """The driver of device ``name`` of model ``spec`` on ``link``, at its unit id or bus
    ``address``."""
    return factory_of(spec.factory)(spec, name, link, address)


__all__ = ["Factory", "factory_of", "make_device", "modbus_device"]
