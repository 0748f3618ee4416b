"""write_json_atomic with two writers of the same file at once."""

from __future__ import annotations

import json
from pathlib import Path

from linecontrol.runlog import write_json_atomic


def test_two_writers_of_one_file_never_clash(tmp_path: Path) -> None:
    # `runs list` rebuilds summary.json of a run while its recorder writes it at
    # stop. The second writer runs in the middle of the first (from inside the
    # first one's serialisation, so the interleaving is exact, no timing).
    path = tmp_path / "summary.json"

    class Other:
        def __str__(self) -> str:
            write_json_atomic(path, {"writer": "other"})
            return "first"

    write_json_atomic(path, {"writer": Other()})  # no error: neither lost its temp file
    assert json.loads(path.read_text()) == {"writer": "first"}  # whole, the last rename
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]  # no temp file left
