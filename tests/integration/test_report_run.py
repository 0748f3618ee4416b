"""Run reports of a run recorded against the simulators, checked against the run log.

The run: the fault tests' recipe on the simulated line (``run_recipe``, ``--sim`` at a
speed-up); once 60 m of web have left the unwind in Execute, zone C07 (350 °C, 34..36 m
down the web path) loses its heater (``heater_failure``, as the supervisor fault tests
inject it) and cools out of its band; the supervisor holds the line (``heater_failed``),
an operator's Start in Held is refused, the fault is cleared, the line is stopped.
Every report test shares this one run (module-scoped).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from linecontrol.cli.entry import main
from linecontrol.config import DEFAULT_LINE, load_line
from linecontrol.model import Start, StateChanged
from linecontrol.recording import RunOptions, RunResult, run_recipe
from linecontrol.recording.runner import RunHandle
from linecontrol.runlog import load_events, load_samples, summarize
from linecontrol.runtime import clear_faults, inject_faults

pytestmark = [pytest.mark.integration, pytest.mark.deadline(150)]

RECIPE = Path(__file__).parent / "data" / "fault-run.toml"
SPEEDUP = 1000.0
DEADLINE_S = 40.0  # real seconds for each stage of the script
ZONE = "zone_C07.temp_pv_c"
ZONE_AT, ZONE_LENGTH = 34.0, 2.0  # cure oven at 22 m, zones of 2 m: C07 is the 7th
BAND = (347.0, 353.0)  # 350 ± 3 °C (the recipe); the rules give C07 the same window


async def until(h: RunHandle, pred: Callable[[], bool], what: str) -> None:
    try:
        async with asyncio.timeout(DEADLINE_S):
            await h.supervisor.wait_for(lambda _s: pred())
    except TimeoutError:
        raise AssertionError(f"{what}: not within {DEADLINE_S:g} s") from None


async def script(h: RunHandle) -> None:
    await until(h, lambda: h.supervisor.state.label == "Execute", "Execute")
    at = "drive.web_position_m"
    await until(h, lambda: (h.supervisor.good(at) or 0.0) >= 60.0, "60 m of web")
    assert h.sim is not None
    await inject_faults(h.sim, "zone_C07", {"heater_failure": True}, 5.0)
    await until(h, lambda: h.supervisor.state.label == "Held", "the heater-failed hold")
    # An operator's Start in Held: refused, and in the audit trail as refused.
    h.supervisor.submit(Start(by="op", request_id="early", at=h.clock.wall(), reason="go on"))
    await clear_faults(h.sim, "zone_C07", 5.0)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    data = tmp_path_factory.mktemp("report-runs")
    opts = RunOptions(
        config=DEFAULT_LINE, line=load_line(DEFAULT_LINE), recipe=RECIPE, data_dir=data,
        sim=True, speedup=SPEEDUP, deadline_s=4 * DEADLINE_S, script=script,
    )  # fmt: skip
    result = asyncio.run(run_recipe(opts))
    assert result.first_out == "heater_failed: zone_C07", result
    return result


class Cells(HTMLParser):
    """Text of every element with an id, every table's rows by table id, the images."""

    def __init__(self) -> None:
        super().__init__()
        self.by_id: dict[str, str] = {}
        self.rows: dict[str, list[list[str]]] = {}
        self.images: list[str] = []
        self.links: list[str] = []
        self._open: list[tuple[str, str | None]] = []
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "img":
            self.images.append(a.get("src") or "")
        for k in ("src", "href"):
            if a.get(k) and tag != "img":
                self.links.append(a[k] or "")
        if tag == "table":
            self._table = a.get("id")
            self.rows.setdefault(self._table or "", [])
        elif tag == "tr" and self._table is not None:
            self.rows[self._table].append([])
        elif tag in ("td", "th"):
            self._cell = []
        self._open.append((tag, a.get("id")))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self.rows[self._table][-1].append("".join(self._cell).strip())
            self._cell = None
        if tag == "table":
            self._table = None
        while self._open:
            t, _ = self._open.pop()
            if t == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        for _, i in self._open:
            if i:
                self.by_id[i] = self.by_id.get(i, "") + data


@pytest.fixture(scope="module")
def html(recorded: RunResult, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Cells]:
    out = tmp_path_factory.mktemp("report-html") / "report.html"
    code = main(["runs", "report", recorded.run_id, "--data-dir", str(recorded.run_dir.parent),
                 "-o", str(out)])  # fmt: skip
    assert code == 0
    cells = Cells()
    cells.feed(out.read_text(encoding="utf-8"))
    return out, cells


def param_row(cells: Cells, channel: str) -> dict[str, str]:
    head, *rows = cells.rows["in-band"]
    row = next(r for r in rows if channel in r[0])
    return dict(zip(head, row, strict=True))


