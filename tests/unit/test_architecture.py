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
  signal, ``os``, HTTP or TLS client, link or pyarrow (``IMPURE``), and read no wall clock
  through ``datetime`` (``clock_reads``: ``datetime.now``, ``utcnow``, ``date.today``),
  directly or through any first-party module: the rule walks the closure of a pure module's
  first-party imports (the modules it names, the packages above them, and every module of a
  package that discovers its modules with ``pkgutil``), leaving out only the packages the
  pure module itself sits in. ``importlib.import_module("x")`` and ``__import__("x")`` with a
  string literal count as imports. A second check imports each pure package in a child
  interpreter and watches what is loaded: no first-party module imports an impure library
  (``import time`` too, though ``time`` is always loaded), no link module is loaded, and no
  impure library is loaded beyond what the pure cores' own third-party libraries
  (``PURE_DEPENDENCIES``) load by themselves when put to use (``WARM_UP``: a few models
  built and validated, as pydantic 2.14 loads sockets only then). That catches what the walk
  cannot see: an import of a name computed at run time, at import time.

  Limits: an import of a computed name inside a function that the import does not run is
  seen by neither check; so are reads of the clock or the environment by other routes
  (``getattr(datetime, "now")``, ``eval``, a C extension, ``open("/proc/uptime")``: files
  are not I/O here, config reads them), and randomness (acquisition's quality draws its
  back-off jitter from ``random``). The import check sees only what is loaded, not what
  is used: a library the interpreter has loaded at start-up (``os``; ``threading`` on some
  installations) is caught only by the walk and the traced imports of first-party code.
- Each third-party I/O library has its owners (``OWNERS``: aiohttp the API's server and
  client modules, textual the TUI's); a library whose owner is still to be named
  (aiomqtt) may be imported nowhere yet. Inside linecontrol,
  only acquisition's wiring imports ``drivers.links``.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections.abc import Callable
from functools import cache
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


def resolve(name: str, level: int, module: str | None, package: str | None = None) -> str:
    """The absolute name of ``from {'.' * level}{module} import ...`` in module ``name``
    (or in package ``package``, when given)."""
    if not level:
        return module or ""
    if package is not None:
        base = package.split(".")
    else:
        base = name.split(".") if is_package(name) else name.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, *([module] if module else [])])


def literal_imports(tree: ast.AST) -> list[ast.Call]:
    """The calls of ``importlib.import_module`` or ``__import__`` (by whatever name the
    module imported them) whose first argument is a string literal."""
    importlib_names, function_names = set(), {"__import__"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            importlib_names |= {a.asname or a.name for a in node.names if a.name == "importlib"}
        elif isinstance(node, ast.ImportFrom) and node.module == "importlib" and not node.level:
            function_names |= {a.asname or a.name for a in node.names if a.name == "import_module"}
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and node.args):
            continue
        func, first = node.func, node.args[0]
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            continue
        if (isinstance(func, ast.Name) and func.id in function_names) or (
            isinstance(func, ast.Attribute)
            and func.attr == "import_module"
            and isinstance(func.value, ast.Name)
            and func.value.id in importlib_names
        ):
            found.append(node)
    return found


