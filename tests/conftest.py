"""Every test leaves nothing running: no asyncio task, no child process, no thread;
and every test runs under a deadline.

An autouse fixture fails (as an error at teardown) any test that leaks

- an asyncio task: one still pending when the test's event loop closes, looked at just
  before the runner's own cancel-all would hide it. For an ``async def`` test (run by
  pytest-asyncio on a loop of its own) that is after its fixtures' teardown, so a
  fixture may own a task and end it in its teardown; for a test that calls
  ``asyncio.run`` (or ``asyncio.Runner``) itself, when that runner ends. Each leaked
  task is then cancelled; one that has not ended ``LEAK_GRACE_S`` later is reported so
  and abandoned (its loop is closed under it), so it cannot hang the run;
- a process: a live (non-zombie) process started during the test that is still
  running after it. Found two ways: a descendant of the test process, or any
  process whose environment carries this test's tag (``LINECONTROL_LEAK_TAG``,
  inherited from ``os.environ``). On Linux the test process is a child subreaper
  (``PR_SET_CHILD_SUBREAPER``), so a grandchild whose parent died is re-parented to it,
  not to init, and is still a descendant, even with a scrubbed environment. Each is
  killed with its pid and command line reported, so it cannot disturb later tests;
- a thread: a ``threading`` thread started during the test and still alive.

Every test runs under a deadline: the ``@pytest.mark.deadline(seconds)`` it carries,
else ``TEST_DEADLINE_S`` real seconds for an ``async def`` test and
``SYNC_TEST_DEADLINE_S`` for any other (longer: sync tests run whole commands, builds
and installs in child processes). It bounds the test's call, not its fixtures. An async
test that exceeds it is cancelled and fails, naming the deadline and showing the stacks
of the tasks still waiting. A sync test gets ``SIGALRM`` at its deadline, which fails it
where it stands (in a blocking call too); an async test gets the same at
``backstop(deadline)``, in case a blocking call holds its loop. And a test whose call
ran past its deadline fails even if it then returned: a blocking call the cancellation
could not reach, or a test that swallowed its cancellation or its alarm.

Processes and threads get a short grace (``LEAK_GRACE_S``, polled, with a deadline)
to finish exiting. Task and thread leaks are reported only for a test that
otherwise passed (its failure is the news); process leaks always, and are always
killed. Linux only (``/proc``); elsewhere the process check is skipped.

Limits: a process that is neither a descendant nor tagged (started for the test by a
service outside its process tree, with the tag scrubbed) is not seen; an orphan that
ends by itself stays a zombie of the test process until the session ends; a test that
catches ``BaseException`` outlives its alarm (it fails once it returns); the alarm is
``SIGALRM`` on the main thread (where pytest runs tests), so a test that sets its own
real-time interval timer replaces it.
"""

from __future__ import annotations

import asyncio
import asyncio.runners
import contextlib
import functools
import inspect
import io
import itertools
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Awaitable, Callable, Generator, Iterator
from dataclasses import dataclass

import pytest

LEAK_GRACE_S = 1.0
TEST_DEADLINE_S = 20.0  # real seconds, for each async test (see the deadline marker)
# Real seconds, for each other test: the longest a sync test allows its child processes
# (a wheel built and installed, a recipe run end to end through the command).
SYNC_TEST_DEADLINE_S = 300.0
TAG_VAR = "LINECONTROL_LEAK_TAG"
PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>
_PROC = "/proc"
_counter = itertools.count(1)
_report_key = pytest.StashKey[pytest.TestReport]()


def backstop(deadline_s: float) -> float:
    """When an async test whose deadline is ``deadline_s`` gets ``SIGALRM``: later than its
    deadline, so the loop's own cancellation (with the waiting tasks' stacks) comes first."""
    return deadline_s * 1.5 + 1.0


