"""A statement asked for on a SIP call to `ivr serve` arrives at an SMTP server as an e-mail
whose PDF holds the account's transactions; the caller hears it was sent only once the
mail server took it, and GET /messages shows the message with its attempt.

A sipp caller keys through the brokerage menus by RFC 4733 DTMF; the mail server is
aiosmtpd in this process; the server's SMTP port comes from IVR_SMTP_PORT (flows/service.yaml).
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio
from hosting_support import RtpPeer, Server, open_rtp_peer, start_caller

sys.path.insert(0, str(Path(__file__).parents[1] / "adapters" / "messaging"))

from gateways import SmtpSink, pdf_text, smtp_sink

from ivr.adapters.brokerage import operations as op
from ivr.adapters.brokerage.db import ENV_VAR

CALLER = "13900139000"  # 李娜, account 31000002, trading PIN 314159


@pytest.fixture
def mail() -> Iterator[SmtpSink]:
    with smtp_sink() as sink:
        yield sink


async def node_of(server: Server, caller: str) -> str | None:
    for call in (await server.get("/calls"))["calls"]:
        if call["caller"] == caller:
            return str(call["node"])
    return None


async def reach(server: Server, node: str, timeout: float = 30.0) -> None:
    with trio.fail_after(timeout):
        for _ in range(100_000):
            if await node_of(server, CALLER) == node:
                return
            await trio.sleep(0.1)


async def key(peer: RtpPeer, server: Server, digits: str, then: str) -> None:
    await peer.send_dtmf(digits)
    await reach(server, then)


@pytest.mark.slow
async def test_a_statement_asked_for_on_a_call_arrives_by_email_with_its_transactions(
    tmp_path: Path, tts_cache: Path, mail: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IVR_SMTP_PORT", str(mail.port))
    monkeypatch.delenv(ENV_VAR, raising=False)
    agents = Path(__file__).parents[2] / "config" / "agents.yaml"  # /messages beside the desktop's routes
    server = Server.start(tmp_path / "served", "--agents", str(agents), tts=tts_cache)
    try:
        peer = await open_rtp_peer()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(peer.receive_forever)
            keys = {"caller": CALLER, "rtp_port": str(peer.port), "hold": "60000"}
            start_caller(nursery, server, "uac_call.xml", tmp_path / "sipp", keys=keys, timeout=90)
            await reach(server, "choose_language")
            await key(peer, server, "121", "ask_pin")  # Mandarin, account, the recognised account
            # the PIN, then (typed ahead) statement, by e-mail; "sent" is said only once the
            # mail server took the message
            await key(peer, server, "314159#41", "email_sent")
            live = next(c for c in (await server.get("/calls"))["calls"] if c["caller"] == CALLER)
            [message] = (await server.get(f"/messages?call={live['id']}"))["messages"]
            detail = await server.get(f"/messages/{message['id']}")
            nursery.cancel_scope.cancel()  # the caller goes away (sipp stops)
    finally:
        server.process.send_signal(signal.SIGTERM)  # drain; the second signal (stop) ends the call
        await trio.sleep(0.5)
        assert server.stop() == 0, server.output()
    assert (message["channel"], message["to"], message["status"], message["attempts"]) == (
        "email", "li.na@example.com", "sent", 1,
    )  # fmt: skip
    assert [a["outcome"] for a in detail["attempts"]] == ["sent"] and detail["attempts"][0]["handed_over"]
    [received] = mail.received
    assert received.rcpt_tos == ["li.na@example.com"] and received.message["X-IVR-Delivery"] == message["id"]
    [(name, pdf)] = received.attachments()
    text = pdf_text(pdf)
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "served" / "brokerage.sqlite3"))
    moves = op.recent_transactions(account="31000002", n=20)["items"]
    assert moves, "the demo account has transactions"
    for move in moves:
        for value in (move["date"], move["code"], move["name"], f"{move['amount']:,.2f}"):
            assert value in text, (value, text)
    assert name.startswith("statement-") and "对账单 Statement" in text and "李娜 Li Na" in text
