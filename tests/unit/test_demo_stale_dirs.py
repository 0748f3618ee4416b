"""``linecontrol demo`` removes the private directories its own killed demos left
(``remove_stale_dirs``) and nothing else: not a live demo's, not another user's, not a
symlink, not one whose owner is not known (no mark yet, a mark that does not parse).
Real directories and real processes (a child that has ended, this process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from linecontrol.cli.demo import (
    OWNER,
    PREFIX,
    owner_mark,
    pid_namespace,
    remove_stale_dirs,
    start_time,
)

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc")


def ended_pid() -> int:
    """The pid of a process that has run and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=60)
    return child.pid


def made(root: Path, name: str, mark: str | None) -> Path:
    d = root / f"{PREFIX}{name}"
    d.mkdir()
    (d / "api.sock").write_text("")  # serve's socket, dead
    if mark is not None:
        (d / OWNER).write_text(mark, encoding="ascii")
    return d


def test_the_directory_of_an_ended_demo_is_removed(tmp_path: Path) -> None:
    gone = made(tmp_path, "gone", owner_mark(ended_pid()))
    assert remove_stale_dirs(tmp_path) == [gone]
    assert not gone.exists()


def test_a_pid_given_to_another_process_since_is_an_ended_demo(tmp_path: Path) -> None:
    """The parent of this process runs, but started at another time than the mark
    says: the demo that wrote it is gone."""
    ppid = os.getppid()
    start = start_time(ppid)
    assert start is not None
    reused = made(tmp_path, "reused", f"{ppid} {int(start) + 1}\n")
    assert remove_stale_dirs(tmp_path) == [reused]


def test_a_live_demo_s_directory_is_kept(tmp_path: Path) -> None:
    parent = made(tmp_path, "parent", owner_mark(os.getppid()))  # alive, the mark its own
    mine = made(tmp_path, "mine", owner_mark(os.getpid()))
    assert remove_stale_dirs(tmp_path) == []
    assert parent.exists() and mine.exists()


@pytest.mark.parametrize("mark", [None, "", "not a pid", "-1 5", "0 5"])
def test_a_directory_whose_owner_is_not_known_is_kept(tmp_path: Path, mark: str | None) -> None:
    d = made(tmp_path, "unknown", mark)  # None: a demo between its mkdir and its mark
    assert remove_stale_dirs(tmp_path) == []
    assert d.exists()


def test_a_symlink_and_what_it_points_to_are_kept(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / OWNER).write_text(owner_mark(ended_pid()), encoding="ascii")
    link = tmp_path / f"{PREFIX}link"
    link.symlink_to(target)
    assert remove_stale_dirs(tmp_path) == []
    assert link.is_symlink() and (target / OWNER).exists()


def test_a_mark_that_is_a_symlink_is_not_read(tmp_path: Path) -> None:
    elsewhere = tmp_path / "mark"
    elsewhere.write_text(owner_mark(ended_pid()), encoding="ascii")
    d = made(tmp_path, "linked-mark", None)
    (d / OWNER).symlink_to(elsewhere)
    assert remove_stale_dirs(tmp_path) == []
    assert d.exists()


def test_other_names_are_never_touched(tmp_path: Path) -> None:
    other = tmp_path / "linecontrol-other"
    other.mkdir()
    (other / OWNER).write_text(owner_mark(ended_pid()), encoding="ascii")
    assert remove_stale_dirs(tmp_path) == []
    assert other.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory to another uid needs root")
def test_another_user_s_directory_is_kept(tmp_path: Path) -> None:
    theirs = made(tmp_path, "theirs", owner_mark(ended_pid()))
    os.chown(theirs, 54321, 54321)
    assert remove_stale_dirs(tmp_path) == []
    assert theirs.exists()


def test_a_link_inside_a_stale_directory_is_removed_not_followed(tmp_path: Path) -> None:
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "data").write_text("kept")
    gone = made(tmp_path, "gone", owner_mark(ended_pid()))
    (gone / "link").symlink_to(keep)
    assert remove_stale_dirs(tmp_path) == [gone]
    assert (keep / "data").read_text() == "kept"


def test_a_demo_of_another_pid_namespace_is_kept(tmp_path: Path) -> None:
    """A demo in a container that shares this temporary directory: its pid names no
    process here (or another one), so it is not known to be gone; its directory (its
    live serve's socket) was removed."""
    pid = ended_pid()
    assert pid_namespace() != "pid:[1]"
    theirs = made(tmp_path, "container", f"{pid} 12345 pid:[1]\n")
    assert remove_stale_dirs(tmp_path) == []
    assert theirs.exists()


def test_a_mark_of_this_namespace_or_of_none_is_judged_by_its_pid(tmp_path: Path) -> None:
    """The mark names this pid namespace (as every demo now writes), or no namespace
    (a mark written before the namespace was): an ended pid is a demo gone."""
    assert pid_namespace() in owner_mark(os.getpid())
    here = made(tmp_path, "here", f"{ended_pid()} 12345 {pid_namespace()}\n")
    older = made(tmp_path, "older", f"{ended_pid()} 12345\n")
    assert sorted(remove_stale_dirs(tmp_path)) == sorted([here, older])


def test_a_directory_another_demo_removes_meanwhile_is_no_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Two demos started at once sweep the same stale directory: the one that loses the
    race finds it gone half-way (FileNotFoundError). That is no failure to report; a
    directory that stays is."""
    import shutil

    gone = made(tmp_path, "raced", owner_mark(ended_pid()))
    real_rmtree = shutil.rmtree

    def raced(path: str) -> None:
        real_rmtree(path)  # the other demo, first
        raise FileNotFoundError(2, "No such file or directory", path)

    monkeypatch.setattr(shutil, "rmtree", raced)
    with caplog.at_level("DEBUG", logger="linecontrol"):
        assert remove_stale_dirs(tmp_path) == []
    assert not gone.exists()
    assert not [r for r in caplog.records if r.levelname == "WARNING"], caplog.text

    kept = made(tmp_path, "stuck", owner_mark(ended_pid()))

    def refused(path: str) -> None:
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(shutil, "rmtree", refused)
    with caplog.at_level("DEBUG", logger="linecontrol"):
        assert remove_stale_dirs(tmp_path) == []
    assert kept.exists()
    assert "not removed" in caplog.text
