"""A segment whose schema (its channel list) is damaged: reported, never mislabelled,
and the run's other segments still read."""

from __future__ import annotations

from pathlib import Path

import pytest

from linecontrol.runlog import Channel, SegmentWriter, read_samples
from tests.runlog_child import batch

N = 3


def _two_segments(tmp_path: Path) -> tuple[Path, Path]:
    d = tmp_path / "samples"
    d.mkdir()
    paths = []
    for k in (1, 2):
        p = d / f"seg-00000{k}@{k - 1}.000.arrows"
        w = SegmentWriter(p, [Channel(f"zone_{i}.temp_pv_c", "C") for i in range(N)], fsync=False)
        for i in range(2):
            w.write(batch(10 * k + i, N))
        w.close()
        paths.append(p)
    return d, paths[0]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"zone_1.temp", b"zone_7.temp"),  # still valid JSON: would relabel a column
        (b'[{"name"', b'[{"name\x00'),  # no longer JSON
        (b'"name": "zone_2', b'"n\xe3me": "zone_2'),  # not UTF-8, and no such key
    ],
)
def test_a_damaged_channel_list_is_corrupt_and_the_next_segment_reads(
    tmp_path: Path, old: bytes, new: bytes
) -> None:
    d, first = _two_segments(tmp_path)
    data = first.read_bytes()
    assert data.count(old) == 1
    first.write_bytes(data.replace(old, new))
    s = read_samples(d)  # no exception
    assert [c.name for c in s.channels] == [f"zone_{i}.temp_pv_c" for i in range(N)]
    assert s.batches == 2  # the second segment's, intact
    assert any(first.name in c and "channel list" in c for c in s.corrupt), s.corrupt
    assert not s.torn
