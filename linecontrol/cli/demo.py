"""``linecontrol demo``: the simulated line, the supervisor with a recipe loaded and the
operator's terminal, in one command.

It starts ``linecontrol serve --sim`` as a child process on a private socket (in a
temporary directory only this user can enter), waits for the socket to answer, then runs
the TUI in the foreground. However the TUI ends (``q``, ``ctrl+q`` or ``ctrl+c``, a
crash) and on SIGINT, SIGTERM or SIGHUP, serve is stopped (SIGTERM: it stops the line and
closes its run log; SIGKILL if it has not exited in ``STOP_S``). serve is tied to this
process by ``linecontrol.runtime.start_child`` (on Linux ``PR_SET_PDEATHSIG``), and serve
ties its simulators to itself the same way, so a demo killed outright takes both with it.

A demo killed outright leaves its directory (``linecontrol-demo-*`` in the temporary
directory, with serve's dead socket): each demo writes its pid and start time there
(``demo.pid``, with its pid namespace), and on start removes the directories of this
user's demos that are gone (``remove_stale_dirs``), never another user's, a live demo's,
one of another pid namespace or a symlink.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
import signal
import stat
import sys
import tempfile
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING

from linecontrol import runtime
from linecontrol.cli.options import (
    DEFAULT_RECIPE,
    data_dir_option,
    line_option,
    recipe_option,
    speedup_option,
    supervised_line,
)
from linecontrol.cli.output import EXIT_BAD_INPUT, EXIT_OK, EXIT_RUN_LOG, error
from linecontrol.cli.run import EXIT_NOT_COMPLETE

if TYPE_CHECKING:
    from linecontrol.api import ApiClient
    from linecontrol.config import LineConfig
    from linecontrol.tui import LineApp

DEMO_SPEEDUP = 60.0
"""The default speed-up: a simulated minute per real second, so 001 Example 1's heat-up
(about an hour of process time) takes about a minute."""
READY_S = 120.0  # serve's start, the simulators' included, on a loaded machine
STOP_S = 60.0  # serve's own stop: Stop, Abort after 30 s, then the run log closed
TAIL = 40  # serve's last stderr lines kept to show
EXIT_FAILED = 1  # the TUI failed, or serve ended by itself or had to be killed

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PREFIX = "linecontrol-demo-"  # the demo's private directory, in the temporary directory
OWNER = "demo.pid"  # in it: "PID START NAMESPACE" of the demo that made it
OWNER_MAX = 100  # bytes of it read, at most

logger = logging.getLogger("linecontrol.demo")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo",
        help="the simulated line, the supervisor and the TUI in one command",
        description="Starts `linecontrol serve --sim` with the recipe loaded (the machine in "
        "Stopped, or Aborted after an unclean stop) on a private socket, and the TUI on it. "
        "Quitting the TUI (q), Ctrl-C, SIGTERM, SIGHUP or a crash of the TUI stops serve, the "
        "line and the simulators; nothing is left running. Exit 0 after a clean stop; 2: serve "
        "did not start (its reason is shown), no recipe file or a recipe the supervisor refuses "
        "(its reason is shown); 3: the run log could not write "
        "everything; 1: the TUI failed, or serve ended by itself or had to be killed.",
    )
    line_option(p, "--config", "FILE", "line config")
    recipe_option(p, DEFAULT_RECIPE, "recipe loaded at start")
    speedup_option(
        p, DEMO_SPEEDUP, f"run the simulated line N times faster than real time (default "
        f"{DEMO_SPEEDUP:g})"
    )  # fmt: skip
    data_dir_option(p, "data root of the run log")
    runtime.add_log_options(p)
    p.set_defaults(func=demo)


def serve_argv(args: argparse.Namespace, sock: Path) -> list[str]:
    """The ``linecontrol serve`` command line of the demo's options."""
    argv = [sys.executable, "-m", "linecontrol", "serve", "--sim", "--config", str(args.config),
            "--recipe", str(args.recipe), "--speedup", repr(args.speedup), "--socket", str(sock),
            "--log-level", args.log_level]  # fmt: skip
    if args.data_dir is not None:
        argv += ["--data-dir", str(args.data_dir)]
    if args.log_file is not None:
        argv += ["--log-file", str(args.log_file)]
    return argv


def demo(args: argparse.Namespace) -> int:
    # serve's own checks, made here: the user reads the reason, not serve's stderr
    line = supervised_line(args.config, args.speedup, True, "demo")
    if line is None:
        return EXIT_BAD_INPUT
    # serve would start with the recipe refused (and the demo say it loaded): say so here
    if not args.recipe.exists():
        error(f"--recipe {args.recipe}: no such file; nothing started")
        return EXIT_BAD_INPUT
    refused = recipe_refusal(args.recipe, line)
    if refused is not None:
        error(f"--recipe {refused}; nothing started")
        return EXIT_BAD_INPUT
    print(
        f"linecontrol demo: starting the simulated line of {args.config.name} at "
        f"{args.speedup:g}x real time, the supervisor with {args.recipe.name} loaded, "
        "then the TUI (q quits)...",
        file=sys.stderr,
        flush=True,
    )
    return asyncio.run(Demo(args).run())


