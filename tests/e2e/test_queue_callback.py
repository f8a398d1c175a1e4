"""End to end over SIP: "press 1 to be called back". `ivr serve` with the brokerage flows,
whose trunk points at a sipp UAS (the customer's phone behind the carrier).

A standard caller (sipp UAC) asks for an investment adviser while the only adviser (Bob, on
the CTI WebSocket) is not ready; the queue offers the callback at once (the expected wait
passes a minute), the caller presses 1 (RFC 4733), hears the confirmation and is hung up on
(the call ends as `callback`). Bob goes ready: the ACD reserves him, the carrier gets the
callback INVITE to the caller's number (attempt `CALL-cb1`), the customer answers, Bob's
phone (sipp) rings with the call data, they are bridged, Bob hangs up on the desktop. The
callback journal has each step.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import trio
from e2e_support import BOB, BOB_PASSWORD, STANDARD, Desktop, E2e, ended, invite_headers, live_call, press
from e2e_support import start_agent_phone as start_uas
from hosting_support import open_rtp_peer, start_caller
from trio_websocket import open_websocket_url


async def test_a_caller_keeps_their_place_hangs_up_and_is_called_back_and_bridged_to_the_agent(
    e2e: E2e, tmp_path: Path
) -> None:
    server = e2e.server
    caller_peer, customer_peer, bob_peer = await open_rtp_peer(), await open_rtp_peer(), await open_rtp_peer()
    async with trio.open_nursery() as nursery:
        for peer in (caller_peer, customer_peer, bob_peer):
            nursery.start_soon(peer.receive_forever)
        bob_phone, bob_messages = start_uas(nursery, e2e.phones[BOB], bob_peer.port, tmp_path / "bob")
        customer, carrier_messages = start_uas(
            nursery, e2e.carrier_port, customer_peer.port, tmp_path / "carrier"
        )
        async with httpx.AsyncClient() as http:
            login = await http.post(
                server.url("/cti/login"), json={"extension": BOB, "password": BOB_PASSWORD}
            )
        async with open_websocket_url(server.url("/cti/ws").replace("http://", "ws://")) as ws:
            desk = Desktop(ws)
            await desk.command("login", token=login.json()["token"])
            await desk.command("state", state="not_ready")

            keys = {"caller": STANDARD, "rtp_port": str(caller_peer.port)}
            caller = start_caller(
                nursery, server, "uac_until_bye.xml", tmp_path / "caller", keys=keys, timeout=60
            )
            call_id = (await live_call(server, STANDARD))["id"]
            steps = [("choose_language", "2"), ("main_menu", "6"), ("consulting_menu", "5")]
            await press(server, caller_peer, call_id, steps)
            await steps_until(e2e, call_id, "offered")  # the offer starts playing now
            await caller_peer.send_dtmf("1")
            await caller.wait_ok(timeout=30)  # the server hung up after the confirmation
            assert (await ended(server, call_id))["how"] == "callback"

            await desk.command("state", state="ready")
            offer = await desk.event("offered", timeout=30)
            assert offer["screen"]["callback"] == STANDARD and offer["queue"] == "experts"
            connected = await desk.event("connected", timeout=30)
            assert connected["call_id"] == offer["call_id"] == f"{call_id}-cb1"
            with trio.fail_after(10):
                await customer_peer.first_packet.wait()  # the customer hears the conversation
            await desk.command("hangup", call_id=connected["call_id"])
            await desk.event("ended")
            # leave the shared server as found: Bob logged out (other e2e tests count agents)
            await desk.command("wrapup", call_id=connected["call_id"], disposition="resolved")
            await desk.command("logout")
        await customer.wait_ok(timeout=20)
        await bob_phone.wait_ok(timeout=20)
        nursery.cancel_scope.cancel()

    [invite] = invite_headers(carrier_messages)
    assert STANDARD in invite["To"] and invite["X-IVR-Attempt"] == f"{call_id}-cb1"
    assert len(invite_headers(bob_messages)) == 1
    assert callback_steps(e2e, call_id) == ["offered", "accepted", "dialled", "answered", "connected"]
    trace = await server.get(f"/calls/{call_id}/trace")  # the caller's record has them too
    recorded = [e["detail"]["step"] for e in trace["events"] if e["kind"] == "callback"]
    assert recorded == ["offered", "accepted", "dialled", "answered", "connected"]


def callback_steps(e2e: E2e, call_id: str) -> list[str]:
    """The call's steps in the tenant's callback journal (the agents' journal file)."""
    found: list[str] = []
    for journal in e2e.data.rglob("agent-journal.sqlite3"):
        with sqlite3.connect(journal) as db:
            query = "SELECT step FROM callback_steps WHERE call_id = ? ORDER BY id"
            found += [str(row[0]) for row in db.execute(query, (call_id,))]
    return found


async def steps_until(e2e: E2e, call_id: str, step: str, timeout: float = 20) -> None:
    with trio.fail_after(timeout):
        while True:
            if step in callback_steps(e2e, call_id):
                return
            await trio.sleep(0.02)
