"""Serial links never block the event loop: a hanging socket:// connect, a full output
queue and a babbling device each cost their own request's deadline and nothing else.
Real ports throughout: pseudo-terminals and loopback sockets."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
import socket
import termios
import tty
from collections.abc import Awaitable, Callable, Iterator

import numpy as np
import pytest

import drivers.modbus_rtu as rtu
from drivers.errors import DeviceTimeout
from drivers.links.ascii_link import AsciiLink
from drivers.links.modbus_rtu import ModbusRtuLink
from drivers.links.serial_port import AsyncSerialPort, SerialSettings
from drivers.modbus_rtu import frame
from linecontrol.acquisition import Acquisition, Quality, apply_address_map
from linecontrol.config import DEFAULT_LINE, load_line
from linecontrol.model import DeviceFailed, Event
from linecontrol.runlog import Batch
from linecontrol.runtime import SystemClock
from tests.integration.simline import served_line

pytestmark = pytest.mark.integration


@contextlib.contextmanager
def hanging_listener() -> Iterator[str]:
    """A socket:// URL on 127.0.0.1 whose connect never completes: a listener with a
    full accept queue, so the kernel drops every further SYN (a blackholed gateway)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(3):
            s = socket.socket()
            s.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                s.connect(("127.0.0.1", port))
            fillers.append(s)
        yield f"socket://127.0.0.1:{port}"
    finally:
        for s in fillers:
            s.close()
        listener.close()


@contextlib.contextmanager
def pty_pair() -> Iterator[tuple[int, str]]:
    """A pseudo-terminal in raw mode: (master fd, slave path)."""
    master, slave = os.openpty()
    tty.setraw(slave)
    try:
        yield master, os.ttyname(slave)
    finally:
        os.close(master)
        os.close(slave)


@pytest.mark.deadline(40)
async def test_an_unreachable_socket_instrument_stalls_nothing_and_no_row_is_lost() -> None:
    with hanging_listener() as url:
        async with served_line() as line:
            cfg = apply_address_map(load_line(DEFAULT_LINE), line.address_map())
            psu = cfg.devices["sputter_psu"].model_copy(update={"serial_port": url})
            cfg = cfg.model_copy(update={"devices": {**cfg.devices, "sputter_psu": psu}})
            events: list[Event] = []
            acq = Acquisition(cfg, SystemClock(), sample_hz=10.0, on_event=events.append)
            rows: asyncio.Queue[tuple[float, np.ndarray]] = asyncio.Queue()

            def sink(batch: Batch) -> None:
                for t, q in zip(batch.t_mono, batch.quality, strict=True):
                    rows.put_nowait((float(t), q))

            acq.sinks.append(sink)
            others = [
                i for i, c in enumerate(acq.channels) if not c.name.startswith("sputter_psu.")
            ]
            task = asyncio.create_task(acq.run())
            try:
                # Every other device answers from the start.
                for _ in range(60):
                    _t, q = await rows.get()
                    if (q[others] == Quality.GOOD).all():
                        break
                else:
                    raise AssertionError("the other devices never all turned GOOD")
                drive, psu_p = acq.pollers["drive"], acq.pollers["sputter_psu"]
                drive0, psu0 = drive.polls, psu_p.errors
                window = [await rows.get() for _ in range(40)]
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
    period = 0.1
    times = [t for t, _q in window]
    # The sampler kept its rate: no row missing between two consecutive rows (a
    # blocked loop skips the rows it missed: pyserial's connect left 5 s holes).
    missing = [round((b - a) / period) - 1 for a, b in itertools.pairwise(times)]
    assert max(missing) <= 2, missing
    # The other devices kept their rate and stayed GOOD on every row.
    assert all((q[others] == Quality.GOOD).all() for _t, q in window)
    assert drive.polls - drive0 >= 0.75 * len(window)
    # The supply was tried again and again, each attempt bounded by its deadline.
    assert psu_p.errors - psu0 >= 2
    errs = [e.error for e in events if isinstance(e, DeviceFailed) and e.device == psu_p.name]
    assert errs and all(e.startswith("DeviceTimeout") and "not open" in e for e in errs)


