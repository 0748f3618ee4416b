"""Child processes that die with their parent, whatever ends the parent.

Every long-lived child of a linecontrol command (the simulated line of ``record --sim``
today) is started here, with two independent ties to its parent:

- The lifeline: the child's standard input is a pipe whose only write end the parent
  holds. However the parent ends (exit, crash, SIGKILL), the kernel closes that end and
  the child reads end-of-file. The child program must watch its stdin and stop cleanly at
  EOF (``python -m simulators --lifeline`` does). This works on every operating system.
- On Linux, ``PR_SET_PDEATHSIG``: the kernel sends the child SIGKILL when its parent ends,
  so even a child too stuck to notice EOF goes. It is set between fork and exec. The
  kernel sends it when the *thread* that forked the child ends, not the process, so it is
  set only when the child is started from the main thread (whose end is the process's end);
  from any other thread the lifeline alone applies. If the parent has already gone by the
  time the child sets it, the child exits at once instead of running orphaned.

The child also gets its own process group, so a Ctrl-C at the terminal reaches only the
parent, which then stops its children in order (``stop_child``).

A child may also take requests on that pipe: ``ChildRequests`` writes one JSON object a
line and awaits the child's one-line JSON answer with a deadline (the simulators' fault
lines, ``python -m simulators --lifeline``: ``inject_faults`` and ``clear_faults``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import itertools
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from linecontrol.errors import LinecontrolError

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

_prctl: Callable[..., int] | None = None
if sys.platform == "linux":
    # Resolved here, in the parent: looking a symbol up after fork could take the
    # dynamic loader's lock in a child of a multithreaded process.
    with contextlib.suppress(OSError, AttributeError):
        _prctl = ctypes.CDLL(None, use_errno=True).prctl


def stop_signals() -> tuple[signal.Signals, ...]:
    """The signals that stop a line process cleanly (record, run, serve): SIGINT, SIGTERM
    and SIGHUP (its terminal closed), unless SIGHUP is ignored (``nohup``), which stays so."""
    base = (signal.SIGINT, signal.SIGTERM)
    return base if signal.getsignal(signal.SIGHUP) == signal.SIG_IGN else (*base, signal.SIGHUP)


def _die_with_parent(parent_pid: int) -> Callable[[], None]:
    prctl = _prctl
    assert prctl is not None

    def in_child() -> None:
        # Runs in the child between fork and exec: no imports, no allocation to speak of.
        if prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            os._exit(126)
        if os.getppid() != parent_pid:  # the parent ended before the prctl
            os._exit(1)

    return in_child


async def start_child(
    argv: Sequence[str],
    *,
    stdout: int | None = asyncio.subprocess.PIPE,
    stderr: int | None = asyncio.subprocess.PIPE,
) -> asyncio.subprocess.Process:
    """Start ``argv`` tied to this process (see the module docstring). Its stdin is the
    lifeline: keep ``proc.stdin`` open while the child should run; ``stop_child`` ends it."""
    preexec = None
    if _prctl is not None and threading.current_thread() is threading.main_thread():
        preexec = _die_with_parent(os.getpid())
    return await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=stdout,
        stderr=stderr,
        preexec_fn=preexec,
        process_group=0,
    )


async def stop_child(proc: asyncio.subprocess.Process, deadline_s: float) -> int:
    """End the child cleanly: close its lifeline and send SIGTERM, then SIGKILL if it has
    not exited within ``deadline_s``; returns its exit status. Cancelled while waiting, it
    kills the child before letting the cancellation through."""
    if proc.stdin is not None:
        proc.stdin.close()
    _signal(proc, signal.SIGTERM)
    try:
        return await asyncio.wait_for(proc.wait(), deadline_s)
    except TimeoutError:
        pass
    finally:
        _signal(proc, signal.SIGKILL)
    return await proc.wait()


def _signal(proc: asyncio.subprocess.Process, sig: int) -> None:
    """``sig`` to a child not known to have ended, by its pid. Not ``proc.terminate()``
    or ``kill()``: ``Popen.send_signal`` polls first, and that poll may reap a child that
    has just exited before asyncio's child watcher does, which then reports exit status
    255 ("Unknown child process") instead of the child's own. The pid is the child's until
    the watcher reaps it; between that and ``returncode`` being set is a window as narrow
    as the one ``Popen.send_signal`` itself leaves."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, sig)


