"""The coater's width and head against the real simulators: in Execute the supervisor
writes each coat's recipe width and puts the head on the web, so the coater's wet
thickness (flow over width x speed, computed by its PLC) is a measurement, not 0.00."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from linecontrol.config import DEFAULT_LINE, load_line
from linecontrol.config.recipe import load_recipe
from linecontrol.recording import RunOptions, run_recipe
from linecontrol.recording.runner import RunHandle

pytestmark = [pytest.mark.integration, pytest.mark.deadline(120)]

RECIPE = Path(__file__).parent / "data" / "fault-run.toml"
DEADLINE_S = 40.0  # real seconds for each wait


async def test_in_execute_each_coater_has_its_recipe_width_head_down_and_a_wet_thickness(
    tmp_path: Path,
) -> None:
    recipe = load_recipe(RECIPE)
    seen: dict[str, float | None] = {}

    async def script(h: RunHandle) -> None:
        sup = h.supervisor

        def coating() -> bool:
            if sup.state.label != "Execute":
                return False
            for c in recipe.coats:  # what each Execute step saw (the run may end first)
                for ch in ("coating_width_mm", "head_down_cmd", "wet_thickness_um"):
                    seen[f"{c.station}.{ch}"] = sup.good(f"{c.station}.{ch}")
            return all((seen[f"{c.station}.wet_thickness_um"] or 0.0) > 0.0 for c in recipe.coats)

        try:
            async with asyncio.timeout(DEADLINE_S):
                await sup.wait_for(lambda _s: coating())
        except TimeoutError:
            pass  # the asserts below say what is missing

    line = load_line(DEFAULT_LINE)
    opts = RunOptions(
        config=DEFAULT_LINE, line=line, recipe=RECIPE, data_dir=tmp_path, sim=True,
        speedup=1000.0, deadline_s=3 * DEADLINE_S, script=script,
    )  # fmt: skip
    await run_recipe(opts)
    assert recipe.coats and seen, "the run never reached Execute"
    for c in recipe.coats:
        assert seen[f"{c.station}.coating_width_mm"] == pytest.approx(c.width_mm), seen
        assert seen[f"{c.station}.head_down_cmd"] == 1.0, seen
        assert (seen[f"{c.station}.wet_thickness_um"] or 0.0) > 0.0, seen
