"""summary.json damaged in place (bit rot: its sources' sizes and times unchanged)."""

from __future__ import annotations

import os
from pathlib import Path

from linecontrol.runlog import store
from tests.integration.test_cli_runs import _fake_run


def test_a_damaged_summary_is_rebuilt_never_shown(tmp_path: Path) -> None:
    d = _fake_run(tmp_path, "20260101-000000-aaaa")
    path = d / "summary.json"
    assert store.run_listing(d)["rows"] == 30
    text = path.read_text()
    assert text.count('"rows": 30') == 1
    st = path.stat()
    path.write_text(text.replace('"rows": 30', '"rows": 90'))  # one flipped bit: 3 -> 9
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    listing = store.run_listing(d)
    assert listing["rows"] == 30  # rebuilt from the samples, not the damaged summary
    assert '"rows": 30' in path.read_text()  # and saved again