class ChildRequestError(LinecontrolError, RuntimeError):
    """A request to a child process did not succeed (base of the three below, each
    also the builtin it stands for)."""


class ChildRefused(ChildRequestError, ValueError):
    """The child answered that it refuses the request; the message is its reason."""


class ChildNoAnswer(ChildRequestError, TimeoutError):
    """The child did not answer within the deadline."""


class ChildGone(ChildRequestError, ConnectionError):
    """The child's pipes are closed (it ended), or it answered something that is not
    an answer line."""


class ChildRequests:
    """JSON-line requests to a child started by ``start_child`` (stdin and stdout pipes).

    Each request is written as one JSON line with an ``id``; the child answers each line
    with one JSON line carrying the same ``id`` and ``ok`` (true, or false with an
    ``error``). Requests go one at a time (a lock), so answers cannot cross; an answer
    that comes after its deadline is skipped by the next request (its ``id`` is not the
    one awaited). The caller must have read what the child writes first (the
    simulators' address map) before the first request.
    """

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        if proc.stdin is None or proc.stdout is None:
            raise ChildGone("the child was started without stdin and stdout pipes")
        self._stdin = proc.stdin
        self._stdout = proc.stdout
        self._lock = asyncio.Lock()
        self._ids = itertools.count(1)

    async def request(self, message: Mapping[str, Any], deadline_s: float) -> dict[str, Any]:
        """Send ``message`` (a JSON object; its ``id`` is set here) and return the
        child's answer once ``ok``; ``ChildRefused`` with the child's reason if not,
        ``ChildNoAnswer`` after ``deadline_s`` (waiting for the lock included),
        ``ChildGone`` if the child has ended."""
        try:
            async with asyncio.timeout(deadline_s):
                async with self._lock:
                    return await self._exchange(message)
        except TimeoutError as exc:
            raise ChildNoAnswer(f"no answer to {dict(message)!r} within {deadline_s:g} s") from exc

    async def _exchange(self, message: Mapping[str, Any]) -> dict[str, Any]:
        rid = next(self._ids)
        line = json.dumps({**message, "id": rid}, allow_nan=False) + "\n"
        try:
            self._stdin.write(line.encode())
            await self._stdin.drain()
        except (ConnectionError, RuntimeError) as exc:  # a closed pipe or transport
            raise ChildGone(f"cannot write to the child: {exc}") from exc
        while True:
            try:
                raw = await self._stdout.readline()
            except (ValueError, asyncio.LimitOverrunError) as exc:  # a line over the limit
                raise ChildGone(f"the child's answer is not a line: {exc}") from exc
            if not raw:
                raise ChildGone("the child ended before answering")
            try:
                answer = json.loads(raw)
            except ValueError as exc:
                raise ChildGone(f"the child answered {raw[:200]!r}, not JSON") from exc
            if not isinstance(answer, dict) or not isinstance(answer.get("ok"), bool):
                raise ChildGone(f"the child answered {raw[:200]!r}, not an answer line")
            if answer.get("id") != rid:
                continue  # the late answer of an earlier request, given up on
            if not answer["ok"]:
                raise ChildRefused(str(answer.get("error", "refused, no reason given")))
            return answer


async def inject_faults(
    requests: ChildRequests, device: str, faults: Mapping[str, Any], deadline_s: float
) -> None:
    """Tell the simulators (``python -m simulators --lifeline``) to show ``faults`` on
    ``device`` (fields of ``simulators.faults.Faults``, e.g. ``{"web_break": True}``);
    returns once they have. Errors as ``ChildRequests.request``."""
    await requests.request({"device": device, "faults": dict(faults)}, deadline_s)


async def clear_faults(requests: ChildRequests, device: str, deadline_s: float) -> None:
    """Tell the simulators to clear every fault of ``device``."""
    await requests.request({"device": device, "clear": True}, deadline_s)
