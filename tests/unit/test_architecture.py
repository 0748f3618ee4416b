"""The walls of docs/architecture.md, checked on the source (an ``ast`` walk) so they cannot rot.

Each rule is a function from one module (its dotted name and source) to the list of its
violations; the tests run every rule over every module of ``linecontrol``, ``drivers`` and
``simulators`` (expecting none), and over synthetic sources that break it (expecting some),
so a rule that could never fail is itself a failure. Imports are the module's direct imports,
anywhere in the file (inside functions and ``if TYPE_CHECKING:`` too), relative ones resolved;
``from pkg import sub`` counts as importing ``pkg.sub`` when that is a module.

- Layers: drivers imports neither linecontrol nor simulators; simulators never import
  linecontrol; linecontrol never imports simulators.
- Rooms (the subpackages of linecontrol): each ``__init__`` declares ``__all__``; another room
  imports a room only through its package (``linecontrol.config``, never
  ``linecontrol.config.line``); each room imports only what ``ROOM_IMPORTS`` allows, a table
  that reads top to bottom (a room imports only rooms below it).
- Pure cores (``PURE``) import no event loop, socket, selector, clock, thread, child process,
  link or pyarrow.
- Each third-party I/O library has its owners (``OWNERS``); a library whose owner is still
  to be named (aiohttp, textual, aiomqtt) may be imported nowhere yet. Inside linecontrol,
  only acquisition's wiring imports ``drivers.links``.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("linecontrol", "drivers", "simulators")
LC = ROOT / "linecontrol"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


FILES: dict[str, Path] = {
    module_name(p): p for top in PACKAGES for p in sorted((ROOT / top).rglob("*.py"))
}


def is_package(name: str) -> bool:
    path = FILES.get(name)
    return path is not None and path.name == "__init__.py"


def imports(name: str, source: str) -> list[str]:
    """Every module ``name``'s source imports, absolute."""
    out: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package(name) else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            out.append(module)
            out += [f"{module}.{a.name}" for a in node.names if f"{module}.{a.name}" in FILES]
    return out


def room(name: str) -> str | None:
    """``linecontrol.config.line`` -> ``config``; the top modules of linecontrol have none."""
    parts = name.split(".")
    if parts[0] != "linecontrol" or len(parts) < 2:
        return None
    sub = ".".join(parts[:2])
    return parts[1] if is_package(sub) or len(parts) > 2 else None


def under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


Rule = Callable[[str, str], list[str]]

# ------------------------------------------------------------------ layers
LAYER_FORBIDDEN = {
    "drivers": ("linecontrol", "simulators"),
    "simulators": ("linecontrol",),
    "linecontrol": ("simulators",),
}


def layer_violations(name: str, source: str) -> list[str]:
    forbidden = LAYER_FORBIDDEN[name.split(".")[0]]
    return [i for i in imports(name, source) if i.split(".")[0] in forbidden]


# ------------------------------------------------------------------ rooms of linecontrol
# What each room may import, top to bottom: a room imports only rooms below it (besides
# itself, ``linecontrol.errors`` the package's error root, and ``linecontrol`` for
# ``__version__``). Entries are rooms of linecontrol or modules of drivers (a prefix).
ROOM_ORDER = (
    "cli",
    "recording",
    "acquisition",
    "runlog",
    "process",
    "runtime",
    "config",
    "model",
)
ROOM_IMPORTS: dict[str, set[str]] = {
    # the cli wires everything; regmap prints the drivers' register maps and command tables
    "cli": {*ROOM_ORDER[1:], "drivers"},
    "recording": {"acquisition", "runlog", "runtime", "config", "model"},
    # its wiring builds the links and drivers; it hands model.Batch objects to its sinks
    "acquisition": {"process", "runtime", "config", "model", "drivers"},
    "runlog": {"process", "runtime", "config", "model"},
    # recipe bindings read the registry's channel declarations, never building a driver
    "process": {"config", "model", "drivers.devices"},
    "runtime": set(),
    # the device and bus models, shared with the simulators so a line is validated once
    "config": {"model", "drivers.config"},
    "model": set(),
}
ROOMS = sorted(p.parent.name for p in LC.glob("*/__init__.py"))