async def test_open_of_a_hanging_socket_url_is_bounded_by_the_request_deadline() -> None:
    with hanging_listener() as url:
        link = AsciiLink(AsyncSerialPort(SerialSettings(url, 9600, "N")), timeout_s=0.2)
        with pytest.raises(DeviceTimeout, match="not open"):
            await link.query(b"MEAS?")
        assert not link.port.is_open
        await link.close()


def _stop_output(slave_path: str) -> int:
    """Suspend the tty's output (as an XOFF from the far end does): from now on its
    output queue takes nothing. Returns the fd that holds the suspension."""
    fd = os.open(slave_path, os.O_RDWR | os.O_NONBLOCK | os.O_NOCTTY)
    termios.tcflow(fd, termios.TCOOFF)
    return fd


@pytest.mark.parametrize("kind", ["ascii", "rtu"])
async def test_a_full_output_queue_costs_the_deadline_and_never_blocks_the_loop(kind: str) -> None:
    with pty_pair() as (_master, path):
        filler = _stop_output(path)
        try:
            port = AsyncSerialPort(SerialSettings(path, 19200, "N"))
            query: Callable[[], Awaitable[object]]
            if kind == "ascii":
                alink = AsciiLink(port, timeout_s=0.2)
                query = lambda: alink.query(b"MEAS?")  # noqa: E731
            else:
                rlink = ModbusRtuLink(port, timeout_s=0.2)
                query = lambda: rlink.read("holding", 0, 1, 1)  # noqa: E731
            ticks = 0
            in_query = False

            async def ticker() -> None:
                nonlocal ticks
                while True:
                    if in_query:
                        ticks += 1
                    await asyncio.sleep(0)

            t = asyncio.create_task(ticker())
            in_query = True
            try:
                with pytest.raises(DeviceTimeout):
                    await query()
            finally:
                in_query = False
                t.cancel()
                await asyncio.gather(t, return_exceptions=True)
            # The loop ran other work while the write waited for room.
            assert ticks >= 10
            await port.aclose()
        finally:
            os.close(filler)


@pytest.mark.deadline(60)
async def test_a_babbling_device_costs_linear_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """60 bursts of 50 noise bytes, each arriving after the link has looked at the
    last, then the reply: at most one CRC per byte received (the old search redid
    every offset at every burst: quadratic)."""
    crc_calls = 0
    real_crc = rtu.crc16

    def counting_crc(data: bytes | bytearray | memoryview) -> int:
        nonlocal crc_calls
        crc_calls += 1
        return real_crc(data)

    monkeypatch.setattr(rtu, "crc16", counting_crc)
    rng = random.Random(7)
    bursts = [bytes(rng.randrange(256) for _ in range(50)) for _ in range(60)]
    reply = frame(1, bytes([3, 2, 0x12, 0x34]))

    with pty_pair() as (master, path):
        port = AsyncSerialPort(SerialSettings(path, 19200, "N"))
        link = ModbusRtuLink(port, timeout_s=15.0)
        looked = asyncio.Event()
        wait_more = port.wait_more

        async def signalled_wait_more() -> None:
            looked.set()
            await wait_more()

        port.wait_more = signalled_wait_more  # type: ignore[method-assign]

        async def babbler() -> None:
            for chunk in [*bursts, reply]:
                await looked.wait()
                looked.clear()
                os.write(master, chunk)

        b = asyncio.create_task(babbler())
        try:
            assert await link.read("holding", 0, 1, 1) == [0x1234]
        finally:
            b.cancel()
            await asyncio.gather(b, return_exceptions=True)
            await link.close()

    received = sum(map(len, bursts)) + len(reply)
    assert 0 < crc_calls <= received
