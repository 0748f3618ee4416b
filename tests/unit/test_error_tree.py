"""One error tree per package, every error also the builtin it stands for.

The rule, checked on the source so it cannot rot:

- every exception class defined in ``linecontrol``, ``drivers`` or ``simulators``
  subclasses its package's root (``LinecontrolError``, ``DriverError``,
  ``SimulatorError``) and, below the root, a builtin other than ``Exception``
  (``ValueError``, ``KeyError``, ``OSError``...), so a caller may catch either;
- no ``raise`` names a builtin exception class, except
  - in a pydantic validator (``field_validator``/``model_validator``): pydantic wants
    a ``ValueError`` there and the loader turns it into the package's input error;
  - ``NotImplementedError`` in an abstract member;
  - ``asyncio.CancelledError`` (a cancellation honoured, not an error) and
    ``argparse.ArgumentTypeError`` (what argparse wants from an option's type);
  - the few raises in ``ALLOWED``, each an ``OSError`` that stands for a system
    call's own failure and is caught by the same function or its caller in the same
    module with that call's other ``OSError``s (every entry must still exist).

Pure helpers' argument checks are no exception to the rule: they raise the
package's ``InvalidArgument``/``ProtocolError``/``DeclarationError``, which are
``ValueError``s too.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import pkgutil
from pathlib import Path

import pytest

from drivers.errors import (
    BadAddress,
    DeclarationError,
    DriverError,
    ProtocolError,
    UnknownChannel,
)
from linecontrol.errors import AddressMapError, InvalidArgument, LinecontrolError
from simulators.errors import SimConfigError, SimLineError, SimProtocolError, SimulatorError

ROOT = Path(__file__).resolve().parents[2]
ROOTS: dict[str, type[Exception]] = {
    "linecontrol": LinecontrolError,
    "drivers": DriverError,
    "simulators": SimulatorError,
}
ALLOWED = {
    # (file, function, exception): why it may stay a builtin
    ("linecontrol/runlog/events.py", "append", "OSError"): "a short os.write, as EIO",
    ("linecontrol/runlog/run.py", "check_data_dir", "OSError"): "a short probe write, ENOSPC",
    ("drivers/links/modbus_tcp.py", "_read", "ConnectionResetError"): "EOF on the socket",
    ("drivers/links/serial_port.py", "_on_readable", "ConnectionResetError"): "EOF",
}
STDLIB_RAISES = {"asyncio.CancelledError", "argparse.ArgumentTypeError"}
VALIDATORS = {"field_validator", "model_validator"}
GENERIC = (Exception, BaseException, object)


def _modules(package: str) -> list[str]:
    pkg = importlib.import_module(package)
    return [package] + [
        m.name
        for m in pkgutil.walk_packages(pkg.__path__, package + ".")
        if not m.name.endswith(".__main__")  # entry points: importing one runs it
    ]


def _exception_classes(package: str) -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for name in _modules(package):
        mod = importlib.import_module(name)
        for obj in vars(mod).values():
            if (
                isinstance(obj, type)
                and issubclass(obj, BaseException)
                and obj.__module__.split(".")[0] == package
            ):
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return list(found.values())


@pytest.mark.parametrize("package", list(ROOTS))
def test_every_error_subclasses_its_root_and_a_builtin(package: str) -> None:
    root = ROOTS[package]
    assert root.__bases__ == (Exception,)
    classes = _exception_classes(package)
    assert len(classes) > 3
    outside = [c.__qualname__ for c in classes if not issubclass(c, root)]
    assert outside == []
    no_builtin = [
        c.__qualname__
        for c in classes
        if c is not root
        and not any(b.__module__ == "builtins" and b not in GENERIC for b in c.__mro__)
    ]
    assert no_builtin == []


def _builtin_exception(name: str) -> bool:
    obj = getattr(builtins, name, None)
    return isinstance(obj, type) and issubclass(obj, BaseException)


class _Raises(ast.NodeVisitor):
    def __init__(self, path: str, imported: set[str]) -> None:
        self.path = path
        self.imported = imported
        self.stack: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
        self.bad: list[str] = []
        self.allowed_seen: set[tuple[str, str, str]] = set()

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.stack.append(node)
        self.generic_visit(node)
        self.stack.pop()

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function

    def _in_validator(self) -> bool:
        for f in self.stack:
            for d in f.decorator_list:
                target = d.func if isinstance(d, ast.Call) else d
                name = (
                    target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
                )
                if name in VALIDATORS:
                    return True
        return False

    def visit_Raise(self, node: ast.Raise) -> None:
        if node.exc is None:
            return
        target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        name = ast.unparse(target)
        if isinstance(target, ast.Name) and _builtin_exception(target.id):
            pass
        elif (
            isinstance(target, ast.Attribute)
            and isinstance(target.value, ast.Name)
            and target.value.id in self.imported
        ):
            if name in STDLIB_RAISES:
                return
        else:
            return  # a package's own class (the class test checks it), or a re-raise
        func = self.stack[-1].name if self.stack else "<module>"
        key = (self.path, func, name)
        if name == "NotImplementedError" or self._in_validator():
            return
        if key in ALLOWED:
            self.allowed_seen.add(key)
            return
        self.bad.append(f"{self.path}:{node.lineno} in {func}: raise {name}")


def test_no_raise_of_a_builtin_outside_the_rule() -> None:
    bad: list[str] = []
    seen: set[tuple[str, str, str]] = set()
    for package in ROOTS:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            imported = {
                (a.asname or a.name).split(".")[0]
                for n in ast.walk(tree)
                if isinstance(n, ast.Import)
                for a in n.names
            }
            v = _Raises(str(path.relative_to(ROOT)), imported)
            v.visit(tree)
            bad += v.bad
            seen |= v.allowed_seen
    assert bad == []
    assert seen == set(ALLOWED), "an allowed raise is gone: drop it from ALLOWED"


# ------------------------------------------------------------------ the sites converted
def test_the_errors_named_in_the_issue_are_in_their_trees() -> None:
    from linecontrol.errors import UnknownChannel as RunChannel
    from linecontrol.runlog import RunLogError, RunNotFound

    assert issubclass(RunNotFound, LinecontrolError) and issubclass(RunNotFound, LookupError)
    assert issubclass(RunChannel, LinecontrolError) and issubclass(RunChannel, KeyError)
    assert issubclass(RunLogError, LinecontrolError) and issubclass(RunLogError, OSError)
    assert issubclass(SimConfigError, SimulatorError) and issubclass(SimConfigError, ValueError)


def test_an_unknown_channel_of_a_run_is_a_linecontrol_key_error(tmp_path: Path) -> None:
    from linecontrol.errors import UnknownChannel as RunChannel
    from linecontrol.runlog import read_samples

    (tmp_path / "samples").mkdir()
    with pytest.raises(RunChannel) as err:
        read_samples(tmp_path / "samples", ["nope"])
    assert isinstance(err.value, KeyError)
    assert str(err.value) == "unknown channels ['nope']; the run has 0 channels"  # no quotes


def test_an_address_map_without_a_device_is_an_address_map_error() -> None:
    from linecontrol.acquisition import apply_address_map
    from linecontrol.config import DEFAULT_LINE, load_line

    with pytest.raises(AddressMapError, match="does not serve device"):
        apply_address_map(load_line(DEFAULT_LINE), {"devices": {}, "buses": {}})


def test_a_log_level_not_known_is_an_invalid_argument() -> None:
    from linecontrol.runtime import configured

    with pytest.raises(InvalidArgument), configured("chatty"):
        pass


def test_driver_codecs_and_declarations_raise_driver_errors() -> None:
    from drivers.ascii_protocol import FramingError, parse_gauge
    from drivers.devices import MODELS
    from drivers.links.modbus_tcp import check_pdu
    from drivers.links.serial_port import socket_address

    with pytest.raises(ProtocolError) as err:
        check_pdu(bytes([3, 0, 0, 0, 1]), b"")
    assert isinstance(err.value, ValueError)
    with pytest.raises(BadAddress):
        socket_address("socket://127.0.0.1")
    assert issubclass(FramingError, ProtocolError)
    with pytest.raises(FramingError):
        parse_gauge(b"garbage")
    spec = next(iter(MODELS.values()))
    with pytest.raises(UnknownChannel) as uc:
        spec.channel("no_such_channel")
    assert isinstance(uc.value, KeyError) and "'no_such_channel'" in str(uc.value)
    assert issubclass(DeclarationError, ValueError)


def test_simulator_errors() -> None:
    from simulators.faults import Faults
    from simulators.modbus_protocol import MbapDecoder

    with pytest.raises(SimProtocolError):
        MbapDecoder().feed(b"\x00\x01\x00\x07\x00\x06\x01\x03\x00\x00\x00\x01")
    with pytest.raises(SimLineError, match="unknown fault 'gremlins'"):
        Faults().update({"gremlins": True})
