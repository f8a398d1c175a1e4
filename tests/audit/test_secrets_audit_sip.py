"""Secrets audit over SIP: `ivr serve` (subprocess, DEBUG logs, whole-call recording, the
ACD with an agent phone and the desktop) takes a sipp call whose caller keys a wrong trading
PIN, the right one and the fund PIN by RFC 2833, with the phone also sounding each PIN in
band. Afterwards no trace of any PIN is anywhere: the server's log, any file under its data
folder (every database row and the raw database and WAL files, the outbox, the recordings),
the HTTP API (trace, recent calls, metrics, health), the desktop's screen pop and events,
the SIP messages that rang the agent's phone. Each recording is silent through every secret
entry (its samples are checked) and no DTMF can be decoded from any of them.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from audit_support import Evidence, Phone, dtmf_digits, peak, wav_samples

pytest.importorskip("pjsua2", reason="pjsua2 is not installed: bash scripts/build-pjsua2.sh .venv")

from e2e_support import AGENT, PASSWORD, at_node, live_call, start_agent_phone, start_e2e_server
from hosting_support import ROOT, Server, environment_ready, open_rtp_peer, start_caller
from trio_websocket import WebSocketConnection, open_websocket_url

from ivr.adapters.hosting.metrics import Metrics
from ivr.adapters.hosting.prompts import CachedRenderer, static_prompts
from ivr.adapters.speech.espeak import EspeakRenderer
from ivr.flowlang.project import load_project

pytestmark = [pytest.mark.sip, pytest.mark.slow]

CALLER, ACCOUNT = "13800138000", "31000001"  # the demo data's gold VIP
WRONG_PIN, TRADING_PIN, FUND_PIN = "468024", "135790", "246813"
SECRETS = {"ask_pin": (WRONG_PIN, TRADING_PIN), "ask_fund_pin": (FUND_PIN,)}

# (node to wait for, keys): English; login with a wrong PIN first; a bank transfer behind
# the fund PIN; a statement by SMS (the outbox); then an agent (the screen pop). An empty
# key string only waits, so that a node met twice is met again.
STEPS = [
    ("choose_language", "2"),
    ("main_menu", "5"),
    ("funds_menu", "1"),  # transfers (2 and 3: a lost card or passbook, without the login)
    ("use_known", "1"),
    ("ask_pin", WRONG_PIN + "#"),
    ("try_again", ""),
    ("ask_pin", TRADING_PIN + "#"),
    ("transfer_menu", "1"),
    ("ask_fund_pin", FUND_PIN + "#"),
    ("ask_amount", "100#"),
    ("confirm_transfer", "1"),
    ("transferred", ""),
    ("transfer_menu", "9"),
    ("main_menu", "2"),
    ("account_menu", "4"),
    ("statement_menu", "3"),
    ("sms_queued", ""),  # the SMS is queued: the prompt says "will be sent"
    ("account_menu", "0"),
]
TALK_AT = {"choose_language", "transfer_menu", "account_menu"}  # the caller speaks first there


async def caller_keys_through(server: Server, phone: Phone, call_id: str) -> None:
    for node, keys in STEPS:
        await at_node(server, call_id, node, timeout=40)
        if node in TALK_AT:
            await phone.talk(1.0)
        if node in SECRETS:
            await phone.keys_in_band(keys.rstrip("#"))
        await phone.keys(keys)


async def desktop(ws: WebSocketConnection, heard: list[dict[str, Any]]) -> None:
    """Agent 8001 goes ready, takes the call, talks, hangs up and files the wrap-up."""
    sent = 0

    async def command(name: str, **fields: object) -> None:
        nonlocal sent
        sent += 1
        await ws.send_message(json.dumps({"id": sent, "command": name, **fields}))

    await command("state", state="ready")
    while True:
        message = json.loads(await ws.get_message())
        heard.append(message)
        if message.get("event") == "connected":
            await trio.sleep(1.5)
            await command("hangup", call_id=message["call_id"])
        elif message.get("event") == "ended":
            await command(
                "wrapup", call_id=message["call_id"], disposition="resolved", notes="Asked about fees"
            )
            await command("state", state="not_ready")
            for _ in range(2):  # the replies
                heard.append(json.loads(await ws.get_message()))
            return


async def prerender(tts: Path) -> None:
    """Render the flows' static prompts into the server's cache first: on a busy machine
    espeak-ng may take longer than the server's start-up check allows."""
    project, _ = load_project([ROOT / "flows"])
    await CachedRenderer(EspeakRenderer(tts), Metrics()).prerender(static_prompts(project))


