"""A meta.json that is JSON but not a run's metadata (a field of the wrong type or out
of range) is malformed: the run is recovered from its samples and events, as for a
meta.json that is not JSON at all, never 'cannot be read'."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from linecontrol.runlog import RunMeta, store
from tests.integration.test_cli_runs import _fake_run


@pytest.mark.parametrize(
    "patch",
    [
        {"start_wall": "abc"},
        {"start_wall": 1e300},
        {"start_wall": None},
        {"sample_hz": "x"},
        {"sample_hz": 0},
        {"speedup": 0},
        {"speedup": "300"},
        {"recipe": [1]},
        {"line": [1]},
        {"run_id": 7},
        {"start_mono": None},
        {"stop_mono": "x"},
        {"exit_status": 3},
        {"channels": 5},
        {"channels": [{"name": 1}]},
        {"operator": ["x"]},
    ],
)
def test_a_field_of_the_wrong_type_is_a_malformed_meta_json(
    tmp_path: Path, patch: dict[str, Any]
) -> None:
    d = _fake_run(tmp_path, "20260101-000000-aaaa")
    meta = json.loads((d / "meta.json").read_text())
    RunMeta.from_dict(meta)  # the real one is fine
    meta.update(patch)
    (d / "meta.json").write_text(json.dumps(meta))
    _, problem = store.read_meta(d)
    assert problem is not None and "meta.json unreadable" in problem
    listing = store.run_listing(d)
    assert listing["rows"] == 30 and listing["exit_status"] == "ok"  # from the events
    store.summarize(d)
    store.export(d, tmp_path / "x.csv", "csv")
