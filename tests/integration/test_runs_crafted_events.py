"""Event lines that pass their CRC but hold what no writer writes (a time beyond a
float, nesting deeper than the parser goes, a wall time that is no date): ``runs
show`` and ``runs list`` report them and go on, never a traceback (review of issue 8,
B4), and a recorded recipe is never shown as "no recipe recorded" (B3)."""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path
from typing import Any

import pytest

from linecontrol.cli import main
from linecontrol.runlog import decode_line, store
from tests.integration.test_cli_runs import _fake_run

RUN = "20260101-000000-aaaa"


def crafted(obj: dict[str, Any]) -> bytes:
    """A line as the writer frames one (sorted keys, no spaces, crc32 last)."""
    body = json.dumps(obj, separators=(",", ":"), sort_keys=True)
    return f'{body[:-1]},"crc32":{zlib.crc32(body.encode())}}}\n'.encode()


def _alarm(t_wall: Any, **envelope: Any) -> dict[str, Any]:
    data = {"device": "drive", "state": "failing", "error": "timeout"}
    return (
        {"data": data, "seq": 9, "t_mono": 1.0, "t_wall": t_wall}
        | envelope
        | {
            "type": "DeviceFailed",
            "v": 1,
        }
    )


def _append(run: Path, line: bytes) -> None:
    with open(run / "events.jsonl", "ab") as f:
        f.write(line)


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "line",
    [
        crafted(_alarm(1.8e9, t_mono=10**400)),
        crafted(_alarm(10**400)),
        crafted(_alarm(float("nan"))),
        crafted(_alarm(1.8e9, t_mono=float("inf"))),
    ],
    ids=["t_mono-10**400", "t_wall-10**400", "t_wall-NaN", "t_mono-inf"],
)
def test_a_time_encode_event_refuses_is_not_read_as_an_event(line: bytes) -> None:
    assert decode_line(line[:-1]) is None


def _deep_line() -> bytes:
    body = (
        '{"data":' + "[" * 100_000 + "]" * 100_000
        + ',"seq":9,"t_mono":1.0,"t_wall":1800000000.0,"type":"X","v":1}'
    )  # fmt: skip
    return f'{body[:-1]},"crc32":{zlib.crc32(body.encode())}}}\n'.encode()


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        (crafted(_alarm(1.8e9, t_mono=10**400)), "corrupt event at line"),
        (_deep_line(), "corrupt event at line"),
        (crafted(_alarm(float("nan"))), "corrupt event at line"),
        (crafted(_alarm(1e20)), "(not a date: 1e+20)"),
        (crafted(_alarm(-1e15)), "(not a date: -1000000000000000.0)"),
    ],
    ids=["t_mono-10**400", "nested-100000", "t_wall-NaN", "t_wall-1e20", "t_wall--1e15"],
)
def test_runs_show_and_list_report_a_crafted_line_and_go_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: bytes, shown: str
) -> None:
    run = _fake_run(tmp_path, RUN)
    _append(run, line + crafted({**_alarm(1.8e9), "seq": 10}))  # and a good one after it
    code, out, err = _cli(capsys, "runs", "--data-dir", str(tmp_path), "show", RUN)
    assert (code, err) == (0, ""), err
    assert shown in out
    code, out, err = _cli(capsys, "runs", "--data-dir", str(tmp_path), "show", RUN, "--json")
    assert (code, err) == (0, ""), err
    s = json.loads(out)
    assert s["event_counts"]["DeviceFailed"] >= 1
    code, out, err = _cli(capsys, "runs", "--data-dir", str(tmp_path), "list")
    assert (code, err) == (0, ""), err
    assert RUN in out


def test_a_run_start_that_is_no_date_is_shown_as_such(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """meta.json missing, its start recovered from a RunStarted at t_wall 1e20."""
    run = _fake_run(tmp_path, RUN, meta=None)
    data = {"run_id": RUN, "operator": "", "roll_id": "", "lot_id": ""}
    started = {"data": data, "seq": 1, "t_mono": 1.0, "t_wall": 1e20, "type": "RunStarted"}
    (run / "events.jsonl").write_bytes(crafted(started | {"v": 1}))
    s = store.summarize(run)
    assert s.start_utc == "(not a date: 1e+20)"
    code, out, err = _cli(capsys, "runs", "--data-dir", str(tmp_path), "list")
    assert (code, err) == (0, ""), err
    code, out, err = _cli(capsys, "runs", "--data-dir", str(tmp_path), "show", RUN)
    assert code == 0 and "start     (not a date: 1e+20)" in out


def test_a_recorded_recipe_without_bands_is_never_no_recipe_recorded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _fake_run(tmp_path, RUN)
    meta = json.loads((run / "meta.json").read_text())
    meta["recipe"] = {"recipe": "not one"}
    (run / "meta.json").write_text(json.dumps(meta))
    code, out, _ = _cli(capsys, "runs", "--data-dir", str(tmp_path), "show", RUN)
    assert code == 0
    assert "no recipe recorded" not in out
    assert "time in band: none for the recorded recipe (see the problems below)" in out
    assert "problem   time in band: no bands, the stored recipe or line is not valid" in out


@pytest.mark.parametrize(
    "patch",
    [{"duration_s": "x"}, {"rows": None}, {"start_utc": 5}, {"problems": [1]}, {"torn": "x"}],
)
def test_a_crafted_summary_that_passes_its_crc_is_rebuilt_never_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], patch: dict[str, Any]
) -> None:
    run = _fake_run(tmp_path, RUN)
    saved = json.loads((run / "summary.json").read_text())
    saved["listing"] |= patch
    saved["crc32"] = store._listing_crc(saved["listing"])
    st = (run / "summary.json").stat()
    (run / "summary.json").write_text(json.dumps(saved))
    os.utime(run / "summary.json", ns=(st.st_atime_ns, st.st_mtime_ns))
    code, out, err = _cli(capsys, "runs", "--data-dir", str(tmp_path), "list")
    assert (code, err) == (0, ""), err
    assert f"{RUN} " in out and " 30 " in out  # rebuilt from the run: its 30 samples
