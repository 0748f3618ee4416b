"""The API's optional loopback TCP port (bearer tokens stored as SHA-256 in ``[api]``),
and the schema and recipes served, against a real ``linecontrol serve`` child."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from linecontrol.api import api_schema
from linecontrol.config import RECIPES
from linecontrol.server import new_token
from tests.integration.test_api_serve import line_config, post, serving, state

pytestmark = [pytest.mark.integration, pytest.mark.deadline(120)]


async def test_tcp_serves_bearer_tokens_only_on_loopback(tmp_path: Path) -> None:
    token, digest = new_token()
    api = f'[api]\n[api.tokens.scada]\nsha256 = "{digest}"\nrole = "operator"\n'
    config = line_config(tmp_path, api)
    with serving(tmp_path, "--tcp", "127.0.0.1:0", config=config) as srv:
        tcp = next(ln for ln in srv.stdout if ln.startswith("tcp "))
        base = "http://" + tcp.split()[1]
        auth = {"Authorization": f"Bearer {token}", "X-Client-Id": "scada-1"}
        async with aiohttp.ClientSession(base_url=base, headers=auth) as http:
            st = await state(http)
            assert st["you"] == {"user": "scada", "role": "operator", "client": "scada-1"}
            assert (await post(http, {"command": "take_control", "request_id": "t1"}))[0] == 200
            status, body = await post(
                http, {"command": "load_recipe", "request_id": "t2", "path": "x.toml"}
            )
            assert status == 403 and "engineer" in body["error"]["message"]
        for headers in ({}, {"Authorization": "Bearer not-the-token"}):
            async with (
                aiohttp.ClientSession(base_url=base, headers=headers) as http,
                http.get("/v1/state") as reply,
            ):
                assert reply.status == 401
                assert (await reply.json())["error"]["code"] == "unauthorized"
        # The Unix socket still maps the owner's uid; the schema and recipes are served.
        async with srv.client() as http:
            assert (await state(http))["control"]["holder"] == "scada@scada-1"
            async with http.get("/v1/schema") as reply:
                assert reply.status == 200 and await reply.json() == api_schema()
            async with http.get("/v1/recipes") as reply:
                recipes = await reply.json()
            async with http.get("/v1/nothing") as reply:
                assert reply.status == 404 and (await reply.json())["error"]["code"] == "not_found"
        assert srv.stop(signal.SIGTERM) == 0
    by_file = {Path(r["path"]).name: r for r in recipes}
    assert set(by_file) == {p.name for p in RECIPES.glob("*.toml")}
    assert by_file["001-ex1.toml"]["ok"] is True and by_file["001-ex1.toml"]["derived"]
    assert by_file["001-comp1.toml"]["ok"] is False
    assert any("[press.temp_vs_tg]" in v for v in by_file["001-comp1.toml"]["violations"])


@pytest.mark.parametrize(
    ("address", "api", "words"),
    [
        ("10.1.2.3:8080", '[api.tokens.a]\nsha256 = "' + "0" * 64 + '"\nrole = "viewer"\n',
         "not a loopback address"),
        ("127.0.0.1:0", "", "no [api.tokens]"),
    ],
)  # fmt: skip
def test_tcp_off_loopback_or_without_tokens_is_refused(
    tmp_path: Path, address: str, api: str, words: str
) -> None:
    config = line_config(tmp_path, "[api]\n" + api)
    p = subprocess.run(
        [sys.executable, "-m", "linecontrol", "serve", "--sim", "--config", str(config),
         "--data-dir", str(tmp_path / "d"), "--tcp", address],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert p.returncode == 2 and words in p.stderr, p.stderr
    assert not (tmp_path / "d" / "linecontrol.sock").exists()


def test_a_tcp_port_in_use_is_a_clear_error_and_nothing_is_left(tmp_path: Path) -> None:
    config = line_config(tmp_path, '[api.tokens.a]\nsha256 = "' + "0" * 64 + '"\nrole = "viewer"\n')
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        p = subprocess.run(
            [sys.executable, "-m", "linecontrol", "serve", "--sim", "--config", str(config),
             "--data-dir", str(tmp_path / "d"), "--tcp", f"127.0.0.1:{port}"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert p.returncode == 2 and f"--tcp 127.0.0.1:{port}" in p.stderr, p.stderr
    assert "Traceback" not in p.stderr
    assert not (tmp_path / "d" / "linecontrol.sock").exists()
