"""``linecontrol record --sim`` and ``linecontrol runs ...`` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from linecontrol.paths import RECIPES

pytestmark = pytest.mark.integration


def cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "linecontrol", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_record_a_simulated_line_then_list_show_export(tmp_path: Path) -> None:
    data = tmp_path / "data"
    rec = cli(
        "record",
        "--sim",
        "--duration",
        "2",
        "--operator",
        "ana",
        "--roll-id",
        "R-17",
        "--recipe",
        str(RECIPES / "001-ex1.toml"),
        env={"LINECONTROL_DATA": str(data)},
    )
    assert rec.returncode == 0, rec.stderr
    run_id = rec.stdout.strip()
    assert (data / run_id / "meta.json").is_file()
    meta = json.loads((data / run_id / "meta.json").read_text())
    assert meta["exit_status"] == "ok" and meta["operator"] == "ana" and meta["roll_id"] == "R-17"
    assert meta["recipe"]["recipe"]["name"] == "001-ex1"
    assert meta["line"]["line"]["name"] == "FCCL line 1 (simulated)"

    listing = cli("runs", "--data-dir", str(data), "list")
    assert listing.returncode == 0 and run_id in listing.stdout

    show = cli("runs", "--data-dir", str(data), "show", run_id[:15], "--json")
    assert show.returncode == 0, show.stderr
    s = json.loads(show.stdout)
    assert s["exit_status"] == "ok" and 15 <= s["rows"] <= 25 and s["channels"] == 191
    assert "zone_C07.temp_pv_c" in s["time_in_band"]
    assert s["event_counts"]["CommandGiven"] == 1
    text = cli("runs", "--data-dir", str(data), "show", run_id).stdout
    assert "time in band" in text and "produced" in text

    out = tmp_path / "x.parquet"
    exp = cli(
        "runs",
        "--data-dir",
        str(data),
        "export",
        run_id,
        "--format",
        "parquet",
        "--channels",
        "press.top_temp_pv_c,drive.speed_pv_m_min",
        "--from",
        "0.5",
        "--output",
        str(out),
    )
    assert exp.returncode == 0, exp.stderr
    df = pd.read_parquet(out)
    assert list(df.columns) == [
        "t_s",
        "t_wall",
        "web_position_m",
        "press.top_temp_pv_c",
        "drive.speed_pv_m_min",
        "press.top_temp_pv_c.quality",
        "drive.speed_pv_m_min.quality",
    ]
    assert df["t_s"].min() >= 0.5
    assert (df["press.top_temp_pv_c.quality"] == 0).sum() > 0
    assert (
        df.loc[df["press.top_temp_pv_c.quality"] == 0, "press.top_temp_pv_c"].between(20, 30).all()
    )  # the rolls sit at ambient: nothing heats them without the supervisor


def test_bad_input_to_record_and_runs(tmp_path: Path) -> None:
    bad = cli(
        "record",
        "--sim",
        "--duration",
        "1",
        "--data-dir",
        str(tmp_path),
        "--recipe",
        str(RECIPES / "001-comp1.toml"),
    )
    assert bad.returncode == 1 and "nothing recorded" in bad.stderr
    assert not any(tmp_path.iterdir())
    assert cli("record", "--duration", "nan", "--data-dir", str(tmp_path)).returncode == 2
    assert cli("record", "--duration", "-1", "--data-dir", str(tmp_path)).returncode == 2
    low = cli("record", "--duration", "1", "--sample-hz", "0", "--data-dir", str(tmp_path))
    assert low.returncode == 2 and "--sample-hz = 0: must be above 0" in low.stderr
    missing = cli("runs", "--data-dir", str(tmp_path), "show", "nope")
    assert missing.returncode == 2 and "no run 'nope'" in missing.stderr
    assert "no runs under" in cli("runs", "--data-dir", str(tmp_path), "list").stdout
