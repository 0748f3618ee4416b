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
    deadline(seconds): real-time deadline of an async test
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
    assert outcomes.get("passed") == 8 and outcomes.get("errors") == 5, out
    assert outcomes.get("failed") == 1, out
    errors = {m.group(1) for m in re.finditer(r"ERROR at teardown of (\w+)", out)}
    assert errors == {
        "test_leaks_a_task",
        "test_leaks_a_child",
        "test_leaks_an_orphaned_grandchild",
        "test_leaks_a_thread",
        "test_async_leaks_a_task",
    }, out
    # An async test's leak is seen when its coroutine returns, and reported once. (Counted
    # above the short summary, whose lines pytest leaves whole under CI=true and cuts
    # to the terminal's width elsewhere.)
    reports = out.split("short test summary info")[0]
    assert reports.count("left-behind-async") == 1 and "forever_async" in reports, out
    assert re.search(r"FAILED \S*test_async_overruns_its_deadline", out), out
    assert "the test exceeded its deadline of 0.2 s" in out, out
    assert "leaked asyncio task" in out and "left-behind" in out and "forever" in out
    assert "leaked thread 'left-waiting'" in out
    for name in ("child.pid", "grandchild.pid"):
        pid = int((pytester.path / name).read_text())
        assert re.search(rf"leaked process {pid}: \S*python\S* -c import time; time.sleep", out)
        assert _gone(pid), f"{name} {pid} still running"
