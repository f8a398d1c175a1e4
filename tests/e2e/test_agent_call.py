"""End to end, as a call center runs: `ivr serve` (subprocess) with the ACD and the agent
desktop, a sipp caller keying through the brokerage flows, the agent's phone a sipp UAS, the
desktop in headless Chromium or on the CTI WebSocket. Everything on 127.0.0.1.

1. A VIP logs in by PIN, asks for an agent from the account menu and waits (announcement,
   hold music) until the agent goes ready on the desktop; the phone gets the INVITE with the
   call data, the desktop pops the screen (account, never the PIN), the two talk, the agent
   hangs up on the desktop and saves a disposition; the call record has the agent, the
   conversation's recording and the disposition.
2. With the agent not ready, a standard caller and then a VIP wait; when the agent goes
   ready the VIP is offered first, then the earlier standard caller.
"""

from __future__ import annotations

import json
import math
import sqlite3
import wave
from array import array
from pathlib import Path
from typing import Any

import httpx
import trio
from browser_support import open_browser
from e2e_support import (
    AGENT,
    PASSWORD,
    STANDARD,
    VIP,
    VIP_ACCOUNT,
    VIP_PIN,
    Desktop,
    E2e,
    ended,
    health_until,
    invite_headers,
    live_call,
    press,
    start_agent_phone,
)
from hosting_support import open_rtp_peer, start_caller
from trio_websocket import open_websocket_url

from ivr.adapters.hosting.queues import announcement
from ivr.adapters.speech.espeak import EspeakRenderer
from ivr.runtime.acd import Position
from ivr.runtime.ports import QueueRequest


