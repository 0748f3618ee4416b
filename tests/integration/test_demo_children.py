"""``runtime.stop_child`` reports a child's own exit status. The demo found it: a serve that
exited 2 at once (a bad config) was reported as exit 255 about one time in four, because
``Popen.send_signal`` (behind ``terminate``) polls first, and that poll could reap the child
before asyncio's child watcher did, which then reported 255 ("Unknown child process")."""

from __future__ import annotations

import asyncio
import sys

import pytest

from linecontrol.runtime import start_child, stop_child

pytestmark = pytest.mark.integration

TRIES = 30  # before the fix each try showed 255 with a chance of about 1 in 4


async def exit_status_after_stop() -> int:
    proc = await start_child(
        [sys.executable, "-c", "import os, sys; sys.stdout.close(); os._exit(7)"]
    )
    assert proc.stdout is not None
    await asyncio.wait_for(proc.stdout.read(), 30)  # EOF: the child is exiting or gone
    return await stop_child(proc, 30)


def test_stop_child_reports_the_childs_own_exit_status() -> None:
    async def main() -> list[int]:
        return [await exit_status_after_stop() for _ in range(TRIES)]

    assert set(asyncio.run(main())) == {7}
