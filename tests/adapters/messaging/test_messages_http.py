"""GET /messages and /messages/{id}: each message's state and attempts over HTTP, mounted
beside another app (as `ivr serve` does) or under a router that sets `root_path`."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from gateways import STATEMENT, running, service

from ivr.adapters.messaging import mount_messages
from ivr.adapters.messaging.testing import ScriptedTransport
from ivr.runtime.ports import MessageOrigin

CHANNELS = "email: {kind: email}\nsms: {kind: sms}"


async def get(app: Any, path: str, query: str = "", root_path: str = "") -> tuple[int, Any]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": query.encode(),
        "root_path": root_path,
    }
    await app(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body)


async def host(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b'{"host": true}'})


async def test_the_view_lists_messages_and_shows_one_with_its_attempts(tmp_path: Path) -> None:
    transports = {"email": ScriptedTransport(["retry", "sent"]), "sms": ScriptedTransport(["failed"])}
    svc = service(CHANNELS)
    async with running(tmp_path / "o.db", svc, transports=transports) as messaging:
        channels = messaging.channels
        origin = MessageOrigin("call-5", "account", "send_email")
        mail = await channels.send("email", "li@example.com", "Your statement", STATEMENT, origin=origin)
        text = await channels.send("sms", "13800138000", "hi", None)
        assert await channels.wait_delivery(text, Decimal(10)) == "failed"
        app = mount_messages(host, messaging.api)
        # the e-mail's first attempt asks for a retry 30 s later (the default back-off)
        status, listing = await get(app, "/messages", "call=call-5")
        assert status == 200 and [m["id"] for m in listing["messages"]] == [mail]
        [entry] = listing["messages"]
        assert entry["status"] == "queued" and entry["attempts"] == 1 and entry["next_attempt"]
        assert (entry["call"], entry["flow"], entry["node"]) == ("call-5", "account", "send_email")
        assert listing["counts"] == {"email": {"queued": 1}, "sms": {"dead": 1}}
        status, dead = await get(app, "/messages", "status=dead")
        assert [m["id"] for m in dead["messages"]] == [text]
        status, one = await get(app, f"/messages/{mail}")
        assert status == 200 and one["message"]["text"] == "Your statement"
        assert one["message"]["document"] == "对账单 Statement 2026-11" and "sections" not in json.dumps(one)
        assert [(a["attempt"], a["outcome"]) for a in one["attempts"]] == [(1, "retry")]
        assert (await get(app, "/messages/nope"))[0] == 404
        assert await get(app, "/health") == (200, {"host": True})


@pytest.mark.parametrize(
    ("path", "root_path"),
    [("/messages/", ""), ("/messages/", "/messages"), ("/", "/messages")],
    ids=["mounted-here", "starlette-keeps-path", "router-strips-path"],
)
async def test_the_view_serves_below_wherever_it_is_mounted(
    tmp_path: Path, path: str, root_path: str
) -> None:
    async with running(tmp_path / "o.db", service(CHANNELS), transports={}) as messaging:
        status, body = await get(messaging.api, path, "n=5", root_path)
    assert status == 200 and body == {"messages": [], "counts": {}}