def execute_spans(run_dir: Path) -> list[tuple[float, float]]:
    changes = [e for e in load_events(run_dir).events if isinstance(e.event, StateChanged)]
    out = []
    for i, e in enumerate(changes):
        assert isinstance(e.event, StateChanged)
        if e.event.new == "Execute":
            end = changes[i + 1].t_mono if i + 1 < len(changes) else float("inf")
            out.append((e.t_mono, end))
    return out


def test_the_html_report_is_one_file_whose_numbers_match_the_run_log(
    recorded: RunResult, html: tuple[Path, Cells]
) -> None:
    path, cells = html
    s = load_samples(recorded.run_dir)
    pos = s.web_position_m[np.isfinite(s.web_position_m)]
    assert float(cells.by_id["produced-m"]) == pytest.approx(pos.max() - pos[0], abs=1e-3)
    # Self-contained: every picture is embedded, nothing else is linked.
    assert cells.images and all(src.startswith("data:image/png;base64,") for src in cells.images)
    for src in cells.images:
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:|//|file:)", text)
    assert cells.links == []
    # The zone's time in its band: runs show's figure (store.summarize, GOOD samples in
    # Execute, each standing until the next) is the report's.
    shown = summarize(recorded.run_dir).time_in_band[ZONE]
    row = param_row(cells, ZONE)
    m = re.match(r"([\d.]+) % \((\d+) of (\d+) s\)", row["time in band"])
    assert m is not None, row
    assert int(m.group(2)) == round(shown["in_band_s"])
    # Execute time, from the state changes.
    names = [c.name for c in s.channels]
    t = s.t_mono
    gaps = np.append(np.diff(t), np.median(np.diff(t)))
    in_exec = np.zeros(len(t), bool)
    for a, b in execute_spans(recorded.run_dir):
        in_exec |= (t >= a) & (t < b)
    assert int(m.group(3)) == round(float(gaps[in_exec].sum()))
    # The recipe's hash is the file's SHA-256 (as the supervisor logged it when loading).
    assert cells.by_id["recipe-hash"] == hashlib.sha256(RECIPE.read_bytes()).hexdigest()
    assert json.loads(cells.by_id["recipe"])["recipe"]["name"] == "fault-run"
    # Stops with their causes; the operator's rejected Stop in the audit trail.
    stops = cells.rows["stops"]
    assert any(r[0] == "Held" and r[3] == "heater_failed: zone_C07" for r in stops[1:]), stops
    actions = cells.rows["actions"][1:]
    assert any(r[1] == "op" and r[2] == "start" and r[4].startswith("rejected") for r in actions)
    assert any(r[2] == "start" and r[4] == "accepted" for r in actions), actions
    assert names  # the run has channels at all


def test_the_lost_heater_is_an_excursion_at_the_metres_in_the_zone_and_they_are_not_fit(
    recorded: RunResult, html: tuple[Path, Cells]
) -> None:
    _, cells = html
    s = load_samples(recorded.run_dir)
    i = [c.name for c in s.channels].index(ZONE)
    good = s.quality[:, i] == 0
    v = s.values[:, i]
    pos = np.maximum.accumulate(np.where(np.isfinite(s.web_position_m), s.web_position_m, 0.0))
    started = execute_spans(recorded.run_dir)[0][0]
    out = np.flatnonzero(good & (s.t_mono > started) & ((v < BAND[0]) | (v > BAND[1])))
    assert len(out), "the zone never left its band"
    first_out = float(pos[out[0]])
    row = param_row(cells, ZONE)
    m = re.match(r"metres ([\d.]+)\.\.([\d.]+) \((\d+) m", row["longest excursion (window)"])
    assert m is not None, row
    a, b = float(m.group(1)), float(m.group(2))
    # It starts at the metre that was in the zone when the first reading out of band
    # came (that sample stood from the previous one on: up to one sample's travel before).
    travel = float(np.median(np.diff(pos[pos > 0])))
    assert first_out - ZONE_AT - ZONE_LENGTH - 1.0 - travel <= a <= first_out - ZONE_AT, (
        a,
        first_out,
    )
    # ... and runs to the metres that were in the zone when the line stopped.
    assert b >= float(pos[-1]) - ZONE_AT - ZONE_LENGTH - 1.0
    # Those metres are not fit, with the zone as the reason; metres before it are fit.
    metres = cells.rows["metres"][1:]
    bad = [r for r in metres if r[2] == "not fit" and ZONE in r[3]]
    assert bad and float(bad[0][0]) <= a + 1.0
    fit_m = int(cells.by_id["fit-m"])
    assert 0 < fit_m <= a + 1.0
    fit_rows = [r for r in metres if r[2] == "fit"]
    assert all(float(r[1]) <= a for r in fit_rows), fit_rows
    assert int(cells.by_id["not-fit-m"]) >= b - a


