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


async def test_the_run_size_is_summed_in_a_thread_never_in_a_full_state(
    tmp_path: Any, monkeypatch: Any
) -> None:
    """A full state (every GET /v1/state, stream open and resync) reads the run's size
    as last measured; the walk of the run directory (thousands of segments on a long
    run) runs in a thread, never on the loop the supervisor steps on."""
    import threading
    from types import SimpleNamespace

    import numpy as np

    from linecontrol.server import hub as hub_module

    (tmp_path / "samples").mkdir()
    (tmp_path / "samples" / "seg-1").write_bytes(b"x" * 123)
    walks: list[str] = []
    real = hub_module._size

    def counted(path: Any) -> int:
        walks.append(threading.current_thread().name)
        return real(path)

    monkeypatch.setattr(hub_module, "_size", counted)
    clock = SimpleNamespace(monotonic=lambda: 10.0, wall=lambda: 1000.0)
    supervisor = SimpleNamespace(status=dict, bands=list, alarm_states=lambda: ({}, {}))
    snap = SimpleNamespace(values=np.zeros(0), quality=np.zeros(0, np.uint8), t_good=np.zeros(0))
    line = SimpleNamespace(devices={}, stations=[], line=SimpleNamespace(name="l"))
    log = SimpleNamespace(dir=tmp_path, meta=SimpleNamespace(run_id="r", start_wall=1.0))
    session = SimpleNamespace(
        listeners=[], acq=SimpleNamespace(channels=[], snapshot=snap), clock=clock,
        supervisor=supervisor, line=line, log=log,
    )  # fmt: skip
    hub = Hub(cast(Any, session), cast(Any, SimpleNamespace(stream_queue=10)))
    caller = Caller("ana", "operator", "t")
    assert hub.full_state(caller)["run"]["bytes"] == 0 and walks == []
    await hub.measure_run()
    assert hub.full_state(caller)["run"]["bytes"] == 123
    assert len(walks) == 1 and walks[0] != threading.main_thread().name
