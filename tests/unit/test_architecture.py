"""The layer contracts of ARCHITECTURE.md, checked on the source so they cannot rot.

drivers imports neither linecontrol nor simulators; simulators never imports
linecontrol; linecontrol never imports simulators; at most one module imports
each protocol library: serial (pyserial) in one, pymodbus in none (the TCP link
has its own framing; only the tests and benchmarks use pymodbus, as a client).
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
