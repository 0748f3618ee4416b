"""Fan-out overflow policies, without an event loop of our own beyond the test's."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from linecontrol.acquisition import LatestValue, Overflow, ResyncNeeded, Row, RowQueue
from linecontrol.errors import InvalidArgument


def row(t: float) -> Row:
    return Row(t, 1e9 + t, 0.0, np.array([t]), np.zeros(1, np.uint8))


async def test_latest_value_keeps_only_the_newest_row_and_counts_the_rest() -> None:
    slot = LatestValue()
    assert slot.policy is Overflow.LATEST_WINS
    for t in range(5):
        slot.put(row(t))
    assert (await slot.get()).t_mono == 4
    assert slot.dropped == 4


async def test_a_row_queue_gives_every_row_in_order_while_the_reader_keeps_up() -> None:
    q = RowQueue(3)
    assert q.policy is Overflow.RESYNC
    for t in range(3):
        q.put(row(t))
    assert [(await q.get()).t_mono for _ in range(3)] == [0, 1, 2]
    assert q.resyncs == 0


async def test_a_slow_reader_is_told_to_resync_once_then_gets_the_rows_after() -> None:
    q = RowQueue(3)
    for t in range(5):  # the fourth row finds the queue full
        q.put(row(t))
    with pytest.raises(ResyncNeeded) as info:
        await q.get()
    assert info.value.lost == 3 and q.resyncs == 1
    assert [(await q.get()).t_mono for _ in range(2)] == [3, 4]
    assert len(q) == 0


async def test_get_waits_for_the_next_row() -> None:
    q = RowQueue(2)
    waiter = asyncio.create_task(q.get())
    await asyncio.sleep(0)  # let it start waiting (ordering, not timing)
    assert not waiter.done()
    q.put(row(7))
    assert (await asyncio.wait_for(waiter, 5)).t_mono == 7


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_a_row_queue_needs_a_whole_positive_length(bad: object) -> None:
    with pytest.raises(InvalidArgument):
        RowQueue(bad)  # type: ignore[arg-type]
