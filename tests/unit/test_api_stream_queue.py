"""A stream client's bounded queue (linecontrol.server.hub.Stream): sending never
blocks; a full queue is dropped for a resync and a fresh full state built when the
client's writer asks for its next message; seq +1 per message sent."""

from __future__ import annotations

from typing import Any, cast

from linecontrol.server.hub import Caller, Hub, Stream


class FakeHub:
    def __init__(self) -> None:
        self.fulls = 0

    def full_state(self, caller: Caller, stream: Stream | None = None) -> dict[str, Any]:
        self.fulls += 1
        return {"api": 1, "n": self.fulls, "seq": 0}


async def test_a_full_queue_becomes_a_resync_then_a_fresh_full_then_what_follows() -> None:
    hub = FakeHub()
    s = Stream(cast(Hub, hub), Caller("ana", "operator", "t"), maxsize=4)
    for i in range(4):
        s.send({"type": "event", "event": i})
    assert [(await s.next())["seq"] for _ in range(2)] == [1, 2]
    for i in range(10):  # the writer is stuck: more than the queue holds
        s.send({"type": "event", "event": 100 + i})
    assert hub.fulls == 0 and s.resyncs == 1  # nothing built while sending
    s.send({"type": "event", "event": 999})  # before the fresh full: covered by it
    got = [await s.next() for _ in range(2)]
    assert [m["type"] for m in got] == ["resync", "full"]
    assert [m["seq"] for m in got] == [3, 4]
    assert got[1]["state"] == {"api": 1, "n": 1, "seq": 4} and hub.fulls == 1
    assert "4 messages behind" in got[0]["reason"]
    s.send({"type": "event", "event": 7})
    after = await s.next()
    assert (after["seq"], after["event"]) == (5, 7)
    assert not s.queue
