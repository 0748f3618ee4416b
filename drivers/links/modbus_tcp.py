"""Modbus TCP link over pymodbus: the one module that imports pymodbus.

pymodbus is pinned to its minor version (its API changes between minors). Its two
error channels, exceptions and ``isError()`` replies, become the driver's own
error types here and nowhere else. Every request has one total deadline that
covers (re)connecting and the round trip; pymodbus's own retries are off, so a
dead device costs exactly its deadline, on our clock.
"""

from __future__ import annotations

import asyncio
import logging

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

from drivers.errors import BadReply, DeviceRejected, DeviceTimeout, DeviceUnreachable
from drivers.links import Table

# pymodbus logs every timeout at ERROR level; the driver reports them as typed errors.
logging.getLogger("pymodbus").setLevel(logging.CRITICAL)

EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "device failure",
    6: "device busy",
}


class ModbusTcpLink:
    """One TCP connection to one Modbus server (a PLC or a gateway)."""

    def __init__(self, host: str, port: int, *, timeout_s: float = 0.5, name: str = "") -> None:
        self.host = host
        self.port = port
        self.timeout_s = timeout_s
        self.name = name or f"{host}:{port}"
        self.transactions = 0
        self._client: AsyncModbusTcpClient | None = None
        self._lock = asyncio.Lock()
        self._rx_bytes = 0

    def _trace(self, sending: bool, data: bytes) -> bytes:
        # pymodbus drops bytes it cannot frame and keeps waiting; counting what
        # arrived tells a silent device (timeout) from one that sent garbage.
        if not sending:
            self._rx_bytes += len(data)
        return data

    def _new_client(self) -> AsyncModbusTcpClient:
        return AsyncModbusTcpClient(
            self.host,
            port=self.port,
            timeout=self.timeout_s,
            retries=0,
            reconnect_delay=0,
            name=self.name,
            trace_packet=self._trace,
        )

    async def _ensure_connected(self) -> AsyncModbusTcpClient:
        client = self._client
        if client is not None and client.connected:
            return client
        if client is not None:
            client.close()
        client = self._client = self._new_client()
        try:
            ok = await client.connect()
        except (OSError, ModbusException) as exc:
            raise DeviceUnreachable(
                f"cannot connect to {self.host}:{self.port}: {exc}", device=self.name
            ) from exc
        if not ok:
            raise DeviceUnreachable(f"cannot connect to {self.host}:{self.port}", device=self.name)
        return client

    async def _call(self, what: str, fn_name: str, *args: object, **kw: object) -> object:
        async with self._lock:
            self._rx_bytes = 0
            try:
                client = self._client
                if client is None or not client.connected:
                    # Connecting counts against the same deadline as the round trip.
                    async with asyncio.timeout(self.timeout_s):
                        client = await self._ensure_connected()
                self.transactions += 1
                # On a live connection pymodbus's own wait (timeout_s, retries off)
                # bounds the round trip: no second timer per request.
                reply = await getattr(client, fn_name)(*args, **kw)
            except TimeoutError as exc:
                self._drop()
                raise DeviceTimeout(
                    f"{what}: no connection within {self.timeout_s:g} s", device=self.name
                ) from exc
            except ConnectionException as exc:
                self._drop()
                raise DeviceUnreachable(
                    f"{what}: connection lost ({exc})", device=self.name
                ) from exc
            except ModbusIOException as exc:
                # No reply within the deadline, or a reply that does not match the request.
                self._drop()
                text = str(exc)
                if self._rx_bytes:
                    raise BadReply(
                        f"{what}: {self._rx_bytes} bytes received, no valid reply "
                        f"within {self.timeout_s:g} s",
                        device=self.name,
                    ) from exc
                if "No response" in text or "timeout" in text.lower():
                    raise DeviceTimeout(
                        f"{what}: no reply within {self.timeout_s:g} s", device=self.name
                    ) from exc
                raise BadReply(f"{what}: {text}", device=self.name) from exc
            except ModbusException as exc:
                self._drop()
                raise BadReply(f"{what}: {exc}", device=self.name) from exc
            except OSError as exc:
                self._drop()
                raise DeviceUnreachable(f"{what}: {exc}", device=self.name) from exc
        if reply.isError():
            code = int(getattr(reply, "exception_code", 0))
            raise DeviceRejected(
                f"{what}: exception {code} ({EXCEPTION_NAMES.get(code, 'unknown')})",
                code=code,
                device=self.name,
            )
        return reply

    def _drop(self) -> None:
        # After a timeout or a mismatched reply the stream may carry a late answer:
        # open a fresh connection for the next request rather than risk reading it.
        if self._client is not None:
            self._client.close()
            self._client = None

    async def read(self, table: Table, address: int, count: int, unit: int) -> list[int]:
        fn = "read_holding_registers" if table == "holding" else "read_input_registers"
        what = f"read {table} {address}+{count} unit {unit}"
        reply = await self._call(what, fn, address, count=count, device_id=unit)
        regs = list(getattr(reply, "registers", []) or [])
        if len(regs) != count:
            raise BadReply(f"{what}: {len(regs)} registers in reply", device=self.name)
        return regs

    async def write(self, address: int, words: list[int], unit: int) -> None:
        what = f"write {address}+{len(words)} unit {unit}"
        await self._call(what, "write_registers", address, words, device_id=unit)

    async def close(self) -> None:
        self._drop()