def secret_spans(server: Server, call_id: str) -> list[tuple[float, float]]:
    """Seconds from the call's start to the start and the end of each secret entry."""
    [(started,)] = server.db("SELECT started_at FROM calls WHERE call_id = ?", call_id)
    rows = server.db("SELECT kind, node, at, detail FROM events WHERE call_id = ? ORDER BY seq", call_id)
    t0 = datetime.fromisoformat(started)
    spans, opened = [], None
    for kind, node, at, detail in rows:
        seconds = (datetime.fromisoformat(at) - t0).total_seconds()
        if kind == "node_entered" and node in SECRETS:
            opened = seconds
        elif kind == "input" and node in SECRETS and opened is not None:
            assert json.loads(detail).get("value") == "***"
            spans.append((opened, seconds))
            opened = None
    return spans


async def test_no_pin_anywhere_after_a_call_over_sip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if problem := environment_ready():
        pytest.skip(problem)
    monkeypatch.setenv("IVR_BROKERAGE_ALWAYS_OPEN", "1")  # transfers at any hour
    await prerender(tmp_path / "served" / "tts")
    e2e = start_e2e_server(tmp_path / "served", "--record-calls", "--log-level", "DEBUG")
    server = e2e.server
    heard: list[dict[str, Any]] = []
    answers: dict[str, bytes] = {}
    try:
        caller_peer, agent_peer = await open_rtp_peer(), await open_rtp_peer()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(caller_peer.receive_forever)
            nursery.start_soon(agent_peer.receive_forever)
            phone, messages = start_agent_phone(nursery, e2e.phone_port, agent_peer.port, tmp_path / "phone")
            async with httpx.AsyncClient() as http:
                login = await http.post(
                    server.url("/cti/login"), json={"extension": AGENT, "password": PASSWORD}
                )
            ws_url = server.url("/cti/ws").replace("http://", "ws://")
            async with open_websocket_url(ws_url) as ws:
                await ws.send_message(
                    json.dumps({"id": "in", "command": "login", "token": login.json()["token"]})
                )
                heard.append(json.loads(await ws.get_message()))
                keys = {"caller": CALLER, "rtp_port": str(caller_peer.port)}
                caller = start_caller(
                    nursery, server, "uac_until_bye.xml", tmp_path / "caller", keys=keys, timeout=150
                )
                call_id = (await live_call(server, CALLER, timeout=20))["id"]
                async with trio.open_nursery() as call:
                    call.start_soon(caller_keys_through, server, Phone(caller_peer), call_id)
                    call.start_soon(desktop, ws, heard)
            await caller.wait_ok(timeout=60)
            await phone.wait_ok(timeout=30)
            nursery.cancel_scope.cancel()
        recent = await server.recent_call(CALLER)
        for path in ("/health", "/metrics", "/calls", "/calls/recent?n=200", f"/calls/{call_id}/trace"):
            async with httpx.AsyncClient(timeout=10) as http:
                answers[path] = (await http.get(server.url(path))).content
        spans = secret_spans(server, call_id)
    finally:
        assert server.stop() == 0, server.output()

    assert recent["id"] == call_id and recent["how"] == "completed", recent
    evidence = Evidence()
    evidence.add("server log (DEBUG)", server.log.read_bytes())
    evidence.add_files(server.data_dir)
    for path, body in answers.items():
        evidence.add(f"HTTP {path}", body)
    evidence.add("desktop messages", "\n".join(json.dumps(m, ensure_ascii=False) for m in heard))
    evidence.add("agent phone's SIP messages", messages.read_bytes())

    # the call went where the audit needs it: three secret entries, the transfer, the SMS,
    # the screen pop (which shows the account: the audit sees and searches it)
    assert len(spans) == 3, spans
    trace = json.loads(answers[f"/calls/{call_id}/trace"])
    assert [e["detail"]["channel"] for e in trace["events"] if e["kind"] == "message"] == ["sms"]
    assert any(e["node"] == "transferred" for e in trace["events"] if e["kind"] == "node_entered")
    [offered] = [m for m in heard if m.get("event") == "offered"]
    assert offered["screen"]["account"] == ACCOUNT and evidence.hits(ACCOUNT)

    for secret in (WRONG_PIN, TRADING_PIN, FUND_PIN):
        assert evidence.hits(secret) == [], secret

    recordings = server.db("SELECT path, metadata FROM recordings WHERE call_id = ?", call_id)
    kinds = sorted(json.loads(meta)["kind"] for _, meta in recordings)
    assert kinds == ["agent", "call"], recordings
    for path, meta in recordings:
        samples, rate = wav_samples(Path(path))
        assert dtmf_digits(samples, rate) == "", f"keypad tones in {path}"
        if json.loads(meta)["kind"] == "call":
            assert peak(samples, rate, 0, len(samples) / rate) > 2000, "the caller's voice is recorded"
            for start, end in spans:  # silent through each secret entry (0.3 s of slack)
                assert peak(samples, rate, start + 0.3, end - 0.3) < 300, (start, end)