def wall_violations(name: str, source: str) -> list[str]:
    """Another room's modules are reached only through its package."""
    here = room(name)
    return [
        i
        for i in imports(name, source)
        if i.startswith("linecontrol.") and room(i) not in (None, here) and len(i.split(".")) > 2
    ]


def allowed(here: str, target: str) -> bool:
    if target.split(".")[0] == "drivers":
        return any(under(target, a) for a in ROOM_IMPORTS[here] if a.startswith("drivers"))
    there = room(target)
    return there is None or there == here or there in ROOM_IMPORTS[here]


def table_violations(name: str, source: str) -> list[str]:
    here = room(name)
    if here is None:
        return []
    return [
        i
        for i in imports(name, source)
        if i.split(".")[0] in ("linecontrol", "drivers") and not allowed(here, i)
    ]


# ------------------------------------------------------------------ pure cores
PURE = (
    "linecontrol.model",
    "linecontrol.config",
    "linecontrol.process",  # with process.rules
    "linecontrol.acquisition.quality",
    "linecontrol.acquisition.snapshot",
    "drivers.codec",
    "drivers.regmap",
    "drivers.setpoints",
    "drivers.modbus_rtu",  # RTU framing
    "drivers.ascii_protocol",  # ASCII framing
    "drivers.config",
    "drivers.errors",
)
IMPURE = (
    "asyncio",
    "socket",
    "selectors",
    "time",
    "threading",
    "subprocess",
    "drivers.links",
    "pyarrow",
    "serial",
)


def purity_violations(name: str, source: str) -> list[str]:
    if not any(under(name, p) for p in PURE):
        return []
    return [i for i in imports(name, source) if any(under(i, bad) for bad in IMPURE)]


# ------------------------------------------------------------------ third-party owners
# Each third-party I/O library and the one module that may import it. pyarrow is the run
# log's samples module (segments, their reader, the wide CSV/Parquet writer); an empty set
# is "none in product code" (pymodbus: the TCP link has its own framing, only tests and
# benchmarks use pymodbus as a client); ``None`` is "owner to be named": the room that
# brings it names its owner here.
OWNERS: dict[str, set[str] | None] = {
    "serial": {"drivers.links.serial_port"},
    "pyarrow": {"linecontrol.runlog.samples"},
    "pymodbus": set(),
    "aiohttp": None,
    "textual": None,
    "aiomqtt": None,
}


def owner_violations(name: str, source: str) -> list[str]:
    bad = []
    for i in imports(name, source):
        owners = OWNERS.get(i.split(".")[0], {name})
        if owners is None or name not in owners:
            bad.append(i)
    return bad


# Inside linecontrol, only acquisition's wiring builds links (devices are built on them there).
LINK_BUILDERS = {"linecontrol.acquisition.wiring"}


def link_violations(name: str, source: str) -> list[str]:
    if name.split(".")[0] != "linecontrol" or name in LINK_BUILDERS:
        return []
    return [i for i in imports(name, source) if under(i, "drivers.links")]


RULES: dict[str, Rule] = {
    "layers": layer_violations,
    "walls": wall_violations,
    "table": table_violations,
    "purity": purity_violations,
    "owners": owner_violations,
    "links": link_violations,
}


@pytest.mark.parametrize("rule", sorted(RULES))
def test_the_tree_keeps_the_rule(rule: str) -> None:
    check = RULES[rule]
    bad = {
        str(path.relative_to(ROOT)): found
        for name, path in FILES.items()
        if (found := check(name, path.read_text()))
    }
    assert bad == {}


