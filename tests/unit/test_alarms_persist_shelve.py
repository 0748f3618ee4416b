"""A shelve read back after a restart never outlasts the alarm's ``max_shelve_s``, and a
file written at a wall time ahead of the reader's (a simulated run's clock at a
speed-up) counts as written now, not as time still to come."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from linecontrol.alarms import AlarmState, act, from_json, initial, step, to_json
from linecontrol.config import AlarmDefinition
from linecontrol.model import Quality, Sample, ShelveAlarm

CH = "press.roll_load_pv_kg"
WALL = 1_800_000_000.0


def definition(**kw: Any) -> AlarmDefinition:
    base: dict[str, Any] = {"channel": CH, "kind": "high", "limit": 10.0}
    return AlarmDefinition.model_validate({**base, **kw})


def sample(now: float, value: float) -> Sample:
    q = np.array([int(Quality.GOOD)], dtype=np.uint8)
    return Sample(t_mono=now, index={CH: 0}, values=np.array([value]), quality_codes=q)


def shelved(defs: dict[str, AlarmDefinition], duration_s: float) -> dict[str, AlarmState]:
    alarms = initial(defs)
    alarms, _ = step(defs, alarms, sample(0.0, 11.0), 0.0)
    got = act(
        defs, alarms, ShelveAlarm(by="bo", alarm="a", reason="cal", duration_s=duration_s), 1.0
    )
    assert isinstance(got, tuple)
    return got[0]


def test_a_shelve_read_back_is_capped_at_the_alarms_max_shelve_s() -> None:
    defs = {"a": definition(max_shelve_s=3600.0)}
    alarms = shelved(defs, 3600.0)
    text = to_json(alarms, now=1.0, wall=WALL)
    # A hand-edited (or damaged) expiry a day away, and a max_shelve_s lowered since.
    doc = json.loads(text)
    doc["alarms"]["a"]["shelve"]["until_wall"] = WALL + 86_400.0
    back = from_json(json.dumps(doc), defs, now=5.0, wall=WALL + 10.0).alarms
    assert back["a"].shelved_until == pytest.approx(5.0 + 3600.0)
    lowered = {"a": definition(max_shelve_s=600.0)}
    back = from_json(text, lowered, now=5.0, wall=WALL + 10.0).alarms
    assert back["a"].shelved_until == pytest.approx(5.0 + 600.0)


def test_a_file_written_in_the_future_counts_as_written_now() -> None:
    defs = {"a": definition(max_shelve_s=3600.0)}
    alarms = shelved(defs, 100.0)  # until 101 monotonic
    # Written by a simulated run at a speed-up of 100: its wall is far ahead of real time.
    text = to_json(alarms, now=1.0, wall=WALL + 50_000.0)
    back = from_json(text, defs, now=3.0, wall=WALL).alarms
    # 100 s were left when written; none of them has passed (not 50,100 s still to come).
    assert back["a"].shelved_until == pytest.approx(3.0 + 100.0)


def test_a_shelve_written_in_the_past_still_counts_the_time_stopped() -> None:
    defs = {"a": definition(max_shelve_s=3600.0)}
    alarms = shelved(defs, 100.0)
    text = to_json(alarms, now=1.0, wall=WALL)
    back = from_json(text, defs, now=0.0, wall=WALL + 30.0).alarms
    assert back["a"].shelved_until == pytest.approx(70.0)
    gone = from_json(text, defs, now=0.0, wall=WALL + 500.0).alarms  # expired meanwhile
    assert gone["a"].shelved_until is not None and gone["a"].shelved_until <= 0.0
    assert not math.isnan(gone["a"].shelved_until)
