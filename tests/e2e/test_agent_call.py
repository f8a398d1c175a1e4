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
import wave
from array import array
from pathlib import Path
from typing import Any

import httpx
import trio
from e2e_support import (
    AGENT,
    PASSWORD,
    STANDARD,
    VIP,
    VIP_ACCOUNT,
    VIP_PIN,
    Desk,
    E2e,
    health_until,
    invite_headers,
    live_call,
    press,
    start_agent_phone,
)
from hosting_support import open_rtp_peer, start_caller
from trio_websocket import WebSocketConnection, open_websocket_url

from ivr.adapters.hosting.queues import announcement
from ivr.adapters.speech.espeak import EspeakRenderer
from ivr.runtime.acd import Position
from ivr.runtime.ports import QueueRequest


async def _until(event: Any, timeout: float) -> None:
    """Wait for a `threading.Event` without blocking trio."""
    with trio.fail_after(timeout):
        while True:
            if event.is_set():
                return
            await trio.sleep(0.05)


async def test_a_vip_keys_through_to_the_agent_desktop_and_the_record_has_it_all(
    e2e: E2e, chromium: str, tmp_path: Path
) -> None:
    server = e2e.server
    desk = Desk(chromium, server.url(""), tmp_path / "profile")
    caller_peer, agent_peer = await open_rtp_peer(), await open_rtp_peer()
    desktop_done = trio.Event()
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(caller_peer.receive_forever)
            nursery.start_soon(agent_peer.receive_forever)
            phone, messages = start_agent_phone(nursery, e2e.phone_port, agent_peer.port, tmp_path / "phone")

            async def desktop() -> None:
                await trio.to_thread.run_sync(desk.drive, abandon_on_cancel=True)
                desktop_done.set()

            nursery.start_soon(desktop)
            await _until(desk.logged_in, 30)
            await health_until(server, lambda h: h["agents"].get("not_ready") == 1)

            keys = {"caller": VIP, "rtp_port": str(caller_peer.port)}
            workdir = tmp_path / "caller"
            caller = start_caller(nursery, server, "uac_until_bye.xml", workdir, keys=keys, timeout=80)
            call_id = (await live_call(server, VIP))["id"]
            steps = [("choose_language", "2"), ("main_menu", "2"), ("use_known", "1")]
            steps += [("ask_pin", f"{VIP_PIN}#"), ("account_menu", "0")]
            await press(server, caller_peer, call_id, steps)
            await health_until(server, lambda h: h["queues"]["vip"]["waiting"] == 1)
            queued = trio.current_time()
            await trio.sleep(3.0)  # the caller waits: the announcement, then music
            desk.go_ready.set()

            await _until(desk.talking, 20)
            with trio.fail_after(10):
                await agent_peer.first_packet.wait()
            talked = trio.current_time()
            async with trio.open_nursery() as talk:
                talk.start_soon(lambda: caller_peer.send_tone(1.5, frequency=700))
                talk.start_soon(lambda: agent_peer.send_tone(1.5, frequency=1100))
            desk.hang_up.set()
            with trio.fail_after(30):
                await desktop_done.wait()
            await phone.wait_ok(timeout=20)  # the agent's phone got its BYE
            await caller.wait_ok(timeout=20)  # the caller heard goodbye and got the IVR's BYE
            nursery.cancel_scope.cancel()
    finally:
        desk.stop.set()

    # The caller heard the queue (the announcement, in English like the flow) and the agent.
    assert caller_peer.voiced(queued, queued + 3.0) >= 50
    assert _rendered(e2e.tts, "en") and not _rendered(e2e.tts, "zh")
    assert (server.data_dir / "hold-music.wav").is_file()  # generated at start-up
    assert caller_peer.voiced(talked, talked + 1.5) >= 25, "the agent's voice did not reach the caller"
    assert agent_peer.voiced(talked, talked + 2.5) >= 25, "the caller's voice did not reach the agent"
    # The phone rang with the call data, and no secret.
    [invite] = invite_headers(messages)
    assert invite["X-IVR-Call"] == call_id and invite["X-IVR-Queue"] == "vip"
    assert invite["X-IVR-Caller"] == VIP
    assert f"account={VIP_ACCOUNT}" in invite["X-IVR-Screen"] and "vip_tier=gold" in invite["X-IVR-Screen"]
    assert VIP_PIN not in messages.read_text(errors="replace")
    # The screen pop showed what the IVR collected, and never the PIN.
    assert VIP_ACCOUNT in desk.texts["screen"] and "gold" in desk.texts["screen"]
    assert VIP_PIN not in desk.texts["page"] and "pin" not in desk.texts["screen"].lower()
    assert desk.texts["notice"] == "Disposition saved"
    # The call record: the queue, the agent, the recording, the disposition.
    call = await server.recent_call(VIP)
    assert call["id"] == call_id and call["how"] == "completed"
    events = server.events(call_id)
    kinds = [kind for kind, _, _ in events]
    queue = next(d for k, n, d in events if k == "queue")
    assert queue["queue"] == "vip" and queue["outcome"] == "completed"
    assert {"agent": AGENT, "queue": "vip"} in [d for k, _, d in events if k == "agent_connected"]
    assert kinds.index("agent_offered") < kinds.index("agent_connected") < kinds.index("agent_call_ended")
    [wrapup] = [d for k, _, d in events if k == "agent_wrapup"]
    assert wrapup["disposition"] == "resolved" and wrapup["notes"] == "Asked about his gold-tier fees"
    [(path, meta)] = server.db("SELECT path, metadata FROM recordings WHERE call_id = ?", call_id)
    assert json.loads(meta)["kind"] == "agent" and json.loads(meta)["agent"] == AGENT
    assert Path(path).parent == server.data_dir / "recordings" / "agents" and _wav_rms(Path(path)) > 300
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
            offered = []
            for _ in callers:
                offer = await desk.event("offered")
                offered.append((offer["screen"]["caller"], offer["queue"]))
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
    assert [h["X-IVR-Caller"] for h in invite_headers(messages)] == [VIP, STANDARD]


class Desktop:
    """The CTI protocol over a WebSocket, keeping events that arrive while it awaits a reply."""

    def __init__(self, ws: WebSocketConnection) -> None:
        self.ws = ws
        self.pending: list[dict[str, Any]] = []
        self.sent = 0

    async def command(self, command: str, **fields: object) -> dict[str, Any]:
        self.sent += 1
        await self.ws.send_message(json.dumps({"id": self.sent, "command": command, **fields}))
        reply = await self._next(lambda m: m.get("reply") == self.sent, 10)
        assert reply["ok"], reply
        return reply

    async def event(self, name: str, timeout: float = 20) -> dict[str, Any]:
        return await self._next(lambda m: m.get("event") == name, timeout)

    async def _next(self, wanted: Any, timeout: float) -> dict[str, Any]:
        for message in self.pending:
            if wanted(message):
                self.pending.remove(message)
                return message
        with trio.fail_after(timeout):
            while True:
                message = json.loads(await self.ws.get_message())
                if wanted(message):
                    return dict(message)
                self.pending.append(message)


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
