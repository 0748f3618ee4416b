"""The layer contracts of ARCHITECTURE.md, checked on the source so they cannot rot.

drivers imports neither linecontrol nor simulators; simulators never imports
linecontrol; linecontrol never imports simulators; at most one module imports
each protocol library: serial (pyserial) in one, pymodbus in none (the TCP link
has its own framing; only the tests and benchmarks use pymodbus, as a client).

Inside linecontrol, the rooms (subpackages): each declares ``__all__``; other rooms
import only from the room, never from its modules; each room imports only the rooms
below it (``ROOM_DEPENDS``); the pure cores (model, config, process) import no event
loop, socket, clock, drivers or pyarrow; only acquisition and the cli import drivers,
and only acquisition's wiring builds links.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imports_of(package: str) -> dict[Path, set[str]]:
    out: dict[Path, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        out[path] = names
    return out


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("drivers", {"linecontrol", "simulators"}),
        ("simulators", {"linecontrol"}),
        ("linecontrol", {"simulators"}),
    ],
)
def test_layers(package: str, forbidden: set[str]) -> None:
    bad = {
        str(p.relative_to(ROOT)): sorted(n & forbidden)
        for p, n in imports_of(package).items()
        if n & forbidden
    }
    assert bad == {}


@pytest.mark.parametrize("library", ["pymodbus", "serial"])
def test_one_module_per_protocol_library(library: str) -> None:
    users = [
        str(p.relative_to(ROOT))
        for pkg in ("drivers", "simulators", "linecontrol")
        for p, n in imports_of(pkg).items()
        if library in n
    ]
    assert len(users) <= 1, users


# ------------------------------------------------------------------ rooms of linecontrol
# Each room of ``linecontrol`` is a subpackage with one purpose; the rooms it may import
# (besides ``linecontrol.errors``, the package's error root, and ``linecontrol`` itself
# for ``__version__``). The cli wires everything, so it may import every room.
ROOM_DEPENDS: dict[str, set[str]] = {
    "model": set(),
    "config": set(),
    "process": {"config", "model"},
    "runtime": set(),
    "runlog": {"config", "model", "process", "runtime"},
    "acquisition": {"config", "model", "process", "runlog", "runtime"},
    "recording": {"acquisition", "config", "model", "runlog", "runtime"},
}
# The pure cores: no event loop, sockets, wall clock, drivers or pyarrow. (config takes
# its device and bus models from ``drivers.config``, shared with the simulators so the
# line config is validated once: that one module; and process's recipe bindings read
# the registry's channel declarations, ``drivers.devices.MODELS``, never building a driver.)
PURE_ROOMS = ("model", "config", "process")
IMPURE = {"asyncio", "socket", "time", "drivers", "pyarrow", "serial", "threading"}
ALLOWED_IN_PURE = {"drivers.config", "drivers.devices"}
# The rooms that talk to devices through drivers: acquisition (its wiring builds the
# links) and the cli (``regmap`` prints the drivers' register maps and command tables).
DRIVER_ROOMS = {"acquisition", "cli"}

LC = ROOT / "linecontrol"
ROOMS = sorted(p.parent.name for p in LC.glob("*/__init__.py"))


def full_imports(path: Path) -> list[str]:
    """Every imported module, absolute, with the names of a ``from`` import as
    submodules (``from linecontrol import model`` -> ``linecontrol.model``)."""
    out: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append(node.module)
            if node.module == "linecontrol":
                out += [f"linecontrol.{a.name}" for a in node.names if a.name[0] != "_"]
    return out


def room_of(path: Path) -> str | None:
    rel = path.relative_to(LC).parts
    return rel[0] if len(rel) > 1 else None


def test_the_rooms_are_the_intended_ones() -> None:
    assert set(ROOMS) == {*ROOM_DEPENDS, "cli"}


@pytest.mark.parametrize("room", ROOMS)
def test_each_room_declares_what_it_offers(room: str) -> None:
    tree = ast.parse((LC / room / "__init__.py").read_text())
    declared = [
        n
        for n in tree.body
        if isinstance(n, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in n.targets)
    ]
    assert declared, f"linecontrol/{room}/__init__.py has no __all__"
    module = __import__(f"linecontrol.{room}", fromlist=["__all__"])
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert missing == []


def test_other_rooms_import_only_from_the_room() -> None:
    """``from linecontrol.config import load_line``, never ``linecontrol.config.line``
    from outside config; inside a room its modules import each other directly."""
    bad = []
    for path in LC.rglob("*.py"):
        here = room_of(path)
        for name in full_imports(path):
            parts = name.split(".")
            if parts[0] == "linecontrol" and len(parts) > 2 and parts[1] != here:
                bad.append(f"{path.relative_to(ROOT)}: {name}")
    assert bad == []


def test_rooms_import_only_the_rooms_below_them() -> None:
    bad = []
    for path in LC.rglob("*.py"):
        here = room_of(path)
        if here is None or here == "cli":
            continue
        for name in full_imports(path):
            parts = name.split(".")
            if parts[0] != "linecontrol" or len(parts) < 2 or parts[1] in ("errors", here):
                continue
            if parts[1] not in ROOM_DEPENDS[here]:
                bad.append(f"{path.relative_to(ROOT)}: {name}")
    assert bad == []


@pytest.mark.parametrize("room", PURE_ROOMS)
def test_pure_cores_do_no_io(room: str) -> None:
    bad = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in (LC / room).rglob("*.py")
        for name in full_imports(path)
        if name.split(".")[0] in IMPURE and name not in ALLOWED_IN_PURE
    ]
    assert bad == []


def test_only_acquisition_and_the_cli_import_drivers() -> None:
    bad = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in LC.rglob("*.py")
        for name in full_imports(path)
        if name.split(".")[0] == "drivers"
        and room_of(path) not in DRIVER_ROOMS
        and name not in ALLOWED_IN_PURE
    ]
    assert bad == []


def test_only_acquisitions_wiring_builds_links() -> None:
    users = sorted(
        str(path.relative_to(ROOT))
        for path in LC.rglob("*.py")
        for name in full_imports(path)
        if name.startswith("drivers.links")
    )
    assert set(users) == {"linecontrol/acquisition/wiring.py"}
