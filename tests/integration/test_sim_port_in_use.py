"""Two simulated lines on one fixed port: the second says so in one line, never a
traceback, and `record --sim` passes that line on."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from linecontrol.config import DEFAULT_LINE

pytestmark = pytest.mark.integration


def _config_on_a_taken_port(tmp_path: Path, sock: socket.socket) -> Path:
    port = sock.getsockname()[1]
    text = DEFAULT_LINE.read_text()
    assert "\nport = 0\n" in text
    cfg = tmp_path / "fixed.toml"
    cfg.write_text(text.replace("\nport = 0\n", f"\nport = {port}\n", 1))
    return cfg


def test_a_port_in_use_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()  # another simulator holds it
        cfg = _config_on_a_taken_port(tmp_path, sock)
        sim = subprocess.run(
            [sys.executable, "-m", "simulators", "--config", str(cfg)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert sim.returncode == 1, sim.stderr
        assert "Traceback" not in sim.stderr
        [line] = sim.stderr.strip().splitlines()
        assert line.startswith("error: cannot start the simulated line:") and "in use" in line
        rec = subprocess.run(
            [
                *(sys.executable, "-m", "linecontrol", "record", "--sim", "--config", str(cfg)),
                *("--duration", "1", "--data-dir", str(tmp_path / "runs")),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert rec.returncode == 2, rec.stderr
        assert "Traceback" not in rec.stderr and "Expecting value" not in rec.stderr
        [err] = [ln for ln in rec.stderr.splitlines() if ln.startswith("error:")]
        assert "in use" in err, err
