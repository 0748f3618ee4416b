"""``linecontrol record`` on a real read-only and a real full file system.

A small tmpfs mounted in a private mount namespace (``unshare -m``): the kernel's
own EROFS and ENOSPC, not an injection. Needs root with CAP_SYS_ADMIN (as in CI's
container); skipped, saying so, where mounting is not allowed. The same failures
are injected at the os level in ``test_runlog_failures.py``, which runs anywhere.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR) ")


def _can_mount(tmp_path: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    d = tmp_path / "probe-mnt"
    d.mkdir()
    p = subprocess.run(
        ["unshare", "-m", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs '{d}'"],
        capture_output=True,
        timeout=30,
        check=False,
    )
    return p.returncode == 0


def _record_on_tmpfs(
    tmp_path: Path, options: str, *args: str, timeout: float = 120
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Run ``linecontrol record`` with a tmpfs (``options``) as its data dir; the run
    directory is copied out before the namespace (and its mount) goes away."""
    if not _can_mount(tmp_path):
        pytest.skip("cannot mount a tmpfs in a private mount namespace (needs CAP_SYS_ADMIN)")
    mnt = tmp_path / "mnt"
    out = tmp_path / "out"
    mnt.mkdir()
    out.mkdir()
    cmd = " ".join(f"'{a}'" for a in [sys.executable, "-m", "linecontrol", "record", *args])
    script = (
        f"mount -t tmpfs -o {options} tmpfs '{mnt}' || exit 99\n"
        f"{cmd} --data-dir '{mnt}'\n"
        "rc=$?\n"
        f"cp -a '{mnt}'/. '{out}'/ 2>/dev/null\n"
        "exit $rc\n"
    )
    p = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert p.returncode != 99, p.stderr
    return p, out


def test_a_read_only_data_dir_is_one_line_and_nothing_starts(tmp_path: Path) -> None:
    p, out = _record_on_tmpfs(tmp_path, "ro", "--sim", "--duration", "30")
    assert "Traceback" not in p.stderr
    assert p.returncode == 2, p.stderr
    [line] = p.stderr.strip().splitlines()
    assert "not writable: Read-only file system" in line and "nothing recorded" in line
    assert p.stdout == "" and list(out.iterdir()) == []


def test_a_disk_that_fills_during_the_run_and_stays_full_at_stop(tmp_path: Path) -> None:
    # 160 KiB: room for the probe at start and meta.json, then a few seconds of samples.
    p, out = _record_on_tmpfs(tmp_path, "size=160k", "--sim", "--duration", "10")
    assert "Traceback" not in p.stderr, p.stderr
    assert p.returncode == 3, p.stderr
    run_id = p.stdout.strip()
    assert run_id, "the run id is printed"
    # The command's report, without the log lines (the run-log error is one too).
    lines = [ln for ln in p.stderr.strip().splitlines() if not LOG_LINE.match(ln)]
    logged = [ln for ln in p.stderr.splitlines() if LOG_LINE.match(ln)]
    assert any(
        f"ERROR linecontrol.runlog: run {run_id}: run-log write failed" in ln for ln in logged
    )
    assert lines[0].startswith("devices: 28 of 28 answered"), lines
    [err] = [ln for ln in lines if ln.startswith("error:")]
    assert err.startswith(f"error: run {run_id}: the run log could not write everything")
    assert "No space left on device" in err and "meta:" in err
    run_dir = out / run_id
    assert not list(run_dir.glob("*meta.json.tmp"))  # a temp name of its own
    # One segment: no new empty segment per second while the disk stayed full.
    assert [s.name[:10] for s in (run_dir / "samples").glob("seg-*.arrows")] == ["seg-000001"]
    assert not list((run_dir / "samples").glob(".*.tmp"))  # nor a seek index's temp file
    meta = json.loads((run_dir / "meta.json").read_text())
    assert meta["exit_status"] is None  # the stop could not be recorded: incomplete
    from linecontrol.runlog import load_samples, run_listing

    s = load_samples(run_dir)
    assert s.batches >= 2 and s.corrupt == []
    assert run_listing(run_dir)["exit_status"] == "incomplete (no stop recorded)"
