"""The HTTP API and the agent desktops of a hosted server, tenant by tenant: every view but
/health needs a token; a tenant's token sees only its own calls, traces, recordings, usage
and versions and publishes only its own flows; the operator's sees all. Each tenant's agents
log in on their own desktop, get only their tenant's calls, and fill only its agent seats."""

from __future__ import annotations

import json
import shutil
import time
import wave
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import trio
from tenants_support import HANGUP_FLOW, hosting_file, running, serving, tenant_folder, write
from trio_websocket import HandshakeError, open_websocket_url

from ivr.adapters.cti import hash_password
from ivr.adapters.cti.testing import DeskConnector
from ivr.adapters.hosting.auth import Tokens, token_digest
from ivr.adapters.hosting.http import HttpApi
from ivr.adapters.hosting.live import LiveCalls
from ivr.adapters.hosting.server import Hosted, ServerStatus
from ivr.adapters.hosting.testing import memory_call
from ivr.adapters.hosting.versions import snapshot
from ivr.runtime.acd import CallConnected
from ivr.runtime.ports import Recording
from ivr.runtime.testing import MemoryCallLeg

OPERATOR, ALPHA, BETA = "operator-secret", "alpha-secret", "beta-secret"

QUEUE_FLOW = """\
flow: main
languages: [en]
start: wait
nodes:
  wait: {type: enqueue, queue: desk, next: bye, on_overflow: busy, on_timeout: busy, on_no_agents: busy}
  busy: {type: hangup, prompt: {en: "Nobody at {tenant}."}}
  bye: {type: hangup, prompt: {en: Goodbye.}}
"""


def two_tenants(root: Path, *, agents: bool = False, seats: str = "") -> None:
    for name, number in (("alpha", "100"), ("beta", "200")):
        flows = {"main": QUEUE_FLOW.replace("{tenant}", name)} if agents else None
        tenant_folder(
            root, name, {number: "main"}, flows=flows, service_extra="queues:\n  desk: {skills: [desk]}\n"
        )
    if agents:
        for name, extension in (("alpha", "8001"), ("beta", "9001")):
            write(
                root / f"{name}-agents.yaml",
                f'agents:\n  - extension: "{extension}"\n    name: Agent {extension}\n'
                f'    password_hash: "{hash_password("pw-" + extension)}"\n'
                f"    phone: sip:{extension}@127.0.0.1:9\n    skills: {{desk: 3}}\n"
                f'  - extension: "{extension[:-1]}2"\n    name: Second {extension}\n'
                f'    password_hash: "{hash_password("pw-" + extension[:-1] + "2")}"\n'
                f"    phone: sip:{extension[:-1]}2@127.0.0.1:9\n    skills: {{desk: 3}}\n"
                "    roles: [supervisor]\n",
            )
    more = (lambda name: f", agents: {name}-agents.yaml") if agents else (lambda name: "")
    alpha, beta = token_digest(ALPHA), token_digest(BETA)
    hosting_file(
        root,
        f'alpha: {{folder: alpha, numbers: ["100"], token_sha256: {alpha}{more("alpha")}{seats}}}\n'
        f'beta: {{folder: beta, numbers: ["200"], token_sha256: {beta}{more("beta")}}}\n',
        extra=f"operator: {{token_sha256: {token_digest(OPERATOR)}}}\n",
    )


@dataclass
class Api:
    hosted: Hosted
    app: object

    def client(self, token: str | None = None) -> httpx.AsyncClient:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url="http://ivr.test",
            headers=headers,  # type: ignore[arg-type]
        )


@asynccontextmanager
async def api(root: Path, **parts: object) -> AsyncIterator[Api]:
    live = LiveCalls()
    async with running(root, live=live, **parts) as hosted:
        status = ServerStatus(hosted.admission, 1024, time.monotonic())
        assert hosted.publisher is not None
        http = HttpApi(
            status,
            live,
            hosted.shared.metrics,
            hosted.shared.store,
            hosted.tenants,
            Tokens.from_hosting(hosted.publisher.hosting),
            hosted.publisher,
            hosted.publisher.hosting,
        )
        yield Api(hosted, http.app())