def imports(name: str, source: str) -> list[str]:
    """Every module ``name``'s source imports, absolute; a dynamic import of a string
    literal (``literal_import``) counts as an import."""
    out: list[str] = []
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = resolve(name, node.level, node.module)
            out.append(module)
            out += [f"{module}.{a.name}" for a in node.names if f"{module}.{a.name}" in FILES]
    for call in literal_imports(tree):
        literal = str(getattr(call.args[0], "value", ""))
        dots = len(literal) - len(literal.lstrip("."))
        anchor = call.args[1] if len(call.args) > 1 else None
        package = str(anchor.value) if isinstance(anchor, ast.Constant) else None
        # import_module(".x", "pkg") is relative to the package named; with any other
        # anchor (__name__, __package__), to this module
        out.append(resolve(name, dots, literal[dots:] or None, package) if dots else literal)
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
    "tui",
    "server",
    "replay",
    "whatif",
    "report",
    "recording",
    "supervisor",
    "acquisition",
    "runlog",
    "alarms",
    "process",
    "runtime",
    "config",
    "api",
    "model",
)
ROOM_IMPORTS: dict[str, set[str]] = {
    # the cli wires everything; regmap prints the drivers' register maps and command tables
    "cli": {*ROOM_ORDER[1:], "drivers"},
    # the operator's terminal: a client of the local API and nothing else
    "tui": {"api", "model"},
    # the serve process: the supervised line behind the local API (and a logged run
    # replayed through it)
    "server": {
        "replay",
        "recording",
        "supervisor",
        "acquisition",
        "runlog",
        "alarms",
        "process",
        "runtime",
        "config",
        "api",
        "model",
        "drivers",
    },
    # a logged run played back: the pure player over the run log's seek index and events
    "replay": {"runlog", "model"},
    # a logged run through the pure alarm engine again: the run log, a recipe's plan
    "whatif": {"supervisor", "runlog", "alarms", "config", "model"},
    # a run's report: figures (pure) from the run log, the recipe's bindings and rules
    "report": {"runlog", "process", "config", "model"},
    # headless runs: recording, and a recipe run under the supervisor
    "recording": {"supervisor", "acquisition", "runlog", "runtime", "config", "model"},
    # runs the line: the PackML machine, the alarms, setpoints through acquisition's drivers
    "supervisor": {
        "alarms",
        "acquisition",
        "runlog",
        "process",
        "runtime",
        "config",
        "model",
        "drivers",
    },
    # its wiring builds the links and drivers; it hands model.Batch objects to its sinks
    "acquisition": {"process", "runtime", "config", "model", "drivers"},
    "runlog": {"process", "runtime", "config", "model"},
    # the pure alarm engine over the line config's definitions and the model's samples
    "alarms": {"config", "model"},
    # recipe bindings read the registry's channel declarations, never building a driver
    "process": {"config", "model", "drivers.devices"},
    "runtime": set(),
    # the device and bus models, shared with the simulators so a line is validated once
    # and the registry, whose channel declarations the alarm definitions are checked against
    "config": {"model", "drivers.config", "drivers.devices"},
    # the wire protocol of the local API (pure) and its client
    "api": {"model"},
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
    "linecontrol.supervisor.packml",  # the PackML state machine
    "linecontrol.supervisor.plan",  # a recipe's plan on a line
    "linecontrol.supervisor.core",  # the supervisor's step
    "linecontrol.alarms",  # the alarm engine and its JSON form
    "linecontrol.api.view",  # the client's mirror of the line
    "linecontrol.api.protocol",  # the wire protocol: message shapes, validation
    "linecontrol.api.schema",  # its JSON schema, from the model's registries
    "linecontrol.replay.player",  # the replay player: recorded order, controls, time injected
    "linecontrol.whatif.core",  # a logged run through the alarm engine; journals, EEMUA 191
    "linecontrol.whatif.ruletest",  # alarm-rule tests (promtool's style)
    "linecontrol.report.figures",  # a run report's figures from loaded data
    "linecontrol.report.windows",  # process windows of recipe fields, from the rules
    "drivers.codec",
    "drivers.regmap",
    "drivers.setpoints",
    "drivers.modbus_rtu",  # RTU framing
    "drivers.ascii_protocol",  # ASCII framing
    "drivers.spec",  # how a model is declared
    "drivers.devices",  # the registry: declarations only (drivers.factories builds drivers)
    "drivers.config",
    "drivers.errors",
)
IMPURE = (
    "asyncio",
    "socket",
    "_socket",
    "ssl",
    "selectors",
    "select",
    "socketserver",
    "http.client",
    "http.server",
    "urllib.request",
    "time",
    "os",  # the environment, files, processes, entropy (pathlib, which config uses, is not)
    "signal",
    "threading",
    "_thread",
    "concurrent.futures",
    "multiprocessing",
    "subprocess",
    "drivers.links",
    "pyarrow",
    "serial",
)
# Reading the wall clock with no ``time`` import: ``datetime.now()`` and its kin.
CLOCK_READS = ("now", "utcnow", "today")


@cache
def source_of(name: str) -> str:
    return FILES[name].read_text()


def runs(name: str, source: str) -> set[str]:
    """The first-party modules that importing ``source`` (module ``name``) runs: each one
    it imports and the packages above it; for a package that finds its modules with
    ``pkgutil`` (the registry, ``drivers.devices``), each of its modules too."""
    out = set()
    named = imports(name, source)
    for i in named:
        parts = i.split(".")
        out |= {m for k in range(1, len(parts) + 1) if (m := ".".join(parts[:k])) in FILES}
    if is_package(name) and "pkgutil" in named:
        out |= {m for m in FILES if m.rpartition(".")[0] == name}
    return out


