"""A logged run read for a report: its metadata, samples and events, the line and the
recipe as meta.json recorded them (validated again; what does not validate is a
problem the report states, never a guess)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from linecontrol.config import LineConfig, Recipe, validate_model
from linecontrol.errors import InputFileError
from linecontrol.model import RecipeLoaded
from linecontrol.report.figures import RunData
from linecontrol.runlog import load_events, load_samples, read_meta


def load_run(run_dir: Path) -> RunData:
    meta, problem = read_meta(run_dir)
    problems = [problem] if problem else []
    s = load_samples(run_dir)
    ev = load_events(run_dir)
    problems += [f"samples: torn tail {t}" for t in s.torn]
    problems += [f"samples: corrupt {c}" for c in s.corrupt]
    if ev.torn:
        problems.append(f"events.jsonl: torn tail {ev.torn}")
    problems += [f"events.jsonl: corrupt {c}" for c in ev.corrupt]
    line: LineConfig | None = None
    recipe: Recipe | None = None
    if meta.line:
        try:
            line = validate_model("meta.json line", meta.line, LineConfig)
        except InputFileError as exc:
            problems.append(f"the stored line does not validate: {exc}")
    if meta.recipe:
        try:
            recipe = validate_model("meta.json recipe", meta.recipe, Recipe)
        except InputFileError as exc:
            problems.append(f"the stored recipe does not validate: {exc}")
    else:
        problems.append("no recipe recorded with this run")
    sha = next(
        (e.event.sha256 for e in reversed(ev.events) if isinstance(e.event, RecipeLoaded)), ""
    )
    return RunData(
        run_id=meta.run_id,
        channels=[c.name for c in s.channels],
        units=[c.unit for c in s.channels],
        t=np.asarray(s.t_mono, float),
        t_wall=np.asarray(s.t_wall, float),
        position=np.asarray(s.web_position_m, float),
        values=np.asarray(s.values, float),
        quality=np.asarray(s.quality),
        events=list(ev.events),
        line=line,
        recipe=recipe,
        recipe_data=meta.recipe,
        recipe_sha256=sha,
        operator=meta.operator,
        roll_id=meta.roll_id,
        lot_id=meta.lot_id,
        start_wall=meta.start_wall,
        speedup=meta.speedup,
        exit_status=meta.exit_status or "incomplete (no stop recorded)",
        problems=problems,
    )
