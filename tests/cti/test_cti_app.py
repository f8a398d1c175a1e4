"""The CTI app over a real hypercorn (trio) server on 127.0.0.1: the desktop's files,
POST /cti/login, and the protocol on a real WebSocket (trio-websocket as the client)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from cti_support import PASSWORDS, running_cti, serving
from trio_websocket import HandshakeError, open_websocket_url

from ivr.adapters.cti import DeskSettings


async def test_the_desktop_and_its_assets_are_served_and_nothing_else() -> None:
    async with running_cti() as cti, serving(cti.app) as url, httpx.AsyncClient(base_url=url) as http:
        page = await http.get("/desktop/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert '<script type="module" src="desktop.js">' in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert (
            page.headers["cache-control"] == "no-store"
            and page.headers["x-content-type-options"] == "nosniff"
        )
        for asset in ("desktop.js", "cti.js", "desktop.css"):
            assert (await http.get(f"/desktop/{asset}")).status_code == 200
        assert (await http.get("/desktop")).status_code == 308
        for bad in ("/desktop/../app.py", "/desktop/%2e%2e/app.py", "/desktop/demo_agents.yaml", "/nothing"):
            assert (await http.get(bad)).status_code == 404, bad


async def test_login_over_http_then_the_token_on_the_websocket() -> None:
    async with running_cti() as cti, serving(cti.app) as url, httpx.AsyncClient(base_url=url) as http:
        wrong = await http.post("/cti/login", json={"extension": "8001", "password": "nope"})
        assert wrong.status_code == 401 and "token" not in wrong.json()
        assert (await http.post("/cti/login", content=b"{not json")).status_code == 400
        assert (await http.get("/cti/login")).status_code == 405
        right = await http.post("/cti/login", json={"extension": "8001", "password": PASSWORDS["8001"]})
        assert right.status_code == 200
        token = right.json()["token"]

        ws_url = url.replace("http://", "ws://") + "/cti/ws"
        async with open_websocket_url(ws_url) as ws:
            await ws.send_message("]]garbage[[")
            assert json.loads(await ws.get_message())["error"]["code"] == "bad_json"
            await ws.send_message(json.dumps({"id": 1, "command": "login", "token": token}))
            answer = json.loads(await ws.get_message())
            assert answer["ok"] and answer["agent"]["extension"] == "8001"
            await ws.send_message(json.dumps({"id": 2, "command": "state", "state": "ready"}))
            while (message := json.loads(await ws.get_message())).get("reply") != 2:
                assert message["event"] in ("agent_state", "queue_stats")
            assert message["ok"] and message["state"] == "ready"


async def test_mounted_beside_a_host_app_the_cti_takes_only_its_paths() -> None:
    from ivr.adapters.cti import mount_cti

    async def host(scope: object, receive: object, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"host"})

    async with running_cti() as cti:
        app = mount_cti(host, cti.app)
        async with serving(app) as url, httpx.AsyncClient(base_url=url) as http:
            assert (await http.get("/health")).text == "host"
            assert "坐席工作台" in (await http.get("/desktop/")).text
            assert (await http.post("/cti/login", json={})).status_code == 400


async def test_ten_bad_logins_lock_the_extension_over_http_and_websocket_alike() -> None:
    async with running_cti() as cti, serving(cti.app) as url, httpx.AsyncClient(base_url=url) as http:
        ws_url = url.replace("http://", "ws://") + "/cti/ws"
        answers = []
        for attempt in range(10):  # alternate the entry points, a new socket each time
            if attempt % 2:
                async with open_websocket_url(ws_url) as ws:
                    await ws.send_message(
                        json.dumps({"id": 1, "command": "login", "extension": "8001", "password": "x"})
                    )
                    answers.append(json.loads(await ws.get_message())["error"]["code"])
            else:
                response = await http.post("/cti/login", json={"extension": "8001", "password": "x"})
                answers.append(response.json()["code"])
        assert answers[:4] == ["auth_failed"] * 4 and set(answers[4:]) == {"locked"}
        right = {"extension": "8001", "password": PASSWORDS["8001"]}
        locked = await http.post("/cti/login", json=right)
        assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 800
        assert "locked" in locked.json()["error"] and "token" not in locked.json()
        async with open_websocket_url(ws_url) as ws:
            await ws.send_message(json.dumps({"id": 1, "command": "login", **right}))
            assert json.loads(await ws.get_message())["error"]["code"] == "locked"
        other = await http.post("/cti/login", json={"extension": "8002", "password": PASSWORDS["8002"]})
        assert other.status_code == 200  # one locked extension does not lock the others
        journal = [(e.kind, e.extension, e.detail.get("via")) for e in await cti.journal.events()]
        assert ("locked_out", "8001", "http") in journal and ("login_failed", "8001", "websocket") in journal


async def test_only_configured_origins_may_embed_the_desktop() -> None:
    async with running_cti() as cti, serving(cti.app) as url, httpx.AsyncClient(base_url=url) as http:
        page = await http.get("/desktop/")
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert "x-frame-options" not in page.headers
    embeddable = DeskSettings(frame_ancestors=("https://crm.example.com",))
    async with running_cti(settings=embeddable) as cti, serving(cti.app) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            policy = (await http.get("/desktop/")).headers["content-security-policy"]
            assert "frame-ancestors https://crm.example.com" in policy
            assert "frame-ancestors" in (await http.get("/nothing")).headers["content-security-policy"]
        ws_url = url.replace("http://", "ws://") + "/cti/ws"
        async with open_websocket_url(ws_url, extra_headers=[("Origin", "https://crm.example.com")]) as ws:
            await ws.send_message(json.dumps({"id": 1, "command": "ping"}))
            assert json.loads(await ws.get_message())["pong"] is True
        with pytest.raises(HandshakeError):
            async with open_websocket_url(ws_url, extra_headers=[("Origin", "https://evil.example")]):
                pass
