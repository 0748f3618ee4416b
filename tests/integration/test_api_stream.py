"""The stream of ``linecontrol serve`` (``GET /v1/stream``) against a real serve child:
full state first, ``seq`` +1 per message, values and status coalesced between
heartbeats, events to every client; a client that does not read is told to resync while
the supervisor keeps stepping; a client killed mid-command disturbs nothing; two clients
at once."""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from linecontrol.model import ControlChanged
from tests.integration.test_api_serve import line_config, post, serving, state

pytestmark = [pytest.mark.integration, pytest.mark.deadline(120)]


async def messages(
    ws: aiohttp.ClientWebSocketResponse, heartbeats: int, deadline_s: float
) -> list[Any]:
    """Messages up to and with the ``heartbeats``-th heartbeat."""
    out: list[Any] = []
    async with asyncio.timeout(deadline_s):
        while sum(m["type"] == "heartbeat" for m in out) < heartbeats:
            out.append(await ws.receive_json())
    return out


async def steps(http: aiohttp.ClientSession) -> int:
    return int((await state(http))["supervisor"]["steps"])


async def until_steps(http: aiohttp.ClientSession, at_least: int, deadline_s: float) -> int:
    """Until the supervisor has stepped ``at_least`` times (read on a GET after each
    stream message of a reading client: no sleep)."""
    async with asyncio.timeout(deadline_s), http.ws_connect("/v1/stream") as ws:
        while (n := await steps(http)) < at_least:
            await ws.receive()
    return n


async def test_two_clients_get_a_full_state_then_ordered_coalesced_messages(
    tmp_path: Path,
) -> None:
    with serving(tmp_path) as srv:
        async with (
            srv.client("one") as a,
            srv.client("two") as b,
            a.ws_connect("/v1/stream") as wa,
            b.ws_connect("/v1/stream") as wb,
        ):
            fa, fb = await wa.receive_json(), await wb.receive_json()
            assert (fa["type"], fa["seq"], fb["type"], fb["seq"]) == ("full", 1, "full", 1)
            assert fa["state"]["seq"] == 1
            assert fa["state"]["you"]["client"] == "one" and fb["state"]["you"]["client"] == "two"
            channels = set(fa["state"]["line"]["channels"])
            assert set(fa["state"]["values"]) == channels
            assert (await post(a, {"command": "take_control", "request_id": "c1"}))[0] == 200
            got_a = await messages(wa, 4, 30.0)
            got_b = await messages(wb, 4, 30.0)
        assert srv.stop() == 0
    for got in (got_a, got_b):
        assert [m["seq"] for m in got] == list(range(2, len(got) + 2))  # +1 per message
        kinds = [m["type"] for m in got]
        assert "heartbeat" in kinds and "values" in kinds
        # At most 4 values (and 4 status) messages between two heartbeats: coalesced.
        beats = [i for i, k in enumerate(kinds) if k == "heartbeat"]
        for lo, hi in itertools.pairwise(beats):
            between = kinds[lo + 1 : hi]
            assert between.count("values") <= 4 and between.count("status") <= 4, between
        for m in got:
            if m["type"] == "values":
                assert m["values"] and set(m["values"]) <= channels
                for v, quality, _t in m["values"].values():
                    assert quality in ("GOOD", "STALE", "INVALID", "WAITING")
                    assert v is None or isinstance(v, int | float)

    # Both saw the control change, as the same event.
    def control_events(got: list[Any]) -> list[Any]:
        return [m["event"] for m in got
                if m["type"] == "event" and m["event"]["type"] == "ControlChanged"]  # fmt: skip

    assert control_events(got_a) == control_events(got_b) != []


