"""Time in band on the line's clock (``runs show``): each sample stands for the time to
the next one in its own ``t_mono``, so a run at a speed-up counts process seconds; a
supervised run (with StateChanged events) counts only its time in Execute."""

from __future__ import annotations

import numpy as np

from linecontrol.runlog.store import execute_mask, sample_spans


def test_spans_follow_the_samples_own_clock_not_the_nominal_rate() -> None:
    t = np.array([0.0, 30.0, 60.0, 90.0])  # 10 Hz at a speed-up of 300: 30 s apart
    spans = sample_spans(t, 10.0)
    assert spans.tolist() == [30.0, 30.0, 30.0, 30.0]  # not 0.1 s each
    assert sample_spans(np.array([5.0]), 10.0).tolist() == [0.1]
    assert sample_spans(np.array([]), 10.0).tolist() == []


def test_only_samples_in_execute_are_counted() -> None:
    t = np.arange(10.0)
    states = [(2.0, "Starting"), (3.5, "Execute"), (6.0, "Held"), (8.0, "Execute")]
    mask = execute_mask(t, states)
    assert np.flatnonzero(mask).tolist() == [4, 5, 8, 9]
    assert not execute_mask(t, [(1.0, "Idle")]).any()
