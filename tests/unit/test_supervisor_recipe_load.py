"""A recipe load never blocks the supervisor's loop: its file is read once, in a thread,
within a deadline; what is not a regular file of at most 1 MiB is refused before it is
read; a load in a state that loads no recipe is refused before the file is touched."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from linecontrol.acquisition import Acquisition
from linecontrol.config import DEFAULT_LINE, load_line
from linecontrol.model import Event, LoadRecipe
from linecontrol.runtime import ManualClock
from linecontrol.supervisor import Supervisor
from linecontrol.supervisor import core as sup
from linecontrol.supervisor import shell as sup_shell
from tests.supervision_plant import RECIPE, Run

LINE = load_line(DEFAULT_LINE)


@pytest.fixture
async def acq() -> AsyncIterator[Acquisition]:
    a = Acquisition(LINE, ManualClock())  # built, never run: rows come from acq.sample()
    yield a
    await a.close()


@pytest.fixture
async def running(acq: Acquisition, tmp_path: Path) -> AsyncIterator[Ticking]:
    """A booted supervisor stepped on a row every loop turn, and a count of the turns."""
    events: list[Event] = []
    s = Supervisor(LINE, acq, ManualClock(), on_event=events.append, state_dir=tmp_path / "st")
    task = asyncio.create_task(s.run())
    t = Ticking(s, acq)
    ticker = asyncio.create_task(t.tick())
    for _ in range(1000):  # until it has booted (bounded in loop turns)
        if s.core is not None:
            break
        await asyncio.sleep(0)
    assert s.core is not None
    yield t
    for x in (ticker, task):
        x.cancel()
    await asyncio.gather(ticker, task, return_exceptions=True)


class Ticking:
    def __init__(self, s: Supervisor, acq: Acquisition) -> None:
        self.s, self.acq, self.turns = s, acq, 0

    async def tick(self) -> None:
        while True:
            self.acq.sample()  # one row: the supervisor steps on it
            self.turns += 1
            await asyncio.sleep(0.001)

    async def refusal(self, request_id: str) -> str:
        async with asyncio.timeout(30):  # generous: a thread on a loaded machine
            await self.s.wait_for(lambda s: request_id in s.rejected)
        return self.s.rejected[request_id]


def load(path: Path | str, rid: str = "l1") -> LoadRecipe:
    return LoadRecipe(by="ana", request_id=rid, path=str(path))


@contextlib.contextmanager
def fifo_rescue(fifo: Path) -> Iterator[None]:
    """Opens the FIFO's writing end if a reader ever blocks on it (the old code did, on
    the loop), so such a test fails instead of hanging; never needed by the fixed code."""
    done = threading.Event()

    def rescue() -> None:
        while not done.wait(0.05):
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # no reader: nobody is blocked
                continue
            with contextlib.suppress(OSError):
                os.write(fd, b"not = [toml")
            os.close(fd)

    t = threading.Thread(target=rescue, daemon=True)
    t.start()
    try:
        yield
    finally:
        done.set()
        t.join(5)


async def test_a_fifo_is_refused_without_blocking_the_loop(
    running: Ticking, tmp_path: Path
) -> None:
    fifo = tmp_path / "recipe.toml"
    os.mkfifo(fifo)
    with fifo_rescue(fifo):
        running.s.submit(load(fifo))
        reason = await running.refusal("l1")
    assert "not a regular file" in reason
    assert running.s.core is not None and running.s.core.plan is None


async def test_dev_zero_is_refused_without_reading_it(running: Ticking) -> None:
    running.s.submit(load("/dev/zero"))  # the old code read it until the OOM killer came
    reason = await running.refusal("l1")
    assert "/dev/zero" in reason and "not a regular file" in reason


async def test_a_file_over_1_mib_is_refused(running: Ticking, tmp_path: Path) -> None:
    big = tmp_path / "big.toml"
    big.write_bytes(RECIPE.read_bytes() + b"\n" + b"#" * (1 << 20))
    running.s.submit(load(big))
    reason = await running.refusal("l1")
    assert f"larger than {1 << 20} bytes" in reason


async def test_a_read_past_the_deadline_is_refused_and_the_loop_runs_on(
    running: Ticking, monkeypatch: pytest.MonkeyPatch
) -> None:
    stuck = threading.Event()

    def never(cmd: LoadRecipe, line: object) -> sup.RecipeRefused:
        stuck.wait(60)  # a file system that does not answer
        return sup.RecipeRefused(cmd, "too late")

    monkeypatch.setattr(sup_shell, "load_recipe_for", never)
    running.s.load_deadline_s = 0.2
    try:
        running.s.submit(load(RECIPE))
        before = running.turns
        reason = await running.refusal("l1")
        assert "not read within 0.2 s" in reason
        assert running.turns > before  # the loop turned while the thread was stuck
    finally:
        stuck.set()


async def test_a_load_in_execute_is_refused_without_touching_the_file(
    acq: Acquisition, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []

    def spy(cmd: LoadRecipe, line: object) -> sup.RecipeRefused:
        opened.append(cmd.path)
        return sup.RecipeRefused(cmd, "read")

    monkeypatch.setattr(sup_shell, "load_recipe_for", spy)
    s = Supervisor(LINE, acq, ManualClock(), on_event=lambda e: None, state_dir=tmp_path)
    s.core = Run.boot().executing().core
    assert s.state.label == "Execute"
    s.submit(load(RECIPE))
    await asyncio.sleep(0)  # a load task, had one started, would have run to its read
    assert opened == []
    [refused] = s._inputs
    assert isinstance(refused, sup.RecipeRefused)
    assert refused.reason == "a recipe loads only in Stopped or Idle, not in Execute"


async def test_a_recipe_loads_and_its_hash_is_of_the_bytes_read(running: Ticking) -> None:
    running.s.submit(load(RECIPE))
    async with asyncio.timeout(30):
        await running.s.wait_for(lambda s: s.core is not None and s.core.plan is not None)
    assert running.s.core is not None and running.s.core.plan is not None
    assert running.s.core.plan.sha256 == hashlib.sha256(RECIPE.read_bytes()).hexdigest()
    assert "l1" not in running.s.rejected