def clock_reads(source: str) -> list[str]:
    """``datetime.now`` / ``utcnow`` / ``today`` (called or not) on the ``datetime`` module
    or its ``datetime`` and ``date`` classes, by whatever name the source imported them."""
    tree = ast.parse(source)
    modules, classes = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {a.asname or a.name for a in node.names if a.name == "datetime"}
        elif isinstance(node, ast.ImportFrom) and node.module == "datetime" and not node.level:
            classes |= {a.asname or a.name for a in node.names if a.name in ("datetime", "date")}
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and node.attr in CLOCK_READS):
            continue
        on = node.value
        if (isinstance(on, ast.Name) and on.id in classes) or (
            isinstance(on, ast.Attribute)
            and on.attr in ("datetime", "date")
            and isinstance(on.value, ast.Name)
            and on.value.id in modules
        ):
            found.append(f"reads the clock: {ast.unparse(node)} (line {node.lineno})")
    return found


def impure_imports(name: str, source: str) -> list[str]:
    """A module's imports of ``IMPURE`` libraries, and its clock reads (``clock_reads``)."""
    bad = [i for i in imports(name, source) if any(under(i, lib) for lib in IMPURE)]
    return bad + clock_reads(source)


def walk(name: str, source: str) -> dict[str, tuple[str, ...]]:
    """Every first-party module that importing ``source`` (module ``name``) runs, with the
    chain of imports that reaches it. The packages ``name`` sits in are left out: they
    run whatever it imports, and are their room's business."""
    above = {".".join(name.split(".")[:k]) for k in range(1, name.count(".") + 1)}
    reached: dict[str, tuple[str, ...]] = {}
    todo: list[tuple[str, tuple[str, ...]]] = [
        (m, (name, m)) for m in sorted(runs(name, source) - above - {name})
    ]
    while todo:
        module, chain = todo.pop(0)
        if module in reached or module in above or module == name:
            continue
        reached[module] = chain
        todo += [(m, (*chain, m)) for m in sorted(runs(module, source_of(module)))]
    return reached


def purity_violations(name: str, source: str) -> list[str]:
    """A pure module's impure imports, its own and those of every first-party module its
    import runs (each reported with the chain that reaches it)."""
    if not any(under(name, p) for p in PURE):
        return []
    bad = impure_imports(name, source)
    for module, chain in walk(name, source).items():
        bad += [
            f"{' -> '.join(chain)} imports {i}" for i in impure_imports(module, source_of(module))
        ]
    return bad


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
    "aiohttp": {"linecontrol.server.http", "linecontrol.api.client"},
    "textual": {
        "linecontrol.tui.app",
        "linecontrol.tui.screens",
        "linecontrol.tui.widgets",
        "linecontrol.tui.replay_dialog",  # the replay's seek dialog
    },
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
    ("purity", "drivers.codec", "import os\n"),
    ("purity", "drivers.codec", "from os import environ\n"),
    ("purity", "linecontrol.model.events", "import signal\n"),
    ("purity", "linecontrol.model.events", "from http.client import HTTPConnection\n"),
    ("purity", "linecontrol.config.line", "import ssl\n"),
    ("purity", "linecontrol.config.line", "from urllib.request import urlopen\n"),
    ("purity", "linecontrol.process.derive", "import multiprocessing\n"),
    ("purity", "linecontrol.process.derive", "from concurrent.futures import Future\n"),
    ("purity", "drivers.regmap", "import _socket, _thread\n"),
    # a dynamic import of a string literal is an import
    ("purity", "drivers.codec", "import importlib\nimportlib.import_module('asyncio')\n"),
    ("purity", "drivers.codec", "from importlib import import_module as im\nim('socket')\n"),
    ("purity", "drivers.regmap", "def f():\n    return __import__('threading')\n"),
    ("purity", "drivers.spec", "import importlib\nimportlib.import_module('.links', 'drivers')\n"),
    # the wall clock read through datetime
    ("purity", "linecontrol.model.events", "from datetime import datetime\nx = datetime.now()\n"),
    ("purity", "linecontrol.process.derive", "import datetime as dt\nx = dt.datetime.utcnow\n"),
    ("purity", "linecontrol.alarms.engine", "from datetime import date as d\nx = d.today()\n"),
    # through first-party modules: a shell's module, a driver, the runtime room
    ("purity", "linecontrol.process.bindings", "from drivers.factories import make_device\n"),
    ("purity", "drivers.spec", "from drivers.ascii.dc_psu import make\n"),
    ("purity", "drivers.devices.press", "from drivers.device import ModbusDevice\n"),
    ("purity", "drivers.config", "from drivers import factories\n"),
    ("purity", "linecontrol.model.events", "from linecontrol.runtime import Clock\n"),
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


