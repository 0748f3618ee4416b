"""A run killed before anything but its directory was written (its meta.json never
renamed into place, no event, no sample) is listed at the time its id says, not at
1970-01-01."""

from __future__ import annotations

from pathlib import Path

from linecontrol.runlog import store


def test_a_run_with_nothing_in_it_starts_at_its_ids_time(tmp_path: Path) -> None:
    d = tmp_path / "20261201-193137-4af2"
    (d / "samples").mkdir(parents=True)
    (d / ".123-abcd.meta.json.tmp").write_text('{"run_id": "20261201-1')  # cut by SIGKILL
    listing = store.run_listing(d)
    assert listing["start_utc"].startswith("2026-12-01T19:31:37")
    assert listing["rows"] == 0 and "meta.json missing" in listing["problems"][0]
    # An id that is not a time stamp leaves the start unknown (the epoch), not a guess.
    e = tmp_path / "not-a-stamp"
    (e / "samples").mkdir(parents=True)
    assert store.run_listing(e)["start_utc"].startswith("1970-01-01")