def recipe_refusal(path: Path, line: LineConfig) -> str | None:
    """Why the supervisor would refuse to load the recipe at ``path`` on ``line`` (its
    own check: the file read, parsed and planned against the process rules), or None."""
    from linecontrol.model import LoadRecipe
    from linecontrol.supervisor import RecipeRefused, load_recipe_for

    check = LoadRecipe(by="demo", request_id="demo-check", at=0.0, path=str(path))
    verdict = load_recipe_for(check, line)
    return verdict.reason if isinstance(verdict, RecipeRefused) else None


class ServeLines:
    """serve's standard error, read as it comes (a pipe never left full): the last
    ``TAIL`` lines and how many there were."""

    def __init__(self) -> None:
        self.tail: deque[str] = deque(maxlen=TAIL)
        self.count = 0

    async def read(self, stream: asyncio.StreamReader) -> None:
        while True:
            try:
                raw = await stream.readline()
            except ValueError:  # a line over the reader's limit: skip its rest
                continue
            if not raw:
                return
            self.tail.append(raw.decode("utf-8", "replace").rstrip("\n"))
            self.count += 1

    def since(self, mark: int) -> list[str]:
        """The kept lines from line number ``mark`` (0-based) on."""
        first = self.count - len(self.tail)
        return list(self.tail)[max(0, mark - first) :]


class Demo:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.stopping = asyncio.Event()
        self.app: LineApp | None = None

    def _signalled(self) -> None:
        self.stopping.set()
        app = self.app
        if app is not None:
            app.exit()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in SIGNALS:
            loop.add_signal_handler(sig, self._signalled)
        try:
            remove_stale_dirs(Path(tempfile.gettempdir()))
            with tempfile.TemporaryDirectory(prefix=PREFIX) as tmp:
                (Path(tmp) / OWNER).write_text(owner_mark(os.getpid()), encoding="ascii")
                return await self._run(Path(tmp) / "api.sock")
        finally:
            for sig in SIGNALS:
                loop.remove_signal_handler(sig)

    async def _run(self, sock: Path) -> int:
        from linecontrol.api import Address, ApiClient

        lines = ServeLines()
        proc = await runtime.start_child(serve_argv(self.args, sock))
        assert proc.stdout is not None and proc.stderr is not None
        readers = [asyncio.create_task(lines.read(proc.stderr))]
        address = Address(path=sock)
        tui_rc: int | None = None
        ended_by_itself = False
        mark = 0
        try:
            run_id = await self._until_ready(proc, ApiClient(address, f"demo-{os.getpid()}"))
            readers.append(asyncio.create_task(_discard(proc.stdout)))
            if run_id is not None and not self.stopping.is_set():
                # Where its API is, for curl or a second TUI (left on the screen the TUI
                # gives back when it ends).
                print(
                    f"demo: API on {sock} (curl --unix-socket {sock} "
                    f"http://localhost/v1/state; linecontrol tui --connect {sock})",
                    file=sys.stderr,
                    flush=True,
                )
                tui = ApiClient(address, f"tui-{os.getpid()}")
                tui_rc, ended_by_itself = await self._tui(proc, tui)
            mark = lines.count
        finally:
            rc = await runtime.stop_child(proc, STOP_S)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await asyncio.gather(*readers, return_exceptions=True)
            for task in readers:
                task.cancel()
        if run_id is None and not self.stopping.is_set():
            for line in lines.since(0):
                print(line, file=sys.stderr)
            error(f"serve did not start (exit {rc}); nothing left running")
            return EXIT_BAD_INPUT
        if ended_by_itself:
            for line in lines.since(0):
                print(line, file=sys.stderr)
            error(f"serve ended by itself while the TUI ran (exit {rc})")
            return EXIT_RUN_LOG if rc == EXIT_RUN_LOG else EXIT_FAILED
        if mark and self.args.log_file is None:
            print(
                f"({mark} line{'s' if mark > 1 else ''} serve wrote before the TUI ended "
                f"{'are' if mark > 1 else 'is'} not shown here: --log-file FILE keeps them)",
                file=sys.stderr,
            )
        for line in lines.since(mark):
            print(line, file=sys.stderr)
        if rc == EXIT_RUN_LOG:
            return EXIT_RUN_LOG
        # -SIGTERM: it ended before its handler; EXIT_NOT_COMPLETE: stopped before it served
        clean = (EXIT_OK, -signal.SIGTERM) + ((EXIT_NOT_COMPLETE,) if run_id is None else ())
        if rc not in clean:
            error(f"serve did not stop cleanly (exit {rc}); nothing left running")
            return EXIT_FAILED
        if tui_rc:
            error(f"the TUI failed (exit {tui_rc}); serve stopped, nothing left running")
            return EXIT_FAILED
        return EXIT_OK

    async def _until_ready(self, proc: asyncio.subprocess.Process, probe: ApiClient) -> str | None:
        """serve's run id once its socket answers; None if serve ended first, did not
        answer within ``READY_S``, or a signal came."""
        from linecontrol.api import ApiUnreachable

        assert proc.stdout is not None

        async def ready() -> str | None:
            run_id = ""
            while not run_id:  # serve prints "socket PATH" then "run ID" once it listens
                raw = await proc.stdout.readline()  # type: ignore[union-attr]
                if not raw:
                    return None
                text = raw.decode("utf-8", "replace").strip()
                if text.startswith("run "):
                    run_id = text[4:]
            while True:
                try:
                    await probe.state()
                    return run_id
                except ApiUnreachable:
                    if proc.returncode is not None:
                        return None
                    await asyncio.sleep(0.1)  # polling interval; the deadline bounds it

        waiting = asyncio.create_task(ready())
        signalled = asyncio.create_task(self.stopping.wait())
        try:
            done, _ = await asyncio.wait(
                {waiting, signalled}, timeout=READY_S, return_when=asyncio.FIRST_COMPLETED
            )
            if waiting in done:
                return waiting.result()
            if not self.stopping.is_set():
                error(f"serve did not answer on its socket within {READY_S:g} s")
            return None
        finally:
            waiting.cancel()
            signalled.cancel()
            await probe.close()

    async def _tui(self, proc: asyncio.subprocess.Process, client: ApiClient) -> tuple[int, bool]:
        """Run the TUI until it ends; (its exit status, whether serve ended first)."""
        from linecontrol.tui import LineApp

        app = LineApp(client)  # its own bindings make Ctrl-C quit, as q does
        ended: list[bool] = []

        async def watch() -> None:
            await proc.wait()
            ended.append(True)
            app.exit(return_code=EXIT_FAILED)

        watcher = asyncio.create_task(watch())
        self.app = app
        try:
            await app.run_async()
        finally:
            self.app = None
            watcher.cancel()
        return (app.return_code or 0), bool(ended)


