"""Two `ivr serve --hosting --database-url` processes on one PostgreSQL serve one center's
flow versions, end to end: `ivr publish` at A reaches B's next sipp call, and
`ivr versions --rollback` at B reaches A's."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from hosting_support import IVR, Server, open_rtp_peer, start_caller

from ivr.adapters.hosting.auth import token_digest

OPERATOR = "e2e-operator-token"
FLOW = """\
flow: main
languages: [en]
start: menu
nodes:
  menu:
    type: menu
    prompt: {{en: "{greeting}"}}
    timeout: 60s
    max_retries: 0
    options: {{"1": bye}}
    on_no_input: bye
    on_no_match: bye
  bye: {{type: hangup, prompt: {{en: Goodbye.}}}}
"""


def tenant(folder: Path, greeting: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "service.yaml").write_text('service: alpha\nlanguages: [en]\nnumbers: {"777": main}\n')
    (folder / "main.yaml").write_text(FLOW.format(greeting=greeting))
    return folder


def ivr(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(IVR), *args, "--token", OPERATOR], capture_output=True, text=True, timeout=60, check=False
    )


async def get(server: Server, path: str) -> Any:
    """The operator's view of `path` at `server`."""
    async with httpx.AsyncClient(timeout=5.0, headers={"authorization": f"Bearer {OPERATOR}"}) as client:
        response = await client.get(server.url(path))
    response.raise_for_status()
    return response.json()


async def calls_from(server: Server, caller: str) -> list[dict[str, Any]]:
    return [c for c in (await get(server, "/calls/recent"))["calls"] if c["caller"] == caller]


async def serving(server: Server, version: str) -> None:
    """Until /tenants/alpha at `server` says it serves `version`."""
    with trio.fail_after(20):
        while (await get(server, "/tenants/alpha"))["version"] != version:  # noqa: ASYNC110 (another process)
            await trio.sleep(0.1)


async def greeting(server: Server, tmp_path: Path, caller: str, version: str) -> str:
    """What a sipp call to 777 at `server` heard first (its trace, from the shared records),
    whose record says it ran on `version`."""
    peer = await open_rtp_peer()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(peer.receive_forever)
        keys = {"caller": caller, "rtp_port": str(peer.port), "hold": "1500"}
        sipp = start_caller(nursery, server, "uac_call.xml", tmp_path / caller, number="777", keys=keys)
        await sipp.wait_ok()
        nursery.cancel_scope.cancel()
    with trio.fail_after(10):
        while not (calls := await calls_from(server, caller)):  # noqa: ASYNC110 (another process)
            await trio.sleep(0.1)
    assert calls[0]["version"] == version
    trace = await get(server, f"/calls/{calls[0]['id']}/trace")
    return str(next(e["detail"]["text"] for e in trace["events"] if e["kind"] == "prompt"))


@pytest.mark.slow
async def test_a_publish_at_one_server_reaches_the_other_and_a_rollback_there_comes_back(
    tmp_path: Path, tts_cache: Path, postgres_url: str
) -> None:
    hosting = tmp_path / "hosting.yaml"
    tenant(tmp_path / "alpha", "Version one.")
    hosting.write_text(
        f"hosting: e2e\noperator: {{token_sha256: {token_digest(OPERATOR)}}}\n"
        'tenants:\n  alpha: {folder: alpha, numbers: ["777"]}\n'
    )
    common = ("--hosting", str(hosting), "--agents", "none", "--database-url", postgres_url)
    a = Server.start(tmp_path / "a", *common, "--instance-id", "a", tts=tts_cache)
    try:
        b = Server.start(tmp_path / "b", *common, "--instance-id", "b", tts=tts_cache)
        try:
            edited = tenant(tmp_path / "edited", "Version two.")
            published = ivr("publish", "alpha", str(edited), "--server", a.url(""), "--author", "li.na")
            assert published.returncode == 0, published.stdout + published.stderr
            await serving(b, "v2")
            assert await greeting(b, tmp_path, "13900000001", "v2") == "Version two."

            back = ivr("versions", "alpha", "--rollback", "v1", "--server", b.url(""), "--author", "wang.wei")
            assert back.returncode == 0, back.stdout + back.stderr
            await serving(a, "v3")
            assert await greeting(a, tmp_path, "13900000002", "v3") == "Version one."
            listed = ivr("versions", "alpha", "--server", a.url(""))
        finally:
            assert b.stop() == 0, b.output()
    finally:
        assert a.stop() == 0, a.output()
    assert listed.returncode == 0 and "rollback of v1" in listed.stdout and "li.na" in listed.stdout
    assert "now serving v2, made current at another instance" in b.log.read_text()
    assert not (tmp_path / "a" / "tenants" / "alpha" / "versions").exists()  # nothing in the folder store