async def test_a_client_that_does_not_read_is_resynced_while_the_supervisor_steps(
    tmp_path: Path,
) -> None:
    config = line_config(tmp_path, "[api]\nstream_queue = 8\n")
    with serving(tmp_path, config=config) as srv:
        async with srv.client("slow") as slow, srv.client("flood") as flood:
            ws = await slow.ws_connect("/v1/stream")  # read nothing from here
            before = await steps(flood)
            # Events, fast: each refused command (nobody holds control) is a
            # CommandRejected event to every stream, its reason as long as allowed.
            reason = "r" * 1000
            for i in range(600):  # about 700 kB of events: more than the socket buffers
                status, _ = await post(flood, {"command": "start", "request_id": f"f{i}",
                                               "reason": reason})  # fmt: skip
                assert status == 423
            # The supervisor stepped on, whatever the slow client does.
            assert await until_steps(flood, before + 30, 30.0) >= before + 30
            # Now the slow client reads: what it missed is told, then a fresh full state.
            seen: list[Any] = []
            async with asyncio.timeout(30.0):
                while True:
                    m = await ws.receive_json()
                    seen.append(m)
                    if len(seen) >= 2 and seen[-2]["type"] == "resync" and m["type"] == "full":
                        break
            await ws.close()
        assert srv.stop() == 0
    seqs = [m["seq"] for m in seen]
    assert seqs == list(range(1, len(seen) + 1))  # no gap: the resync says what was dropped
    assert seen[0]["type"] == "full"
    assert "behind" in seen[-2]["reason"]
    assert seen[-1]["state"]["seq"] == seen[-1]["seq"]


KILLED_CLIENT = """
import asyncio, json, sys
import aiohttp

async def main():
    conn = aiohttp.UnixConnector(path=sys.argv[1])
    async with aiohttp.ClientSession(base_url="http://x", connector=conn,
                                     headers={"X-Client-Id": "doomed"}) as http:
        async with http.post("/v1/commands", json={"command": "take_control",
                                                   "request_id": "d1"}) as r:
            assert r.status == 200, await r.text()
        ws = await http.ws_connect("/v1/stream")
        await ws.receive()
        # A command whose body never ends: the client dies in the middle of it.
        reader, writer = await asyncio.open_unix_connection(sys.argv[1])
        writer.write(b"POST /v1/commands HTTP/1.1\\r\\nHost: x\\r\\nX-Client-Id: doomed\\r\\n"
                     b"Content-Type: application/json\\r\\nContent-Length: 500\\r\\n\\r\\n"
                     b'{"command": "reset", "request_id": "d2"')
        await writer.drain()
        print("ready", flush=True)
        await asyncio.sleep(3600)

asyncio.run(main())
"""


async def test_a_client_killed_mid_command_does_not_disturb_the_line(tmp_path: Path) -> None:
    with serving(tmp_path) as srv:
        child = subprocess.Popen(
            [sys.executable, "-c", KILLED_CLIENT, str(srv.socket)],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert child.stdout is not None
            line = await asyncio.wait_for(asyncio.to_thread(child.stdout.readline), 30.0)
            assert line.strip() == "ready"
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=10)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait(timeout=10)
            assert child.stdout is not None
            child.stdout.close()
        async with srv.client("next") as http:
            st = await state(http)
            # Control stays with the crashed client; the line steps on, Stopped as it was.
            assert st["control"]["holder"].endswith("@doomed")
            assert st["supervisor"]["state"] == "Stopped"
            assert await until_steps(http, st["supervisor"]["steps"] + 20, 30.0)
            status, body = await post(http, {"command": "take_control", "request_id": "n1"})
            assert status == 423 and "doomed" in body["error"]["message"]
            force = {"command": "take_control", "request_id": "n2", "force": True}
            assert (await post(http, force))[0] == 200
            assert (await state(http))["control"]["holder"].endswith("@next")
        assert srv.stop() == 0
        changed = [e for e in srv.events() if isinstance(e, ControlChanged)]
    assert [(c.old.endswith("@doomed"), c.new.endswith("@next")) for c in changed][-1] == (
        True,
        True,
    )
    assert changed[-1].by.endswith("@next")
    assert json.dumps([c.to_data() for c in changed])  # plain JSON in the run log


async def test_a_frozen_client_does_not_hold_up_a_clean_stop(tmp_path: Path) -> None:
    with serving(tmp_path) as srv:
        async with srv.client("frozen") as frozen, srv.client("flood") as flood:
            ws = await frozen.ws_connect("/v1/stream")  # never read: its socket fills
            for i in range(400):  # about 500 kB of events, a reason as long as allowed each
                body = {"command": "start", "request_id": f"f{i}", "reason": "r" * 1000}
                assert (await post(flood, body))[0] == 423
            assert srv.stop(signal.SIGTERM) == 0
            assert not srv.socket.exists()
            await ws.close()