async def _discard(stream: asyncio.StreamReader) -> None:
    while await stream.read(65536):
        pass


def start_time(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, ``/proc/PID/stat``), or None
    if there is no such process (or only its zombie) or no ``/proc``: with the pid it
    names one process, not a later one given the same pid."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rpartition(b")")[2].split()
    except OSError:
        return None
    if len(fields) <= 19 or fields[0] in (b"Z", b"X"):  # ended, not yet reaped
        return None
    return fields[19].decode("ascii")


def pid_namespace() -> str:
    """This process's pid namespace (``/proc/self/ns/pid``'s link, ``pid:[INODE]``), or
    ``-`` where it cannot be read: pids name processes only within one."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return "-"


def owner_mark(pid: int) -> str:
    """What a demo writes in its directory (``OWNER``): its pid, start time and pid
    namespace."""
    return f"{pid} {start_time(pid) or '-'} {pid_namespace()}\n"


def _owner_gone(mark: str) -> bool:
    """Whether the demo ``mark`` names has ended: no process with its pid, or one that
    started at another time (the pid given to another process since). A mark that does
    not parse is not known to be gone, nor one of another pid namespace (a demo in a
    container sharing this temporary directory: its pid means nothing here)."""
    pid_text, start, namespace = [*mark.split(), "", "", ""][:3]
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    if pid <= 0 or pid == os.getpid():
        return False
    if namespace and namespace != pid_namespace():
        return False
    now = start_time(pid)
    if now is not None:  # a process has the pid: gone only if it is another one
        return start not in ("-", "") and now != start
    if os.path.isdir("/proc/self"):
        return True  # /proc shows no such process
    try:
        os.kill(pid, 0)  # no /proc: only whether the pid is in use
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def _read_owner(directory: str) -> str | None:
    """The ``OWNER`` file of ``directory``: a regular file, never followed if a link."""
    try:
        fd = os.open(os.path.join(directory, OWNER), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return os.read(fd, OWNER_MAX).decode("ascii", "replace")
    except OSError:
        return None
    finally:
        os.close(fd)


def remove_stale_dirs(root: Path) -> list[Path]:
    """Remove the ``PREFIX*`` directories in ``root`` a demo of this user left when it
    was killed outright; the ones removed. Each must be a directory (not a symlink)
    owned by this uid, with an ``OWNER`` file naming a demo that has ended; anything
    else (another user's, a live demo's, one not yet marked, a link) is left alone."""
    removed: list[Path] = []
    uid = os.getuid()
    try:
        entries = [e.name for e in os.scandir(root) if e.name.startswith(PREFIX)]
    except OSError:
        return removed
    for name in entries:
        path = os.path.join(root, name)
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != uid:
            continue
        mark = _read_owner(path)
        if mark is None or not _owner_gone(mark):
            continue
        try:
            shutil.rmtree(path)  # by descriptors: a link inside is removed, not followed
        except OSError as exc:
            if not os.path.lexists(path):  # another demo starting now removed it first
                logger.debug("%s removed meanwhile by another demo: %s", path, exc)
            else:
                logger.warning("a stale demo directory %s not removed: %s", path, exc)
            continue
        logger.info("removed %s: its demo (pid %s) had ended", path, mark.split()[0])
        removed.append(Path(path))
    return removed
