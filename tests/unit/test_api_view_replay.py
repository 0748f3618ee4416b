"""A replay's stream (``mode: replay``: no bands, ever) needs no resync for a recipe
loaded after its full state; a live one still does (its new bands come in a full)."""

from __future__ import annotations

from typing import Any

import pytest

from linecontrol.api import LineView


def _after_a_recipe_load(mode: str) -> LineView:
    view = LineView()
    state: dict[str, Any] = {"api": 1, "mode": mode, "supervisor": {"state": "Idle"},
                             "values": {}, "run": {"events": 5}}  # fmt: skip
    view.apply({"type": "full", "seq": 1, "state": state}, 0.0)
    data = {"recipe": "r", "path": "p", "sha256": "0" * 64, "violations": []}
    event = {"seq": 6, "t_mono": 1.0, "t_wall": 2.0, "type": "RecipeLoaded", "v": 1, "data": data}
    view.apply({"type": "event", "seq": 2, "event": event}, 0.1)
    return view


@pytest.mark.parametrize(("mode", "resync"), [("replay", False), ("live", True)])
def test_a_recipe_loaded_needs_a_resync_only_live(mode: str, resync: bool) -> None:
    view = _after_a_recipe_load(mode)
    assert view.needs_resync is resync
    assert view.connection(0.2) == ("resyncing" if resync else "live")
