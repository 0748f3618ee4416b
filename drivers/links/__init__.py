"""Links: the only I/O of the driver layer. One module per third-party library."""

from __future__ import annotations

from typing import Literal, Protocol

Table = Literal["holding", "input"]


class RegisterLink(Protocol):
    """What a Modbus device driver needs from its link, whatever the transport."""

    name: str
    transactions: int

    async def read(self, table: Table, address: int, count: int, unit: int) -> list[int]: ...

    async def write(self, address: int, words: list[int], unit: int) -> None: ...

    async def close(self) -> None: ...