async def test_without_a_token_only_health_answers_and_tells_nothing_of_tenants(tmp_path: Path) -> None:
    two_tenants(tmp_path)
    async with api(tmp_path) as server, server.client() as anyone, server.client("wrong") as guesser:
        health = await anyone.get("/health")
        assert health.status_code == 200 and "tenants" not in health.json()
        for path in ("/calls", "/calls/recent", "/tenants", "/usage", "/metrics", "/tenants/alpha/versions"):
            for client in (anyone, guesser):
                answer = await client.get(path)
                assert answer.status_code == 401, path
                assert answer.headers["www-authenticate"] == "Bearer"
                assert "Bearer" in answer.json()["error"]


async def test_a_tenants_token_sees_only_its_own_calls_traces_recordings_and_tenant(tmp_path: Path) -> None:
    two_tenants(tmp_path)
    async with api(tmp_path) as server:
        hosted = server.hosted
        _, alpha_leg, _ = await memory_call(hosted.admission, "100")
        _, beta_leg, _ = await memory_call(hosted.admission, "200")
        assert alpha_leg is not None and beta_leg is not None
        audio = tmp_path / "alpha-recording.wav"
        with wave.open(str(audio), "wb") as w:
            w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000), w.writeframes(b"\x01\x00" * 800)
        await hosted.shared.store.store_recording(
            alpha_leg.call_id, Recording("rec-alpha", Decimal("0.1"), str(audio), "call"), {"kind": "call"}
        )
        async with (
            server.client(ALPHA) as alpha,
            server.client(BETA) as beta,
            server.client(OPERATOR) as operator,
        ):
            assert [c["tenant"] for c in (await alpha.get("/calls/recent")).json()["calls"]] == ["alpha"]
            assert {c["tenant"] for c in (await operator.get("/calls/recent")).json()["calls"]} == {
                "alpha",
                "beta",
            }
            # another tenant's call is "not found", from memory and from the records alike
            hosted.shared.records.live.recent.clear()
            assert (await alpha.get(f"/calls/{alpha_leg.call_id}/trace")).json()["call"]["version"] == "v1"
            assert (await alpha.get(f"/calls/{beta_leg.call_id}/trace")).status_code == 404
            assert (await operator.get(f"/calls/{beta_leg.call_id}/trace")).status_code == 200
            listed = (await alpha.get(f"/calls/{alpha_leg.call_id}/recordings")).json()["recordings"]
            assert [r["id"] for r in listed] == ["rec-alpha"]
            assert (await alpha.get("/recordings/rec-alpha")).content == audio.read_bytes()
            assert (await beta.get("/recordings/rec-alpha")).status_code == 404
            assert (await beta.get(f"/calls/{alpha_leg.call_id}/recordings")).status_code == 404
            assert [t["name"] for t in (await beta.get("/tenants")).json()["tenants"]] == ["beta"]
            assert (await beta.get("/tenants/alpha")).status_code == 404
            assert (await beta.get("/metrics")).status_code == 403
            metrics = (await operator.get("/metrics")).text
            assert 'ivr_calls_total{how="completed",tenant="alpha"} 1.0' in metrics
            assert (await operator.get("/health")).json()["tenants"] == {
                "alpha": "serving",
                "beta": "serving",
            }


async def test_a_tenant_publishes_over_http_only_its_own_flows_and_sees_only_its_versions(
    tmp_path: Path,
) -> None:
    two_tenants(tmp_path)
    files = snapshot(tmp_path / "alpha")
    texts = {name: content.decode() for name, content in files.items()}
    texts["main.yaml"] = HANGUP_FLOW.format(name="main", tenant="alpha, version two")
    async with api(tmp_path) as server:
        async with (
            server.client(ALPHA) as alpha,
            server.client(BETA) as beta,
            server.client(OPERATOR) as operator,
        ):
            body = {"author": "li.na", "note": "v2", "files": texts}
            assert (await beta.post("/tenants/alpha/versions", json=body)).status_code == 404
            published = await alpha.post("/tenants/alpha/versions", json=body)
            assert published.status_code == 201, published.text
            assert (
                published.json()["version"]["id"] == "v2" and published.json()["version"]["author"] == "li.na"
            )
            broken = {**texts, "main.yaml": texts["main.yaml"].replace("next: bye", "next: nowhere")}
            checked = await alpha.post("/tenants/alpha/check", json={"files": broken})
            assert checked.status_code == 422 and checked.json()["diagnostics"][0]["code"] == "FL301"
            refused = await alpha.post("/tenants/alpha/versions", json={**body, "files": broken})
            assert refused.status_code == 422
            assert refused.json()["diagnostics"][0]["file"] == "alpha/main.yaml"
            versions = (await alpha.get("/tenants/alpha/versions")).json()["versions"]
            assert [(v["id"], v["current"]) for v in versions] == [("v1", False), ("v2", True)]
            assert (await beta.get("/tenants/alpha/versions")).status_code == 404
            diff = (await alpha.get("/tenants/alpha/versions/v1/diff/v2")).json()["diff"]
            assert '+  hello: {type: say, prompt: {en: "Hello from alpha, version two."}' in diff
            back = await operator.post("/tenants/alpha/rollback", json={"version": "v1", "author": "ops"})
            assert back.status_code == 201 and back.json()["version"]["origin"] == "rollback of v1"
            assert (await alpha.post("/tenants/alpha/versions", content=b"{nope")).status_code == 400
        _, leg, _ = await memory_call(server.hosted.admission, "100")
        assert leg is not None and leg.prompts[0].text == "Hello from alpha."


