"""Modbus TCP server for simulated instruments (asyncio, loopback).

One server per instrument (a PLC answers on its own address), serving the units
it hosts. Link faults are applied here: no reply, late reply, dropped connection,
garbage bytes; exception addresses are applied by the register bank.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os

from simulators.devices import SimDevice
from simulators.modbus_protocol import MbapDecoder, mbap

GATEWAY_TARGET_FAILED = 0x0B
logger = logging.getLogger("simulators.modbus")


class ModbusTcpSim:
    def __init__(
        self, devices: dict[int, SimDevice], host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.devices = devices
        self.host = host
        self.port = port
        self.requests = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for w in list(self._writers):
                w.close()
            if self._handlers:
                await asyncio.wait(self._handlers, timeout=2.0)
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        decoder = MbapDecoder()
        try:
            while data := await reader.read(4096):
                try:
                    frames = decoder.feed(data)
                except ValueError as exc:
                    # Not Modbus TCP: drop the connection as a PLC would.
                    names = ", ".join(d.name for d in self.devices.values())
                    logger.warning("%s (port %d): connection dropped: %s", names, self.port, exc)
                    break
                for tid, unit, pdu in frames:
                    self.requests += 1
                    if not await self._answer(writer, tid, unit, pdu):
                        return
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            if task is not None:
                self._handlers.discard(task)
            writer.close()

    async def _answer(self, writer: asyncio.StreamWriter, tid: int, unit: int, pdu: bytes) -> bool:
        dev = self.devices.get(unit)
        if dev is None:
            writer.write(mbap(tid, unit, bytes([pdu[0] | 0x80, GATEWAY_TARGET_FAILED])))
            return True
        f = dev.faults
        dev.sync_faults()
        if f.drop_connection:
            return False
        if f.no_reply:
            return True
        if f.delay_s > 0:
            # Emulates an instrument answering late (after the driver's deadline).
            await asyncio.sleep(f.delay_s)
        if f.garbage:
            writer.write(os.urandom(9))
        else:
            writer.write(mbap(tid, unit, dev.bank.handle(pdu)))
        await writer.drain()
        return True
