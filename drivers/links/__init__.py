"""Links: the only I/O of the driver layer. One module per third-party library.

A driver takes a link *interface*, never a concrete link, so it runs the same
against hardware, a simulator or an in-memory fake (``drivers.links.fake``):
``RegisterLink`` for a Modbus instrument (TCP, a unit of an RTU bus), ``QueryLink``
for a line-oriented ASCII instrument (``drivers.links.ascii_link``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from drivers.ascii_protocol import FramingError

Table = Literal["holding", "input"]


class RegisterLink(Protocol):
    """What a Modbus device driver needs from its link, whatever the transport."""

    name: str
    transactions: int

    async def read(self, table: Table, address: int, count: int, unit: int) -> list[int]: ...

    async def write(self, address: int, words: list[int], unit: int) -> None: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class Probe:
    """How to resynchronise with an instrument: ``query`` (terminator added) has an
    answer no other query gives, and ``recognise`` says whether a line is it
    (it may raise FramingError for a corrupt line: not it)."""

    query: bytes
    recognise: Callable[[bytes], bool]

    def answers(self, line: bytes) -> bool:
        try:
            return self.recognise(line)
        except FramingError:
            return False


class QueryLink(Protocol):
    """What an ASCII instrument's driver needs from its link: one query line out,
    one answer line back (terminators handled by the link). The driver sets
    ``probe``, the query the link resynchronises with after a timeout."""

    name: str
    transactions: int
    probe: Probe | None

    async def query(self, line: bytes) -> bytes: ...

    async def close(self) -> None: ...
