"""The leak fixture of tests/conftest.py fails a test that leaks, and only then."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"

INNER = """
import asyncio
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def note(name, pid):
    Path(name).write_text(str(pid))


def test_leaks_a_task():
    async def forever():
        await asyncio.sleep(60)

    async def body():
        asyncio.create_task(forever(), name="left-behind")
        await asyncio.sleep(0)

    asyncio.run(body())


async def test_async_leaks_a_task():
    async def forever_async():
        await asyncio.sleep(60)

    asyncio.create_task(forever_async(), name="left-behind-async")
    await asyncio.sleep(0)


@pytest.mark.deadline(0.2)
async def test_async_overruns_its_deadline():
    await asyncio.Event().wait()


async def test_async_times_out_on_its_own():
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            await asyncio.Event().wait()


async def test_async_cleans_up_after_itself():
    await asyncio.create_task(asyncio.sleep(0.01))


@pytest.fixture
async def owns_a_task():
    # A server fixture's shape: it starts a task, the test uses it, its teardown ends it.
    stop = asyncio.Event()
    task = asyncio.create_task(stop.wait(), name="owned-by-the-fixture")
    yield task
    stop.set()
    await task


async def test_async_uses_a_fixture_that_owns_a_task(owns_a_task):
    await asyncio.sleep(0)
    assert not owns_a_task.done()


async def test_async_leaks_a_task_that_will_not_end():
    async def stubborn():
        while True:
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                pass

    asyncio.create_task(stubborn(), name="refuses-to-end")
    await asyncio.sleep(0)


@pytest.mark.deadline(0.2)
async def test_async_blocks_its_loop_past_its_deadline():
    time.sleep(0.5)


@pytest.mark.deadline(0.2)
async def test_async_blocks_its_loop_for_good():
    time.sleep(60)  # ended by the alarm at the backstop


@pytest.mark.deadline(0.2)
async def test_async_swallows_its_cancellation():
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        pass
    await asyncio.sleep(0.1)


@pytest.mark.deadline(0.2)
def test_sync_overruns_its_deadline():
    time.sleep(60)


@pytest.mark.deadline(0.2)
def test_sync_swallows_its_alarm():
    try:
        time.sleep(60)
    except BaseException:
        pass


def test_leaks_a_child():
    child = subprocess.Popen(SLEEPER)
    note("child.pid", child.pid)


def test_leaks_an_orphaned_grandchild():
    # The child starts a sleeper and exits: the sleeper is re-parented to init.
    code = (
        "import subprocess, sys; "
        "d = subprocess.DEVNULL; print(subprocess.Popen(sys.argv[1:], stdout=d, stderr=d).pid)"
    )
    out = subprocess.run([sys.executable, "-c", code, *SLEEPER], capture_output=True, text=True)
    note("grandchild.pid", int(out.stdout))


def test_leaks_an_orphan_with_a_scrubbed_environment():
    # As above, but the sleeper has no environment: no tag to find it by.
    code = (
        "import subprocess, sys; d = subprocess.DEVNULL; "
        "print(subprocess.Popen(sys.argv[1:], stdout=d, stderr=d, env={}).pid)"
    )
    out = subprocess.run([sys.executable, "-c", code, *SLEEPER], capture_output=True, text=True)
    note("scrubbed.pid", int(out.stdout))


def test_leaks_a_thread():
    threading.Thread(target=threading.Event().wait, name="left-waiting", daemon=True).start()


def test_cleans_up_after_itself():
    async def short():
        await asyncio.sleep(0.01)

    async def body():
        task = asyncio.create_task(short())
        await task

    asyncio.run(body())
    child = subprocess.Popen(SLEEPER)
    child.kill()  # dead but not yet reaped at the end of the test: not a leak
    done = threading.Thread(target=lambda: None)
    done.start()
    done.join()
"""


# The settings of pyproject.toml that the fixture and its hook rely on.
INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
asyncio_default_test_loop_scope = function
markers =
    deadline(seconds): real-time deadline of a test
"""


def _gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2] in "ZX"


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="the process check reads /proc")
def test_the_fixture_fails_each_leaking_test_and_kills_what_it_leaked(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makeini(INI)
    pytester.makepyfile(test_inner=INNER)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    out = result.stdout.str()
    outcomes = result.parseoutcomes()
    errors = {m.group(1) for m in re.finditer(r"ERROR at teardown of (\w+)", out)}
    assert errors == {
        "test_leaks_a_task",
        "test_leaks_a_child",
        "test_leaks_an_orphaned_grandchild",
        "test_leaks_an_orphan_with_a_scrubbed_environment",
        "test_leaks_a_thread",
        "test_async_leaks_a_task",
        "test_async_leaks_a_task_that_will_not_end",
    }, out
    failed = {m.group(1) for m in re.finditer(r"FAILED \S*::(\w+)", out)}
    assert failed == {
        "test_async_overruns_its_deadline",
        "test_async_blocks_its_loop_past_its_deadline",
        "test_async_blocks_its_loop_for_good",
        "test_async_swallows_its_cancellation",
        "test_sync_overruns_its_deadline",
        "test_sync_swallows_its_alarm",
    }, out
    # The others pass: those above that erred at teardown passed their call.
    assert outcomes.get("passed") == 4 + len(errors) and outcomes.get("errors") == len(errors)
    assert outcomes.get("failed") == len(failed), out
    # An async test's leak is seen when its coroutine returns, and reported once. (Counted
    # above the short summary, whose lines pytest leaves whole under CI=true and cuts
    # to the terminal's width elsewhere.)
    reports = out.split("short test summary info")[0]
    assert reports.count("left-behind-async") == 1 and "forever_async" in reports, out
    assert "the test exceeded its deadline of 0.2 s" in out, out
    assert "SIGALRM after 0.2 s" in out and "SIGALRM after 1.3 s" in out, out
    assert re.search(r"the test ran [\d.]+ s, past its deadline of 0.2 s", out), out
    assert "refuses-to-end" in out and "not ended 1 s after its cancel" in out, out
    assert "leaked asyncio task" in out and "left-behind" in out and "forever" in out
    assert "leaked thread 'left-waiting'" in out
    for name in ("child.pid", "grandchild.pid", "scrubbed.pid"):
        pid = int((pytester.path / name).read_text())
        assert re.search(rf"leaked process {pid}: \S*python\S* -c import time; time.sleep", out)
        assert _gone(pid), f"{name} {pid} still running"
