"""In-memory links for unit tests of drivers: no sockets, no ports, no time.

``FakeRegisterLink`` is a ``RegisterLink`` over word tables per unit: a test
sets channels through a register map (encoded as the instrument would), a driver
reads and writes them, and every request is recorded. ``FakeQueryLink`` is a
``QueryLink`` whose answers come from a function of the query line, as an
instrument's would. Either raises an error the test queues (``fail_next``) in
place of one transaction, as a real link raises a timeout or a rejection.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from drivers.errors import DeviceRejected, DriverError
from drivers.links import Probe, Table
from drivers.regmap import RegisterMap

__all__ = ["FakeQueryLink", "FakeRegisterLink"]


@dataclass
class FakeRegisterLink:
    """Word tables ``(unit, table, address) -> word``. Reading an address no test set
    is Modbus exception 2 (illegal data address), as many instruments answer."""

    name: str = "fake"
    transactions: int = 0
    words: dict[tuple[int, Table, int], int] = field(default_factory=dict)
    reads: list[tuple[Table, int, int, int]] = field(default_factory=list)
    writes: list[tuple[int, list[int], int]] = field(default_factory=list)
    fail_next: list[DriverError] = field(default_factory=list)
    # Called after a write is stored: an instrument that clamps or acts on a value.
    on_write: Callable[[FakeRegisterLink, int, list[int], int], None] | None = None
    closed: bool = False

    def set(self, regmap: RegisterMap, name: str, value: float, unit: int = 1) -> None:
        """Put ``value`` in channel ``name``, encoded as the register map says."""
        reg = regmap[name]
        for i, w in enumerate(reg.encode(value)):
            self.words[(unit, reg.table, reg.address + i)] = w

    def fill(self, regmap: RegisterMap, value: float = 0, unit: int = 1) -> None:
        """Every register of the map holding ``value``."""
        for reg in regmap:
            self.set(regmap, reg.name, value, unit)

    def _transaction(self) -> None:
        self.transactions += 1
        if self.fail_next:
            raise self.fail_next.pop(0)

    async def read(self, table: Table, address: int, count: int, unit: int) -> list[int]:
        self.reads.append((table, address, count, unit))
        self._transaction()
        try:
            return [self.words[(unit, table, address + i)] for i in range(count)]
        except KeyError:
            raise DeviceRejected(
                f"read {table} {address}+{count}: exception 2 (illegal data address)",
                code=2,
                device=self.name,
            ) from None

    async def write(self, address: int, words: list[int], unit: int) -> None:
        self.writes.append((address, list(words), unit))
        self._transaction()
        for i, w in enumerate(words):
            self.words[(unit, "holding", address + i)] = w
        if self.on_write is not None:
            self.on_write(self, address, list(words), unit)

    async def close(self) -> None:
        self.closed = True


@dataclass
class FakeQueryLink:
    """Answers each query line with ``answer(line)`` (terminators are the real
    link's business, so neither carries one)."""

    answer: Callable[[bytes], bytes]
    name: str = "fake"
    transactions: int = 0
    probe: Probe | None = None
    queries: list[bytes] = field(default_factory=list)
    fail_next: list[DriverError] = field(default_factory=list)
    closed: bool = False

    async def query(self, line: bytes) -> bytes:
        self.queries.append(line)
        self.transactions += 1
        if self.fail_next:
            raise self.fail_next.pop(0)
        return self.answer(line)

    async def close(self) -> None:
        self.closed = True
