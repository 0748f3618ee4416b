"""A run-log segment writer to be killed: ``python -m tests.runlog_child PATH CHANNELS``.

Writes deterministic one-second batches as fast as it can and prints the index of
each batch after its write (and flush to the OS) returned.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from linecontrol.runlog import Batch, Channel, SegmentWriter

ROWS = 10


def batch(i: int, n: int) -> Batch:
    rng = np.random.default_rng(i)
    t = i + np.arange(ROWS) / ROWS
    return Batch(
        t_mono=t,
        t_wall=1.7e9 + t,
        web_position_m=t * 0.01,
        values=rng.standard_normal((ROWS, n)),
        quality=rng.integers(0, 3, (ROWS, n), dtype=np.uint8),
    )


def main() -> None:
    path, n = Path(sys.argv[1]), int(sys.argv[2])
    w = SegmentWriter(path, [Channel(f"ch{i}", "u") for i in range(n)], fsync=False)
    print("ready", flush=True)
    i = 0
    while True:
        w.write(batch(i, n))
        print(i, flush=True)
        i += 1


if __name__ == "__main__":
    main()
