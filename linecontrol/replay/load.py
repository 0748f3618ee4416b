"""A logged run opened for replay: its samples through their seek index, its events."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from linecontrol.replay.player import Player
from linecontrol.runlog import RunSamples, read_events


@dataclass
class OpenedRun:
    """A run's player, with what reading the run reported (a torn tail, corrupt
    batches, bad event lines: read past and skipped, never replayed)."""

    player: Player
    samples: RunSamples
    problems: list[str] = field(default_factory=list)


def open_run(run_dir: Path, now: float, *, speed: float = 1.0, paused: bool = False) -> OpenedRun:
    """The player of the run in ``run_dir`` (``samples/`` and ``events.jsonl``), at the
    start of its timeline at ``now``."""
    samples = RunSamples(run_dir / "samples")
    ev = read_events(run_dir / "events.jsonl")
    problems = [*samples.torn, *samples.corrupt]
    problems += [f"events.jsonl: {p}" for p in ([ev.torn] if ev.torn else []) + ev.corrupt]
    problems += [f"events.jsonl: {p}" for p in ev.seq_problems]
    player = Player(samples, ev.events, now, speed=speed, paused=paused)
    return OpenedRun(player, samples, problems)