def pytest_configure(config: pytest.Config) -> None:
    """Make this process a child subreaper: orphaned descendants stay descendants."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


@dataclass(frozen=True)
class _Proc:
    pid: int
    ppid: int
    state: str
    start: int  # clock ticks since boot: (pid, start) names a process despite pid reuse

    @property
    def live(self) -> bool:
        return self.state not in ("Z", "X", "x")


def _processes() -> dict[int, _Proc]:
    out: dict[int, _Proc] = {}
    for name in os.listdir(_PROC):
        if not name.isdigit():
            continue
        try:
            with open(f"{_PROC}/{name}/stat", "rb") as f:
                raw = f.read()
        except OSError:  # gone meanwhile
            continue
        # comm (field 2) may hold spaces and parentheses: split after the last ')'.
        fields = raw[raw.rindex(b")") + 2 :].split()
        out[int(name)] = _Proc(int(name), int(fields[1]), fields[0].decode(), int(fields[19]))
    return out


def _descendants(procs: dict[int, _Proc], root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for p in procs.values():
        children.setdefault(p.ppid, []).append(p.pid)
    found: set[int] = set()
    todo = [root]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in found:
                found.add(c)
                todo.append(c)
    return found


def _has_tag(pid: int, tag: bytes) -> bool:
    try:
        with open(f"{_PROC}/{pid}/environ", "rb") as f:
            env = f.read()
    except OSError:  # gone, or not ours to read
        return False
    for entry in env.split(b"\0"):
        if entry.startswith(TAG_VAR.encode() + b"="):
            return tag in entry.split(b"=", 1)[1].split(b"/")
    return False


def _cmdline(pid: int) -> str:
    try:
        with open(f"{_PROC}/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def _leaked_processes(before: set[tuple[int, int]], tag: bytes) -> list[_Proc]:
    procs = _processes()
    mine = _descendants(procs, os.getpid())
    return [
        p
        for p in procs.values()
        if p.live and (p.pid, p.start) not in before and (p.pid in mine or _has_tag(p.pid, tag))
    ]


def _kill(procs: list[_Proc], deadline: float) -> None:
    for p in procs:
        with contextlib.suppress(OSError):
            os.kill(p.pid, signal.SIGKILL)
    # Reap our own children so no zombie is left; others are reaped by their parent.
    for p in procs:
        if p.ppid != os.getpid():
            continue
        while time.monotonic() < deadline:
            try:
                if os.waitpid(p.pid, os.WNOHANG)[0]:
                    break
            except ChildProcessError:
                break
            time.sleep(0.01)


def _stack(task: asyncio.Task[object]) -> str:
    where = io.StringIO()
    task.print_stack(limit=6, file=where)
    return where.getvalue().rstrip()


def _bounded(
    test: Callable[..., Awaitable[None]], deadline_s: float
) -> Callable[..., Awaitable[None]]:
    """``test`` cancelled at its deadline, and failed."""

    @functools.wraps(test)
    async def bounded(*args: object, **kwargs: object) -> None:
        me = asyncio.current_task()
        try:
            async with asyncio.timeout(deadline_s) as scope:
                await test(*args, **kwargs)
        except TimeoutError:
            if not scope.expired():
                raise  # the test's own timeout, not the deadline
            waiting = [_stack(t) for t in asyncio.all_tasks() if t is not me and not t.done()]
            pytest.fail(
                f"the test exceeded its deadline of {deadline_s:g} s"
                + "".join(f"\n{w}" for w in waiting),
                pytrace=False,
            )

    return bounded


def _deadline_of(item: pytest.Function, is_async: bool) -> float:
    marker = item.get_closest_marker("deadline")
    if marker:
        return float(marker.args[0])
    return TEST_DEADLINE_S if is_async else SYNC_TEST_DEADLINE_S


@contextlib.contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    """``SIGALRM`` in ``seconds``, failing whatever the main thread is doing then."""
    main = threading.current_thread() is threading.main_thread()
    if not hasattr(signal, "setitimer") or not main:
        yield
        return

    def expired(signum: int, frame: object) -> None:
        pytest.fail(f"the test exceeded its deadline: SIGALRM after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """Run each test under its deadline (an ``async def`` one wrapped: pytest-asyncio
    synchronises ``item.obj`` at run time, so it runs the wrapper), and fail one whose
    call ran past it although it returned."""
    if not isinstance(item, pytest.Function):
        return (yield)
    is_async = inspect.iscoroutinefunction(item.obj)
    deadline_s = _deadline_of(item, is_async)
    original = item.obj
    if is_async:
        item.obj = _bounded(original, deadline_s)
    start = time.monotonic()
    try:
        with _alarm(backstop(deadline_s) if is_async else deadline_s):
            result = yield
    finally:
        item.obj = original
    took = time.monotonic() - start
    if took > deadline_s:
        pytest.fail(
            f"the test ran {took:.3g} s, past its deadline of {deadline_s:g} s (a blocking"
            " call, or a cancellation or alarm it caught, kept it from being stopped)",
            pytrace=False,
        )
    return result


class _TaskWatch:
    """Records the tasks still pending when an asyncio runner starts cancelling, then
    cancels them as the runner would, but waits only ``LEAK_GRACE_S`` for them."""

    def __init__(self) -> None:
        self.leaks: list[str] = []
        self._real = asyncio.runners._cancel_all_tasks  # type: ignore[attr-defined]

    def _check(self, loop: asyncio.AbstractEventLoop) -> None:
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        if not pending:
            return
        stacks = {t: _stack(t) for t in pending}
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.wait(pending, timeout=LEAK_GRACE_S))
        for task in pending:
            refused = "" if task.done() else f"\n(not ended {LEAK_GRACE_S:g} s after its cancel)"
            self.leaks.append(stacks[task] + refused)
            if task.done() and not task.cancelled() and task.exception() is not None:
                loop.call_exception_handler(
                    {
                        "message": "unhandled exception of a leaked task",
                        "exception": task.exception(),
                        "task": task,
                    }
                )

    def __enter__(self) -> _TaskWatch:
        asyncio.runners._cancel_all_tasks = self._check  # type: ignore[attr-defined]
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.runners._cancel_all_tasks = self._real  # type: ignore[attr-defined]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[_report_key] = report
    return report


@pytest.fixture(autouse=True)
def no_leaks(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the test if it leaves an asyncio task, a process or a thread behind."""
    on_linux = sys.platform.startswith("linux") and os.path.isdir(_PROC)
    tag = f"{os.getpid()}-{next(_counter)}"
    old_tag = os.environ.get(TAG_VAR)
    os.environ[TAG_VAR] = f"{old_tag}/{tag}" if old_tag else tag
    before = {(p.pid, p.start) for p in _processes().values()} if on_linux else set()
    threads_before = set(threading.enumerate())
    with _TaskWatch() as tasks:
        try:
            yield
        finally:
            if old_tag is None:
                os.environ.pop(TAG_VAR, None)
            else:
                os.environ[TAG_VAR] = old_tag
    problems: list[str] = []
    deadline = time.monotonic() + LEAK_GRACE_S
    if on_linux:
        leaked = _leaked_processes(before, tag.encode())
        while leaked and time.monotonic() < deadline:
            time.sleep(0.01)
            leaked = _leaked_processes(before, tag.encode())
        if leaked:
            problems += [f"leaked process {p.pid}: {_cmdline(p.pid)}" for p in leaked]
            _kill(leaked, time.monotonic() + LEAK_GRACE_S)
    report = request.node.stash.get(_report_key, None)
    if report is None or report.passed:
        problems += [f"leaked asyncio task {t}" for t in tasks.leaks]
        for t in threading.enumerate():
            if t not in threads_before:
                t.join(max(0.0, deadline - time.monotonic()))
                if t.is_alive():
                    frame = sys._current_frames().get(t.ident or -1)
                    where = "".join(traceback.format_stack(frame, limit=6)) if frame else ""
                    problems.append(f"leaked thread {t.name!r} (daemon={t.daemon})\n{where}")
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
