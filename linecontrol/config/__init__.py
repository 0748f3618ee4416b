"""The configuration room: strict TOML models of the line (stations, devices, buses)
and of recipes, and the embedded default configs (package data ``linecontrol.configs``).
Other rooms import from ``linecontrol.config``, not its modules."""

from linecontrol.config.alarms import (
    ALARM_KINDS,
    CONSEQUENCES,
    AlarmDefinition,
    AlarmKind,
    AlarmPriority,
    Consequence,
    PackMLStateName,
)
from linecontrol.config.devices import (
    AnyDevice,
    AsciiDevice,
    BusConfig,
    DeviceConfig,
    RtuDevice,
    TcpDevice,
)
from linecontrol.config.line import (
    CoaterStation,
    CoatSide,
    LineConfig,
    LineInfo,
    OvenStation,
    PressStation,
    RewindStation,
    SputterStation,
    Station,
    StationKind,
    UnwindStation,
    UnwoundMaterial,
    Zone,
    load_line,
)
from linecontrol.config.paths import CONFIGS, DEFAULT_LINE, RECIPES
from linecontrol.config.recipe import INERT, ROUTES, Oven, Recipe, Route, RunEnd, load_recipe
from linecontrol.config.supervision import SupervisorSettings
from linecontrol.config.tomlfile import (
    StrictModel,
    load_model,
    read_toml,
    validate_model,
    validation_problems,
)

__all__ = [
    "ALARM_KINDS",
    "CONFIGS",
    "CONSEQUENCES",
    "DEFAULT_LINE",
    "INERT",
    "RECIPES",
    "ROUTES",
    "AlarmDefinition",
    "AlarmKind",
    "AlarmPriority",
    "AnyDevice",
    "AsciiDevice",
    "BusConfig",
    "CoatSide",
    "CoaterStation",
    "Consequence",
    "DeviceConfig",
    "LineConfig",
    "LineInfo",
    "Oven",
    "OvenStation",
    "PackMLStateName",
    "PressStation",
    "Recipe",
    "RewindStation",
    "Route",
    "RtuDevice",
    "RunEnd",
    "SputterStation",
    "Station",
    "StationKind",
    "StrictModel",
    "SupervisorSettings",
    "TcpDevice",
    "UnwindStation",
    "UnwoundMaterial",
    "Zone",
    "load_line",
    "load_model",
    "load_recipe",
    "read_toml",
    "validate_model",
    "validation_problems",
]
