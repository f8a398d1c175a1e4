"""End to end, an order an agent takes for a caller (`ivr serve`, a sipp caller, the agent's
phone a sipp UAS, the desktop on the CTI WebSocket; the brokerage module's back office):
Li Na presses 0, the agent sends her into the trading-PIN check, she keys the PIN there
(the agent neither hears nor gets it), comes back verified to the same agent, who looks a
code up, reads the order back and places it. The order is on the call record with the
conversation's recording, a two-channel WAV (caller left, agent right) whose metadata names
the order, and where the PIN check is silent on both channels."""

from __future__ import annotations

import io
import json
import sqlite3
import wave
from pathlib import Path

import httpx
import trio
from e2e_support import (
    AGENT,
    BOB,
    BOB_PASSWORD,
    PASSWORD,
    STANDARD,
    Desktop,
    E2e,
    live_call,
    press,
    start_agent_phone,
)
from hosting_support import open_rtp_peer, start_caller
from sip_support import channels, hears, tone_frames, tones
from trio_websocket import open_websocket_url

from ivr.adapters.storage import reads

ACCOUNT, PIN = "31000002", "314159"  # Li Na's (docs/brokerage.md)
CALLER_VOICE, AGENT_VOICE, DURING_PIN = 700.0, 1100.0, 500.0  # Hz