async def test_a_vip_keys_through_to_the_agent_desktop_and_the_record_has_it_all(
    e2e: E2e, chromium: str, tmp_path: Path
) -> None:
    server = e2e.server
    caller_peer, agent_peer = await open_rtp_peer(), await open_rtp_peer()
    async with trio.open_nursery() as nursery, open_browser(chromium) as browser:
        nursery.start_soon(caller_peer.receive_forever)
        nursery.start_soon(agent_peer.receive_forever)
        phone, messages = start_agent_phone(nursery, e2e.phone_port, agent_peer.port, tmp_path / "phone")
        desk = await browser.desk(server.url(""))
        await desk.log_in(AGENT, PASSWORD)
        await health_until(server, lambda h: h["agents"].get("not_ready") == 1)

        keys = {"caller": VIP, "rtp_port": str(caller_peer.port)}
        caller = start_caller(
            nursery, server, "uac_until_bye.xml", tmp_path / "caller", keys=keys, timeout=80
        )
        call_id = (await live_call(server, VIP))["id"]
        steps = [("choose_language", "2"), ("main_menu", "2"), ("use_known", "1")]
        steps += [("ask_pin", f"{VIP_PIN}#"), ("account_menu", "0")]
        await press(server, caller_peer, call_id, steps)
        await health_until(server, lambda h: h["queues"]["vip"]["waiting"] == 1)
        queued = trio.current_time()
        await trio.sleep(3.0)  # the caller waits: the announcement, then music
        await desk.click("#ready")

        card = desk.card(call_id)
        await desk.expect(f"{card} .status", attribute=("data-status", "talking"))
        await desk.expect(f"{card} .facts", contains=VIP_ACCOUNT)
        texts = {"facts": await desk.text(f"{card} .facts"), "screen": await desk.text(f"{card} .screen")}
        with trio.fail_after(10):
            await agent_peer.first_packet.wait()
        talked = trio.current_time()
        async with trio.open_nursery() as talk:
            talk.start_soon(lambda: caller_peer.send_tone(1.5, frequency=700))
            talk.start_soon(lambda: agent_peer.send_tone(1.5, frequency=1100))
        texts["page"] = await desk.text("body")
        await desk.click(f"{card} .hangup")
        form = desk.form(call_id)
        await desk.do(lambda page: page.select_option(f"{form} .disposition", "resolved"))
        await desk.fill(f"{form} .notes", "Asked about his gold-tier fees")
        await desk.do(lambda page: page.uncheck(f"{form} .wrapup-ready"))
        await desk.click(f"{form} button[type=submit]")
        await desk.expect("#notice", text="处理结果已保存")
        await desk.expect_state("not_ready")  # "ready for the next call" was unticked
        await phone.wait_ok(timeout=20)  # the agent's phone got its BYE
        await caller.wait_ok(timeout=20)  # the caller heard goodbye and got the IVR's BYE
        nursery.cancel_scope.cancel()

    # The caller heard the queue (the announcement, in English like the flow) and the agent.
    assert caller_peer.voiced(queued, queued + 3.0) >= 50
    assert _rendered(e2e.tts, "en") and not _rendered(e2e.tts, "zh")
    assert (server.data_dir / "hold-music.wav").is_file()  # generated at start-up
    assert caller_peer.voiced(talked, talked + 1.5) >= 25, "the agent's voice did not reach the caller"
    assert agent_peer.voiced(talked, talked + 2.5) >= 25, "the caller's voice did not reach the agent"
    # The phone rang with the call data, and no secret.
    [invite] = invite_headers(messages)
    assert invite["X-IVR-Call"] == call_id and invite["X-IVR-Queue"] == "vip"
    assert invite["X-IVR-Caller"] == VIP and invite["P-Asserted-Identity"].endswith(f"<sip:{VIP}@127.0.0.1>")
    assert invite["From"].startswith(f'"张伟" <sip:{VIP}@127.0.0.1>')  # the phone shows the caller, not "ivr"
    assert f"account={VIP_ACCOUNT}" in invite["X-IVR-Screen"] and "vip_tier=gold" in invite["X-IVR-Screen"]
    assert VIP_PIN not in messages.read_text(errors="replace")
    # The screen pop showed what the IVR collected, as words, and never the PIN.
    assert VIP_ACCOUNT in texts["facts"] and "金卡" in texts["facts"] and "已验证" in texts["facts"]
    assert "英语" in texts["facts"] and "account_menu agent" in texts["screen"]  # language, IVR path
    assert VIP_PIN not in texts["page"] and "pin" not in texts["screen"].lower()
    # The call record: the queue, the agent, the recording, the disposition.
    call = await ended(server, call_id)
    assert call["caller"] == VIP and call["how"] == "completed"
    assert (call["agent"], call["disposition"]) == (AGENT, "resolved")
    events = server.events(call_id)
    kinds = [kind for kind, _, _ in events]
    queue = next(d for k, n, d in events if k == "queue")
    assert queue["queue"] == "vip" and queue["outcome"] == "completed"
    assert {"agent": AGENT, "queue": "vip"} in [d for k, _, d in events if k == "agent_connected"]
    assert kinds.index("agent_offered") < kinds.index("agent_connected") < kinds.index("agent_call_ended")
    [wrapup] = [d for k, _, d in events if k == "agent_wrapup"]
    assert wrapup["disposition"] == "resolved" and wrapup["notes"] == "Asked about his gold-tier fees"
    trace = await server.get(f"/calls/{call_id}/trace")
    assert "agent_wrapup" in [e["kind"] for e in trace["events"]]  # saved after the hang-up
    [(path, meta)] = server.db("SELECT path, metadata FROM recordings WHERE call_id = ?", call_id)
    assert json.loads(meta)["kind"] == "agent" and json.loads(meta)["agent"] == AGENT
    assert Path(path).parent == server.data_dir / "recordings" / "agents" and _wav_rms(Path(path)) > 300
    journal = sqlite3.connect(server.data_dir / "agent-journal.sqlite3")
    try:
        lines = journal.execute("SELECT kind, extension, detail FROM agent_journal").fetchall()
    finally:
        journal.close()
    assert ("login", AGENT, '{"via": "http"}') in lines  # the agents' journal, on disk
    assert any(kind == "state" and '"reason": "break"' in detail for kind, _, detail in lines)
    metrics = await server.get("/metrics")
    assert 'ivr_queue_answered_total{queue="vip"} 1' in metrics
    assert 'ivr_agents{state="not_ready"} 1' in metrics