def test_the_walk_reports_the_chain_to_an_impure_import() -> None:
    found = purity_violations("drivers.config", "from drivers.factories import make_device\n")
    assert "drivers.config -> drivers.factories -> drivers.device imports drivers.links" in found


def test_the_walk_runs_every_module_of_a_package_that_discovers_them() -> None:
    """``drivers.devices`` imports its modules by name (``importlib``), which the walk
    cannot read; it follows them because the package uses ``pkgutil``."""
    declared = {m for m in FILES if m.startswith("drivers.devices.")}
    assert declared and declared <= runs("drivers.devices", source_of("drivers.devices"))


# ------------------------------------------------------------------ pure cores, imported
# The third-party libraries pure cores may import; what they load themselves is theirs.
# What that is depends on the version, and on more than the bare import: pydantic 2.13 loads
# asyncio, and through it socket, selectors and subprocess, when imported (pydantic_core
# marks functions with typing_extensions.deprecated, which imports asyncio.coroutines);
# pydantic 2.14 imports lazily, loads threading with pydantic.main and socket and selectors
# when the first model class is built (its plugin loader reads importlib.metadata, which
# imports email.utils). So the baseline is each library put to use (``WARM_UP``), not its
# import alone.
PURE_DEPENDENCIES = ("pydantic", "numpy")
WARM_UP = {
    "pydantic": """
import enum, typing
import pydantic, pydantic.main
class _Kind(enum.Enum):
    A = "a"
class _Leaf(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")
    kind: typing.Literal["leaf"] = "leaf"
    x: float = pydantic.Field(default=0.0, ge=0, allow_inf_nan=False)
    @pydantic.field_validator("x")
    @classmethod
    def _x(cls, v: float) -> float:
        return v
class _Other(pydantic.BaseModel):
    kind: typing.Literal["other"] = "other"
    e: _Kind = _Kind.A
class _Tree(pydantic.BaseModel):
    item: typing.Annotated[typing.Union[_Leaf, _Other], pydantic.Field(discriminator="kind")]
    @pydantic.model_validator(mode="after")
    def _check(self) -> "_Tree":
        return self
_Tree.model_validate_json(_Tree(item=_Leaf(x=1.0)).model_dump_json())
pydantic.TypeAdapter(list[int]).validate_python([1])
try:
    _Leaf(x=-1.0)
except pydantic.ValidationError as e:
    str(e)
""",
    "numpy": "import numpy\nnumpy.zeros(2).tolist()\n",
}
# Pure modules of a room that is not pure: importing one runs linecontrol.acquisition's
# __init__ (the service, the links), so only their own closure is checked, by the walk.
PURE_IN_A_SHELL = (
    "linecontrol.acquisition.quality",
    "linecontrol.acquisition.snapshot",
    "linecontrol.supervisor.packml",  # its package holds the async shell too
    "linecontrol.supervisor.plan",
    "linecontrol.supervisor.core",
    "linecontrol.api.view",  # its package holds the aiohttp client too
    "linecontrol.api.protocol",
    "linecontrol.api.schema",
    "linecontrol.replay.player",  # its package opens runs through the run log (pyarrow)
    "linecontrol.report.figures",  # its package reads runs and plots (matplotlib)
    "linecontrol.report.windows",
)
PURE_PACKAGES = tuple(p for p in PURE if p not in PURE_IN_A_SHELL)

# Run in a child interpreter: put the dependencies to use (``WARM_UP``), then import every
# module given, with __import__ traced; print what first-party code imported and what got
# loaded.
PROBE = """
import builtins, importlib, json, sys
args = json.loads(sys.argv[1])
top = lambda n: n.partition(".")[0]
libs, first = set(args["libraries"]), tuple(args["first_party"])
hit = lambda n: [lib for lib in libs if n == lib or n.startswith(lib + ".")]
pulls = []
real = builtins.__import__
def traced(name, globals=None, locals=None, fromlist=(), level=0):
    importer = (globals or {}).get("__name__") or "?"
    named = [name, *(f"{name}.{f}" for f in fromlist or ())]
    if level == 0 and top(importer) in first and any(hit(n) for n in named):
        pulls.append(f"{importer} imports {name}")
    return real(name, globals, locals, fromlist, level)
for dep in args["dependencies"]:
    importlib.import_module(dep)
for code in args["warm_up"]:
    exec(code, {"__name__": "warm_up"})
before = set(sys.modules)
builtins.__import__ = traced
for module in args["modules"]:
    importlib.import_module(module)
builtins.__import__ = real
loaded = sorted({lib for m in set(sys.modules) - before for lib in hit(m)})
own = sorted(m for m in sys.modules if any(m == p or m.startswith(p + ".") for p in args["own_io"]))
print(json.dumps({"pulls": pulls, "loaded": loaded, "own_io": own}))
"""