async def test_an_agent_has_the_caller_key_the_pin_in_a_flow_then_places_an_order_that_leads_to_its_recording(
    e2e: E2e, tmp_path: Path
) -> None:
    server = e2e.server
    caller_peer, agent_peer = await open_rtp_peer(), await open_rtp_peer()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(caller_peer.receive_forever)
        nursery.start_soon(agent_peer.receive_forever)
        phone, _ = start_agent_phone(nursery, e2e.phone_port, agent_peer.port, tmp_path / "phone")
        async with httpx.AsyncClient() as http:
            login = await http.post(server.url("/cti/login"), json={"extension": AGENT, "password": PASSWORD})
        async with open_websocket_url(server.url("/cti/ws").replace("http://", "ws://")) as ws:
            desk = Desktop(ws)
            logged_in = await desk.command("login", token=login.json()["token"])
            assert [f["name"] for f in logged_in["desk"]["flows"]] == [
                "agent_pin",
                "order_readback",
                "survey",
            ]
            assert logged_in["desk"]["orders"] == {"readback_flow": "order_readback"}
            await desk.command("state", state="ready")

            keys = {"caller": STANDARD, "rtp_port": str(caller_peer.port)}
            caller = start_caller(
                nursery, server, "uac_until_bye.xml", tmp_path / "caller", keys=keys, timeout=90
            )
            call_id = (await live_call(server, STANDARD))["id"]
            await press(server, caller_peer, call_id, [("choose_language", "2"), ("main_menu", "0")])
            offer = await desk.event("offered")
            assert (offer["call_id"], offer["screen"]["account"], offer["screen"]["verified"]) == (
                call_id,
                ACCOUNT,
                False,
            )
            await desk.event("connected")
            with trio.fail_after(10):
                await agent_peer.first_packet.wait()
            await trio.sleep(0.3)
            await caller_peer.send_tone(1.0, frequency=CALLER_VOICE)
            await trio.sleep(0.3)
            await agent_peer.send_tone(1.0, frequency=AGENT_VOICE)

            await desk.command("flow", call_id=call_id, flow="agent_pin")
            in_flow = trio.current_time()
            await press(server, caller_peer, call_id, [("ask_pin", "")])
            await caller_peer.send_tone(1.0, frequency=DURING_PIN)  # whatever is said while keying
            await caller_peer.send_dtmf(f"{PIN}#")
            await caller_peer.send_tone(1.0, level=0)  # a phone goes on sending audio (here silence)
            result = await desk.event("flow_result")
            back = trio.current_time()
            assert (result["flow"], result["outcome"]) == ("agent_pin", "verified")
            assert result["outputs"] == {"verified": True, "verified_account": ACCOUNT}

            quote = (await desk.command("quote", call_id=call_id, code="601318"))["quote"]
            order = {"side": "buy", "code": "601318", "qty": 100, "price": quote["last"]}
            checked = await desk.command("check_order", call_id=call_id, **order)
            assert checked["verdict"]["ok"] and "中国平安" in checked["readback"]["zh"], checked
            placed = await desk.command(
                "place_order", call_id=call_id, key="e2e-order-0001", readback="agent", **order
            )
            assert placed["verdict"]["ok"] and placed["recorded"], placed
            order_no, recording_id = placed["verdict"]["order_no"], placed["recording"]

            await desk.command("hangup", call_id=call_id)
            await desk.event("ended")
            await desk.command("wrapup", call_id=call_id, disposition="order_placed", ready=False)
        await phone.wait_ok(timeout=20)
        await caller.wait_ok(timeout=20)
        nursery.cancel_scope.cancel()

    # The agent heard nothing of the PIN check: no keys, no voice.
    assert tones(agent_peer, in_flow) == ""
    assert hears(agent_peer, (in_flow, back), DURING_PIN) == 0
    # The order is on the caller's record with the conversation's recording, never the PIN.
    events = server.events(call_id)
    [line] = [detail for kind, _, detail in events if kind == "agent_order"]
    assert (line["order_no"], line["account"], line["recording"], line["readback"]) == (
        order_no,
        ACCOUNT,
        recording_id,
        "agent",
    )
    flow_events = [(d["phase"], d.get("outcome")) for k, _, d in events if k == "agent_flow"]
    assert flow_events == [("started", None), ("ended", "verified")]
    assert PIN not in json.dumps([detail for _, _, detail in events], ensure_ascii=False)
    # From the order to its recording: two channels, caller left, agent right, the PIN check silent.
    conn = sqlite3.connect(server.data_dir / "calls.sqlite3")  # beside the running server's writer
    try:
        [stored] = reads.order_recordings(conn, order_no)
    finally:
        conn.close()
    assert (stored.call_id, stored.recording.recording_id) == (call_id, recording_id)
    assert stored.metadata["orders"] == [order_no] and stored.metadata["channels"] == 2
    assert stored.recording.path is not None
    async with httpx.AsyncClient() as http:  # the record's recording id plays over HTTP
        played = await http.get(server.url(f"/recordings/{recording_id}"))
    assert played.status_code == 200
    with wave.open(io.BytesIO(played.content)) as heard:
        assert (heard.getnchannels(), heard.getframerate()) == (2, 8000)
    left, right = channels(Path(stored.recording.path))
    assert len(tone_frames(left, CALLER_VOICE)) > 35 and len(tone_frames(right, CALLER_VOICE)) < 3
    assert len(tone_frames(right, AGENT_VOICE)) > 35 and len(tone_frames(left, AGENT_VOICE)) < 3
    assert len(tone_frames(left, DURING_PIN)) < 3 and len(tone_frames(right, DURING_PIN)) < 3
    # A supervisor finds it from the order's number on the supervisor pages and plays it; the
    # listen is in the audit log (docs/reports.md).
    async with httpx.AsyncClient(base_url=server.url("")) as http:
        login = await http.post("/supervisor/api/login", json={"extension": BOB, "password": BOB_PASSWORD})
        assert login.status_code == 200, login.text
        found = (await http.get("/supervisor/api/recordings", params={"order": order_no})).json()
        assert [(r["id"], r["call_id"]) for r in found["recordings"]] == [(recording_id, call_id)]
        audio = await http.get(
            f"/supervisor/api/recordings/{recording_id}/audio", headers={"range": "bytes=0-"}
        )
        assert audio.status_code == 206 and audio.content == played.content
        [line, *_] = (await http.get("/supervisor/api/audit")).json()["audit"]
        assert (line["kind"], line["by"], line["recording"]) == ("recording_played", BOB, recording_id)