# One synthetic module per way of breaking a rule: (rule, the module's name, its source).
BREAKS = [
    ("layers", "drivers.codec", "import linecontrol\n"),
    ("layers", "drivers.regmap", "from simulators.line import SimLine\n"),
    ("layers", "simulators.line", "def f():\n    from linecontrol.config import load_line\n"),
    ("layers", "linecontrol.cli.sim", "import simulators.line\n"),
    ("walls", "linecontrol.cli.runs", "from linecontrol.config.line import LineConfig\n"),
    ("walls", "linecontrol.recording.recorder", "from linecontrol.runlog import store\n"),
    ("walls", "linecontrol.errors", "import linecontrol.model.events\n"),
    ("table", "linecontrol.model.events", "from linecontrol.config import load_line\n"),
    ("table", "linecontrol.config.line", "from linecontrol import process\n"),
    ("table", "linecontrol.runlog.store", "from linecontrol.acquisition import Snapshot\n"),
    ("table", "linecontrol.process.bindings", "from drivers.links import RegisterLink\n"),
    ("table", "linecontrol.runtime.logs", "from ..model import Quality\n"),
    ("purity", "linecontrol.process.rules.s000", "import time\n"),
    ("purity", "linecontrol.model.events", "from asyncio import Queue\n"),
    ("purity", "linecontrol.config.line", "def f():\n    import pyarrow.parquet\n"),
    ("purity", "linecontrol.acquisition.snapshot", "import threading\n"),
    ("purity", "drivers.codec", "import socket, selectors\n"),
    ("purity", "drivers.modbus_rtu", "from .links import serial_port\n"),
    ("purity", "drivers.regmap", "import subprocess\n"),
    ("owners", "drivers.links.modbus_tcp", "import serial\n"),
    ("owners", "linecontrol.runlog.run", "import pyarrow as pa\n"),
    ("owners", "linecontrol.runlog.store", "import pyarrow.parquet as pq\n"),
    ("owners", "linecontrol.acquisition.wiring", "from pymodbus.client import ModbusTcpClient\n"),
    ("owners", "linecontrol.cli.runs", "import aiohttp\n"),
    ("owners", "linecontrol.cli.entry", "from textual.app import App\n"),
    ("owners", "linecontrol.runtime.logs", "import aiomqtt\n"),
    ("links", "linecontrol.acquisition.service", "from drivers.links import ModbusTcpLink\n"),
    ("links", "linecontrol.cli.regmap", "import drivers.links.serial_port\n"),
]


@pytest.mark.parametrize(("rule", "name", "source"), BREAKS)
def test_each_rule_can_fail(rule: str, name: str, source: str) -> None:
    assert name in FILES  # the synthetic module stands in for a real one
    assert RULES[rule](name, source) != []


def test_every_rule_has_a_break() -> None:
    assert {rule for rule, _, _ in BREAKS} == set(RULES)


def test_the_rooms_are_the_tables() -> None:
    assert set(ROOMS) == set(ROOM_ORDER) == set(ROOM_IMPORTS)


def test_the_table_reads_top_to_bottom() -> None:
    """A room imports only rooms below it in ``ROOM_ORDER``: no loop between rooms."""
    bad = [
        (here, there)
        for i, here in enumerate(ROOM_ORDER)
        for there in ROOM_IMPORTS[here]
        if there in ROOM_ORDER and ROOM_ORDER.index(there) <= i
    ]
    assert bad == []


@pytest.mark.parametrize("name", ROOMS)
def test_each_room_declares_what_it_offers(name: str) -> None:
    tree = ast.parse((LC / name / "__init__.py").read_text())
    declared = [
        n
        for n in tree.body
        if isinstance(n, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in n.targets)
    ]
    assert declared, f"linecontrol/{name}/__init__.py has no __all__"
    module = __import__(f"linecontrol.{name}", fromlist=["__all__"])
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert missing == []


def test_the_relative_imports_resolve() -> None:
    """The walk reads ``from ..x import y`` as the absolute module it names."""
    assert imports("linecontrol.runtime.logs", "from ..model import events\n") == [
        "linecontrol.model",
        "linecontrol.model.events",
    ]
    assert imports("linecontrol.runlog", "from .store import x\n") == ["linecontrol.runlog.store"]
