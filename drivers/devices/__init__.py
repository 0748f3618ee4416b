"""The registry of the line's instrument models: one module a model, collected here.

Each module ``drivers/devices/<model>.py`` declares ``MODEL`` (a
``drivers.spec.ModelSpec``: protocol, channels, register map or command table, and
the dotted path of its factory). This package finds them by walking its own modules,
so no list of models is kept anywhere: the config validation, ``linecontrol regmap``,
the recipe bindings, acquisition and the simulators' checks all read ``MODELS``. Adding
a model is adding its module, its simulator (an ASCII model also its driver,
``drivers/ascii/<model>.py``), and, because the tests run every model, a device of it
with its ``comm_loss`` alarm in both shipped line configs (the README, "Adding an
instrument model").

Pure: a declaration is data, so importing the registry imports no driver, device or
link (``drivers.factories`` builds the drivers).
"""

from __future__ import annotations

import importlib
import pkgutil
from types import MappingProxyType

from drivers.errors import DeclarationError
from drivers.regmap import RegisterMap
from drivers.spec import ModelSpec


def _collect() -> dict[str, ModelSpec]:
    found: dict[str, ModelSpec] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        spec = getattr(importlib.import_module(f"{__name__}.{info.name}"), "MODEL", None)
        if not isinstance(spec, ModelSpec):
            raise DeclarationError(
                f"{__name__}.{info.name} declares no MODEL (a drivers.spec.ModelSpec)"
            )
        if spec.model in found:
            raise DeclarationError(f"instrument model {spec.model!r} is declared twice")
        found[spec.model] = spec
    return found


MODELS: MappingProxyType[str, ModelSpec] = MappingProxyType(_collect())

# Views of the registry, by protocol.
MODBUS_MAPS: dict[str, RegisterMap] = {
    n: s.regmap for n, s in MODELS.items() if s.regmap is not None
}
ASCII_MODELS: tuple[str, ...] = tuple(n for n, s in MODELS.items() if s.protocol == "ascii")

__all__ = ["ASCII_MODELS", "MODBUS_MAPS", "MODELS", "ModelSpec"]