async def test_usage_over_http_is_per_tenant_for_a_tenant_and_all_for_the_operator(tmp_path: Path) -> None:
    two_tenants(tmp_path)
    async with api(tmp_path) as server:
        for number in ("100", "100", "200"):
            await memory_call(server.hosted.admission, number)
        today = datetime.now(UTC).date().isoformat()
        async with server.client(ALPHA) as alpha, server.client(OPERATOR) as operator:
            mine = (await alpha.get("/usage", params={"from": today, "to": today})).json()["days"]
            everyone = (await operator.get("/usage", params={"from": today, "to": today})).json()["days"]
            assert [(d["tenant"], d["calls"]) for d in mine] == [("alpha", 2)]
            assert [(d["tenant"], d["calls"]) for d in everyone] == [("alpha", 2), ("beta", 1)]
            assert (await alpha.get("/usage", params={"tenant": "beta"})).status_code == 404
            assert (await alpha.get("/usage", params={"from": "yesterday"})).status_code == 400
            assert (
                await alpha.get("/usage", params={"from": "2020-01-01", "to": "2026-01-01"})
            ).status_code == 400


async def test_each_tenants_agents_log_in_on_its_own_desktop_and_get_only_its_calls(tmp_path: Path) -> None:
    two_tenants(tmp_path, agents=True, seats=", seats: {agents: 1}")
    lines: dict[str, DeskConnector] = {}

    def line(layout: object) -> DeskConnector:
        return lines.setdefault(str(getattr(layout, "name", "")), DeskConnector(answer_after=0.1))

    async with api(tmp_path, agent_line=line) as server, serving(server.app) as url:
        base = url.replace("http://", "ws://")
        async with httpx.AsyncClient(base_url=url) as http:
            alice = {"extension": "8001", "password": "pw-8001"}
            assert (await http.post("/tenants/beta/cti/login", json=alice)).status_code == 401
            assert (await http.get("/tenants/alpha/desktop/")).status_code == 200
            token = (await http.post("/tenants/alpha/cti/login", json=alice)).json()["token"]
        async with open_websocket_url(f"{base}/tenants/beta/cti/ws") as ws:  # alpha's token at beta's desk
            await ws.send_message(json.dumps({"id": 1, "command": "login", "token": token}))
            assert json.loads(await ws.get_message())["error"]["code"] == "auth_failed"
        async with (
            open_websocket_url(f"{base}/tenants/alpha/cti/ws") as ws,
            open_websocket_url(f"{base}/tenants/alpha/cti/ws") as second,
        ):
            await ws.send_message(json.dumps({"id": 1, "command": "login", "token": token}))
            assert json.loads(await ws.get_message())["ok"]
            await ws.send_message(json.dumps({"id": 2, "command": "state", "state": "ready"}))
            while json.loads(await ws.get_message()).get("reply") != 2:
                pass
            # alpha leases one agent seat: its second agent is refused while the first is in
            login = {"id": 1, "command": "login", "extension": "8002", "password": "pw-8002"}
            await second.send_message(json.dumps(login))
            refused = json.loads(await second.get_message())
            assert refused["error"]["code"] == "bad_state" and "agent seats" in refused["error"]["message"]
            # a beta caller is never offered to alpha's ready agent; an alpha caller is
            with trio.fail_after(10):
                _, beta_leg, _ = await memory_call(server.hosted.admission, "200")
                alpha_leg = MemoryCallLeg(call_id="alpha-call", dialed="100")
                acd = server.hosted.tenant("alpha").agents.acd
                assert acd is not None
                events = acd.subscribe()
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(memory_call, server.hosted.admission, "100", alpha_leg)
                    async for event in events:
                        if isinstance(event, CallConnected):
                            break
                    alpha_leg.hang_up()
    assert beta_leg is not None and [p.text for p in beta_leg.prompts] == ["Nobody at beta."]
    assert [(call, agent) for call, agent, _ in lines["alpha"].offers] == [("alpha-call", "8001")]
    assert "beta" not in lines or lines["beta"].offers == []


