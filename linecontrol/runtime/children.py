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
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

_prctl: Callable[..., int] | None = None
if sys.platform == "linux":
    # Resolved here, in the parent: looking a symbol up after fork could take the
    # dynamic loader's lock in a child of a multithreaded process.
    with contextlib.suppress(OSError, AttributeError):
        _prctl = ctypes.CDLL(None, use_errno=True).prctl


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
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
    try:
        return await asyncio.wait_for(proc.wait(), deadline_s)
    except TimeoutError:
        pass
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
    return await proc.wait()