def loaded_violations(
    modules: list[str],
    path: Path = ROOT,
    first_party: tuple[str, ...] = PACKAGES,
    uses: tuple[str, ...] = (),
) -> list[str]:
    """What importing ``modules`` (found on ``path``, then the tree) loads against the
    purity rule, in a child interpreter. The baseline is the pure dependencies that the
    modules of the tree reached import, and ``uses`` (for modules outside the tree)."""
    reached = {r for m in modules if m in FILES for r in (m, *walk(m, source_of(m)))}
    dependencies = sorted(
        {
            i
            for m in reached
            for i in imports(m, source_of(m))
            if i.split(".")[0] in PURE_DEPENDENCIES
        }
        | set(uses)
    )
    args = {
        "libraries": sorted({i for i in IMPURE if i.split(".")[0] not in PACKAGES}),
        "own_io": [i for i in IMPURE if i.split(".")[0] in PACKAGES],
        "first_party": list(first_party),
        "dependencies": dependencies,
        "warm_up": [WARM_UP[d] for d in sorted({d.split(".")[0] for d in dependencies})],
        "modules": modules,
    }
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(dict.fromkeys([str(path), str(ROOT)]))}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)],
        cwd=path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    return [
        *found["pulls"],
        *(f"{lib} loaded" for lib in found["loaded"]),
        *(f"{m} loaded" for m in found["own_io"]),
    ]


@pytest.mark.parametrize("package", PURE_PACKAGES)
def test_importing_a_pure_core_loads_no_io(package: str) -> None:
    modules = [m for m in FILES if under(m, package)]
    assert modules
    assert loaded_violations(modules) == []


# A pure package's use of pydantic, outside the tree: a model class built and used. With
# pydantic 2.14 that loads socket and selectors (and pydantic.main threading), which the
# bare ``import pydantic`` does not: the baseline must hold them.
USES_PYDANTIC = """
import pydantic
class Point(pydantic.BaseModel):
    x: float = 0.0
Point.model_validate({"x": 1}).model_dump_json()
"""


def test_the_import_check_counts_what_a_dependency_loads_in_use(tmp_path: Path) -> None:
    (tmp_path / "usespydantic").mkdir()
    (tmp_path / "usespydantic" / "__init__.py").write_text(USES_PYDANTIC)
    found = loaded_violations(
        ["usespydantic"], tmp_path, (*PACKAGES, "usespydantic"), uses=("pydantic",)
    )
    assert found == []


# A name computed at run time, which the walk cannot read (a literal it can).
DYNAMIC = (
    "import importlib\nimportlib.import_module('.'.join(['drivers', 'links', 'serial_port']))\n"
)
# Synthetic packages that break the rule at import time: (files, the package imported).
LOAD_BREAKS = [
    ({"brk/__init__.py": "import asyncio\n"}, "brk"),
    ({"brk/__init__.py": "from time import monotonic\n"}, "brk"),  # time is always loaded
    # a name computed at run time: the walk cannot see it
    ({"brk/__init__.py": DYNAMIC}, "brk"),
    # loaded at start-up, but imported by first-party code
    ({"brk/__init__.py": "import os\n"}, "brk"),
    ({"brk/__init__.py": "from concurrent import futures\n"}, "brk"),
    ({"brk/__init__.py": "from http.client import HTTPConnection\n"}, "brk"),
    # a third-party library that is no pure core's dependency brings its sockets
    ({"brk/__init__.py": "import brklib\n", "brklib.py": "import socket, selectors\n"}, "brk"),
]


@pytest.mark.parametrize(("files", "package"), LOAD_BREAKS)
def test_the_import_check_can_fail(files: dict[str, str], package: str, tmp_path: Path) -> None:
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    found = loaded_violations([package], tmp_path, (*PACKAGES, package))
    assert found != []
    if files["brk/__init__.py"] == DYNAMIC:
        assert "drivers.links.serial_port loaded" in found
        assert purity_violations("drivers.codec", files["brk/__init__.py"]) == []