def test_the_trace_of_a_metre_says_what_each_station_did_to_it(
    recorded: RunResult, capsys: pytest.CaptureFixture[str]
) -> None:
    root = str(recorded.run_dir.parent)
    code = main(["runs", "trace", recorded.run_id, "--data-dir", root, "--metre", "12.5",
                 "--json"])  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["status"] == "fit", out
    s = load_samples(recorded.run_dir)
    gap = float(np.median(np.diff(s.t_mono)))
    zones = [r for r in out["stations"] if r["length_m"] > 0 and "temp" in r["channel"]]
    assert len(zones) == 14  # 2 + 2 dryer zones, 10 cure zones
    for r in zones:
        # 2 m at 0.5 m/min is 240 s; positions are read once a sample.
        assert abs(r["residence_s"] - 240.0) <= 2 * gap, r
        assert r["in_window"] == 1 and r["in_band"] == 1 and r["samples"] >= 1
    press = [r for r in out["stations"] if r["station"] == "press"]
    assert {r["channel"] for r in press} >= {"press.top_temp_pv_c", "press.roll_load_pv_kg"}
    lp = next(r for r in press if r["unit"] == "kg/cm")
    assert lp["mean"] == pytest.approx(15.0, rel=0.02)  # 750 kg over 50 cm
    arrived = {r["station"]: r["arrived_s"] for r in out["stations"]}
    # Each station passes the metre later by its distance over the speed (0.5 m/min).
    assert arrived["press"] - arrived["unwind"] == pytest.approx(50.0 / 0.5 * 60.0, abs=3 * gap)
    # A metre not produced: a clear error with the produced range, exit 2.
    code = main(["runs", "trace", recorded.run_id, "--data-dir", root, "--metre", "5000"])
    err = capsys.readouterr().err
    assert code == 2 and "not produced" in err and re.search(r"0\.000 to \d+\.\d{3}", err), err
    # Text: one line a place, the zone's verdict.
    code = main(["runs", "trace", recorded.run_id, "--data-dir", root, "--metre", "12.5"])
    text = capsys.readouterr().out
    assert code == 0 and "fit for use" in text and "min in the zone" in text, text


def test_the_pdf_report_has_the_tables_and_the_charts(recorded: RunResult, tmp_path: Path) -> None:
    out = tmp_path / "r.pdf"
    code = main(["runs", "report", str(recorded.run_dir), "-o", str(out)])
    assert code == 0
    data = out.read_bytes()
    assert data.startswith(b"%PDF-")
    assert len(re.findall(rb"/Type\s*/Page\b", data)) >= 4  # summary, charts, tables
    assert data.count(b"/Subtype /Image") >= 3


def chromium() -> str | None:
    return next((p for n in ("chromium", "chromium-browser") if (p := shutil.which(n))), None)


def test_a_headless_chromium_screenshot_of_the_html_is_not_blank(
    html: tuple[Path, Cells], tmp_path: Path
) -> None:
    exe = chromium()
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; .ci/run installs it (apt-get chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run does)")
    path, _ = html
    shot = tmp_path / "shot.png"
    width, height = 1280, 2400
    cmd = [
        exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
        "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
        f"--window-size={width},{height}", f"--screenshot={shot}", path.as_uri(),
    ]  # fmt: skip
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        _, err = proc.communicate(timeout=90)
    finally:
        with contextlib.suppress(ProcessLookupError):  # its helpers go with it, whatever happened
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert shot.exists(), err.decode(errors="replace")[-2000:]
    from PIL import Image

    with Image.open(shot) as img:
        assert img.size == (width, height)
        rgb = np.asarray(img.convert("RGB"))
    colours = len(np.unique(rgb.reshape(-1, 3), axis=0))
    assert colours > 100, colours  # text, tables, the charts' lines and bands
    # The page's banner colour (#1f4e79) is there: the page rendered, not an error page.
    assert ((rgb == (0x1F, 0x4E, 0x79)).all(axis=2)).sum() > 1000


def test_bad_report_arguments_are_one_line_and_exit_2(
    recorded: RunResult, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = str(recorded.run_dir.parent)
    code = main(["runs", "report", recorded.run_id, "--data-dir", root, "-o", str(tmp_path)])
    assert code == 2 and "is a directory" in capsys.readouterr().err
    missing = tmp_path / "nowhere" / "r.html"
    code = main(["runs", "report", recorded.run_id, "--data-dir", root, "-o", str(missing)])
    assert code == 2 and "does not exist" in capsys.readouterr().err
    code = main(["runs", "report", "no-such-run", "--data-dir", root])
    assert code == 2 and "no run" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["runs", "report", recorded.run_id, "--segment-m", "0.5"])
    assert exc.value.code == 2 and "at least 1 m" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["runs", "trace", recorded.run_id, "--metre", "nan"])
    assert exc.value.code == 2 and "not finite" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # nothing written
