"""Inbound SMS and delivery receipts on `ivr serve` (docs/channels.md): a text posted to the
webhook runs the brokerage's keyword table, and the reply leaves through a real HTTP SMS
gateway (the standard library's HTTP server in this process); STOP reaches the do-not-call
list a campaign run then honours; a receipt flips a message to delivered or failed.

One server for the module (flows/, the brokerage): its SMS gateway and inbound secret come
from IVR_SMS_URL and IVR_SMS_INBOUND_SECRET (flows/service.yaml).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from hosting_support import Server

sys.path.insert(0, str(Path(__file__).parents[1] / "adapters" / "messaging"))

from gateways import HttpGateway, eventually

from ivr.adapters.brokerage.db import ENV_VAR
from ivr.adapters.storage.campaigns import open_sqlite_campaign_store
from ivr.flowlang.project import load_project
from ivr.runtime.campaigns.model import Contact
from ivr.runtime.campaigns.runner import open_campaigns
from ivr.runtime.context import CallPorts
from ivr.runtime.engine import Engine
from ivr.runtime.testing import (
    FixtureOperations,
    MemoryCallRecords,
    MemoryChannels,
    ScriptedRouting,
    VirtualWallClock,
)
from ivr.runtime.testing.campaigns import Answer, ScriptedDialer, dialled_numbers

SECRET = "s3cret-for-tests"
TEXTER = "13900139000"


@pytest.fixture(scope="module")
def gateway() -> Iterator[HttpGateway]:
    with HttpGateway() as sms:
        yield sms


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, tts_cache: Path, gateway: HttpGateway
) -> Iterator[Server]:
    env = {"IVR_SMS_URL": gateway.url, "IVR_SMS_INBOUND_SECRET": SECRET, ENV_VAR: ""}
    server = Server.start(tmp_path_factory.mktemp("sms"), tts=tts_cache, env=env)
    try:
        yield server
    finally:
        server.stop()


async def post(server: Server, path: str, body: object, *, secret: str | None = SECRET) -> tuple[int, Any]:
    headers = {"x-webhook-secret": secret} if secret is not None else {}
    content = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    async with httpx.AsyncClient(timeout=10.0) as client:
        response = await client.post(server.url(path), content=content, headers=headers)
    return response.status_code, response.json()


def texts_to(gateway: HttpGateway, number: str) -> list[str]:
    return [r.json()["text"] for r in gateway.requests if r.json().get("to") == number]


async def test_an_hq_text_gets_the_quote_back_through_the_gateway_once(
    served: Server, gateway: HttpGateway
) -> None:
    sms = {"from": TEXTER, "text": "HQ 600519", "id": "gw-1001"}
    status, answer = await post(served, "/sms/sms/inbound", sms)
    assert (status, answer["keyword"]) == (200, "HQ"), answer
    [reply] = await eventually(lambda: texts_to(gateway, TEXTER))
    assert reply.startswith("贵州茅台(600519) 最新价") and "元" in reply, reply
    # the gateway retries its webhook: answered already, nothing more is sent
    assert await post(served, "/sms/sms/inbound", sms) == (200, {"duplicate": True})
    listing = await served.get("/messages?channel=sms&n=50")
    assert [m["id"] for m in listing["messages"] if m["to"] == TEXTER] == [answer["reply"]]
    # the conversation is a call record of channel sms, running the flow the keyword names
    rows = served.db("SELECT flow, channel, how FROM calls WHERE caller = ?", TEXTER)
    assert rows == [("sms_quote", "sms", "completed")]


async def test_an_unknown_keyword_gets_the_help_text(served: Server, gateway: HttpGateway) -> None:
    number = "13700137001"
    status, answer = await post(served, "/sms/sms/inbound", {"from": number, "text": "你好", "id": "gw-1002"})
    assert (status, answer["keyword"]) == (200, None)
    [reply] = await eventually(lambda: texts_to(gateway, number))
    assert reply.startswith("发送 HQ+六位代码查询行情")


async def test_a_receipt_flips_a_sent_message_to_delivered_or_failed(
    served: Server, gateway: HttpGateway
) -> None:
    numbers = ("13600136001", "13600136002")
    ids = []
    for n, number in enumerate(numbers):
        _, answer = await post(
            served, "/sms/sms/inbound", {"from": number, "text": "HQ 000001", "id": f"r{n}"}
        )
        ids.append(answer["reply"])

    def sent() -> bool:
        found = [httpx.get(served.url(f"/messages/{i}")).json()["message"]["status"] for i in ids]
        return found == ["sent", "sent"]

    await eventually(sent)  # the receipt comes after the gateway took the message
    assert await post(served, "/sms/sms/receipt", {"id": ids[0], "status": "DELIVRD"}) == (
        200,
        {"message": ids[0], "status": "delivered"},
    )
    status, _ = await post(
        served, "/sms/sms/receipt", {"id": ids[1], "status": "UNDELIV", "reason": "absent"}
    )
    assert status == 200
    failed = (await served.get(f"/messages/{ids[1]}"))["message"]
    assert failed["status"] == "failed" and "UNDELIV (absent)" in failed["last_error"]
    assert (await served.get(f"/messages/{ids[0]}"))["message"]["status"] == "delivered"
    # an id the outbox does not know is ignored (and logged), not an error the gateway retries
    status, ignored = await post(served, "/sms/sms/receipt", {"id": "nope", "status": "DELIVRD"})
    assert status == 200 and "ignored" in ignored


@pytest.mark.parametrize(
    ("path", "body", "secret", "expected"),
    [
        ("/sms/sms/inbound", {"from": TEXTER, "text": "HQ 600519", "id": "x1"}, "wrong", 401),
        ("/sms/sms/inbound", {"from": TEXTER, "text": "HQ 600519", "id": "x2"}, None, 401),
        ("/sms/sms/inbound", b"not json", SECRET, 400),
        ("/sms/sms/inbound", [1, 2], SECRET, 400),
        ("/sms/sms/inbound", {"text": "HQ 600519", "id": "x3"}, SECRET, 400),
        ("/sms/sms/inbound", {"from": "not a number", "text": "HQ", "id": "x4"}, SECRET, 400),
        ("/sms/sms/receipt", {"status": "DELIVRD"}, SECRET, 400),
        ("/sms/email/inbound", {"from": TEXTER, "text": "HQ", "id": "x5"}, SECRET, 404),
        ("/sms/sms/outbound", {}, SECRET, 404),
    ],
    ids=[
        "wrong-secret",
        "no-secret",
        "not-json",
        "not-an-object",
        "no-from",
        "bad-from",
        "no-id",
        "not-an-sms-channel",
        "no-such-hook",
    ],
)
async def test_a_bad_webhook_request_gets_a_clear_4xx(
    served: Server, path: str, body: object, secret: str | None, expected: int
) -> None:
    status, answer = await post(served, path, body, secret=secret)
    assert status == expected and answer["error"], answer


CAMPAIGN_SERVICE = """\
service: bank
languages: [en]
trunks:
  carrier: {gateway: 127.0.0.1:5090, channels: 10, caller_id: "95500"}