async def test_a_vip_waiting_is_offered_before_an_earlier_standard_caller(e2e: E2e, tmp_path: Path) -> None:
    server = e2e.server
    agent_peer = await open_rtp_peer()
    peers = {STANDARD: await open_rtp_peer(), VIP: await open_rtp_peer()}
    async with trio.open_nursery() as nursery:
        nursery.start_soon(agent_peer.receive_forever)
        for peer in peers.values():
            nursery.start_soon(peer.receive_forever)
        phone, messages = start_agent_phone(
            nursery, e2e.phone_port, agent_peer.port, tmp_path / "phone", calls=2
        )
        async with httpx.AsyncClient() as http:
            login = await http.post(server.url("/cti/login"), json={"extension": AGENT, "password": PASSWORD})
        ws_url = server.url("/cti/ws").replace("http://", "ws://")
        async with open_websocket_url(ws_url) as ws:
            desk = Desktop(ws)
            await desk.command("login", token=login.json()["token"])
            await desk.command("state", state="not_ready")  # busy with something else

            callers = {}
            for number, queue, steps in (
                (STANDARD, "general", [("choose_language", "2"), ("main_menu", "0")]),
                (VIP, "vip", [("choose_language", "2"), ("main_menu", "0")]),
            ):
                keys = {"caller": number, "rtp_port": str(peers[number].port)}
                workdir = tmp_path / number
                callers[number] = start_caller(
                    nursery, server, "uac_until_bye.xml", workdir, keys=keys, timeout=60
                )
                call_id = (await live_call(server, number))["id"]
                await press(server, peers[number], call_id, steps)
                await health_until(server, lambda h, q=queue: h["queues"][q]["waiting"] == 1)

            await desk.command("state", state="ready")
            screens: list[dict[str, Any]] = []
            offered = []
            for _ in callers:
                offer = await desk.event("offered")
                offered.append((offer["screen"]["caller"], offer["queue"]))
                screens.append(offer["screen"])
                await desk.event("connected")
                await desk.command("hangup", call_id=offer["call_id"])
                await desk.event("ended")
                await desk.command("wrapup", call_id=offer["call_id"], disposition="resolved", ready=True)
            await desk.command("state", state="not_ready")
        for sipp in callers.values():
            await sipp.wait_ok(timeout=20)
        await phone.wait_ok(timeout=20)
        nursery.cancel_scope.cancel()

    assert offered == [(VIP, "vip"), (STANDARD, "general")]
    # Recognised by caller ID without a PIN: the account is there, marked as not verified.
    assert (screens[0]["account"], screens[0]["verified"]) == (VIP_ACCOUNT, False)
    assert screens[0]["ivr_path"] == ["main.choose_language:2", "main.main_menu:agent"]
    assert [h["X-IVR-Caller"] for h in invite_headers(messages)] == [VIP, STANDARD]


def _rendered(tts: Path, language: str) -> bool:
    """Whether an announcement of position 1 was rendered in `language`."""
    espeak = EspeakRenderer(tts)
    request = QueueRequest("vip", (), 10, {}, None, language=language)
    for seconds in range(0, 600, 60):
        prompt = announcement(Position(request, 1, seconds))
        if (tts / f"{espeak.cache_key(prompt.text, language)}.wav").exists():
            return True
    return False


def _wav_rms(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        samples = array("h", w.readframes(w.getnframes()))
    return math.sqrt(sum(s * s for s in samples) / max(1, len(samples)))