async def test_each_tenants_supervisor_pages_serve_only_that_tenants_supervisors(tmp_path: Path) -> None:
    two_tenants(tmp_path, agents=True)
    async with (
        api(tmp_path, agent_line=lambda layout: DeskConnector()) as server,
        server.client() as http,
        serving(server.app) as url,
    ):
        assert (await http.get("/tenants/alpha/supervisor/")).status_code == 200
        agent = {"extension": "8001", "password": "pw-8001"}
        refused = await http.post("/tenants/alpha/supervisor/api/login", json=agent)
        assert refused.status_code == 403 and "not a supervisor" in refused.json()["error"]
        beta_supervisor = {"extension": "9002", "password": "pw-9002"}
        assert (
            await http.post("/tenants/alpha/supervisor/api/login", json=beta_supervisor)
        ).status_code == 401
        supervisor = {"extension": "8002", "password": "pw-8002"}
        answer = await http.post("/tenants/alpha/supervisor/api/login", json=supervisor)
        assert answer.status_code == 200 and answer.json()["tenant"] == "alpha"
        assert "Path=/tenants/alpha/supervisor;" in answer.headers["set-cookie"]
        board = await http.get("/tenants/alpha/supervisor/api/board")  # the cookie
        assert board.status_code == 200 and board.json()["agents"] == []
        tickets = await http.get("/tenants/alpha/supervisor/api/tickets")
        assert tickets.status_code == 404 and "no complaint tickets desk" in tickets.json()["error"]
        token = answer.cookies["ivr_supervisor"]
        at_beta = await http.get(
            "/tenants/beta/supervisor/api/board", headers={"authorization": f"Bearer {token}"}
        )
        assert at_beta.status_code == 401  # alpha's supervisor is nobody at beta
        assert (await http.get("/supervisor/api/board")).status_code == 404  # hosted: only under a tenant
        # the wall board's socket: this tenant's ACD, pushed as it changes; refused at beta's
        cookie = [("cookie", f"ivr_supervisor={token}")]
        base = url.replace("http://", "ws://")
        async with open_websocket_url(f"{base}/tenants/alpha/supervisor/ws", extra_headers=cookie) as ws:
            assert json.loads(await ws.get_message())["agents"] == []
            acd = server.hosted.tenant("alpha").agents.acd
            assert acd is not None
            acd.login("8001", "sip:8001@127.0.0.1:9", {"desk": 3})
            with trio.fail_after(5):
                board = json.loads(await ws.get_message())
            assert [(a["agent"], a["state"]) for a in board["agents"]] == [("8001", "not_ready")]
        with pytest.raises(HandshakeError):
            async with open_websocket_url(f"{base}/tenants/beta/supervisor/ws", extra_headers=cookie):
                pass


CHROMIUM = "/usr/bin/chromium"


async def test_a_tenants_desktop_in_chromium_logs_in_on_that_tenants_desk(tmp_path: Path) -> None:
    if shutil.which(CHROMIUM) is None:
        pytest.skip("apt-get install -y --no-upgrade chromium")
    pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    two_tenants(tmp_path, agents=True)
    async with api(tmp_path, agent_line=lambda layout: DeskConnector()) as server, serving(server.app) as url:
        shown = await trio.to_thread.run_sync(
            _log_in_at, f"{url}/tenants/beta/desktop/", tmp_path / "profile"
        )
        stats = server.hosted.tenant("beta").agents.acd
        assert stats is not None and "9001" in stats.statistics().agents
        other = server.hosted.tenant("alpha").agents.acd
        assert other is not None and other.statistics().agents == {}
    assert shown == "Agent 9001 (9001)"


def _log_in_at(desk: str, profile: Path) -> str:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
        ]
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=args
        )
        try:
            page = context.new_page()
            page.set_default_timeout(15_000)
            page.goto(desk)
            page.fill("#extension", "9001")
            page.fill("#password", "pw-9001")
            page.click("#login button[type=submit]")
            expect(page.locator("#state")).to_have_attribute("data-state", "not_ready")
            return page.inner_text("#agent-name")
        finally:
            context.close()