campaigns:
  reminder: {flow: reminder, trunk: carrier, contacts: {csv: contacts.csv}}
"""
CAMPAIGN_FLOW = """\
flow: reminder
languages: [en]
outbound:
  contact: {name: {type: string}}
start: bye
nodes:
  bye: {type: hangup, prompt: "Your statement is ready."}
"""


async def test_stop_puts_the_number_on_the_do_not_call_list_a_campaign_run_honours(
    served: Server, gateway: HttpGateway, tmp_path: Path
) -> None:
    number, other = "13500135000", "13500135001"
    status, answer = await post(served, "/sms/sms/inbound", {"from": number, "text": "td", "id": "stop-1"})
    assert (status, answer["keyword"]) == (200, "TD")
    [reply] = await eventually(lambda: texts_to(gateway, number))
    assert reply.startswith("您已退订")
    # the server's campaigns (the brokerage has trunks) know at once ...
    assert (await served.get("/campaigns/do-not-call"))["numbers"] >= 1
    # ... and the list is the tenant's campaign store, which every run loads: a run with the
    # number skips it and calls the other one
    (tmp_path / "service.yaml").write_text(CAMPAIGN_SERVICE)
    (tmp_path / "reminder.yaml").write_text(CAMPAIGN_FLOW)
    (tmp_path / "contacts.csv").write_text("phone,name\n")
    project, problems = load_project([tmp_path])
    assert not [p for p in problems if p.is_error], problems
    dialer = ScriptedDialer(lambda request: Answer("answered"))
    clock = VirtualWallClock(datetime(2026, 3, 2, 2, 0, tzinfo=UTC))
    ports = CallPorts(FixtureOperations({}), MemoryChannels(), ScriptedRouting(), MemoryCallRecords(), clock)
    contacts = [Contact("c1", number, {"name": "Li"}), Contact("c2", other, {"name": "Wang"})]
    async with (
        open_sqlite_campaign_store(served.data_dir / "campaigns.sqlite3") as store,
        open_campaigns(project, store, dialer, Engine(project, ports), clock, tick=0.05) as runner,
    ):
        await runner.create("reminder", contacts, "after-stop")
        await runner.control("after-stop", "start")
        with trio.fail_after(30):
            while runner.progress("after-stop").state != "completed":
                await runner.wait_changed()
        progress = runner.progress("after-stop")
    assert progress.contact_states == {"do_not_call": 1, "done": 1}
    assert dict(dialled_numbers(dialer)) == {other: 1}
