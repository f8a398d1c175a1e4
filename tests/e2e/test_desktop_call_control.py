"""Two agents' desktops in Chromium over `ivr serve`, with sipp phones, and a VIP caller from
sipp keying to the VIP queue: hold (music), mute, the keypad, a refused transfer, a consult
transfer to the second agent (whose phone rings with the caller's data), a conference of
three, the first agent leaving it, the second hanging up, and both dispositions. After each
step the desktops are checked in Chromium and the audio at each party's RTP peer."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from browser_support import Desk, open_browser
from e2e_support import (
    AGENT,
    BOB,
    BOB_PASSWORD,
    PASSWORD,
    VIP,
    VIP_ACCOUNT,
    E2e,
    ended,
    health_until,
    invite_headers,
    live_call,
    press,
    start_agent_phone,
)
from hosting_support import RtpPeer, open_rtp_peer, start_caller
from sip_support import hears, tones

CALLER, ALICE, BOBS = 700.0, 1100.0, 900.0  # Hz: each voice can be told apart


async def speak(peer: RtpPeer, frequency: float, seconds: float = 1.0) -> tuple[float, float]:
    start = trio.current_time()
    await peer.send_tone(seconds, frequency=frequency)
    await trio.sleep(0.15)
    return start, trio.current_time()


async def status(desk: Desk, call_id: str, expected: str) -> None:
    await desk.expect(f"{desk.card(call_id)} .status", attribute=("data-status", expected))


@pytest.mark.slow
async def test_hold_mute_keypad_consult_conference_and_hand_over_on_two_desktops(
    e2e: E2e, chromium: str, tmp_path: Path
) -> None:
    server = e2e.server
    caller_peer, alice_peer, bob_peer = await open_rtp_peer(), await open_rtp_peer(), await open_rtp_peer()
    async with trio.open_nursery() as nursery, open_browser(chromium) as browser:
        for peer in (caller_peer, alice_peer, bob_peer):
            nursery.start_soon(peer.receive_forever)
        alice_phone, _ = start_agent_phone(nursery, e2e.phones[AGENT], alice_peer.port, tmp_path / "alice")
        bob_phone, bob_messages = start_agent_phone(nursery, e2e.phones[BOB], bob_peer.port, tmp_path / "bob")
        alice, bob = await browser.desk(server.url("")), await browser.desk(server.url(""))
        await alice.log_in(AGENT, PASSWORD)
        await bob.log_in(BOB, BOB_PASSWORD)
        await alice.click("#ready")
        await health_until(server, lambda h: h["agents"].get("ready") == 1)

        keys = {"caller": VIP, "rtp_port": str(caller_peer.port)}
        caller = start_caller(
            nursery, server, "uac_until_bye.xml", tmp_path / "caller", keys=keys, timeout=120
        )
        call_id = (await live_call(server, VIP))["id"]
        await press(server, caller_peer, call_id, [("choose_language", "1"), ("main_menu", "0")])
        card = alice.card(call_id)
        await status(alice, call_id, "talking")
        await alice.expect(f"{card} .facts", contains=VIP_ACCOUNT)
        await alice.expect(f"{card} .facts", contains="未验证")  # recognised by caller ID only
        with trio.fail_after(10):
            await alice_peer.first_packet.wait()
        assert hears(alice_peer, await speak(caller_peer, CALLER), CALLER) > 20

        # hold: the caller hears music and nobody hears the caller
        await alice.click(f"{card} .hold")
        await status(alice, call_id, "held")
        async with trio.open_nursery() as both:
            both.start_soon(speak, alice_peer, ALICE)
            held = await speak(caller_peer, CALLER)
        assert hears(alice_peer, held, CALLER) < 3 and hears(caller_peer, held, ALICE) < 3
        assert caller_peer.voiced(*held) > 20, "the held caller hears music"
        await alice.click(f"{card} .hold")
        await status(alice, call_id, "talking")
        assert hears(caller_peer, await speak(alice_peer, ALICE), ALICE) > 20

        # mute: the agent is not heard, and hears the caller
        await alice.click(f"{card} .mute")
        await alice.expect(f"{card} .status", contains="已静音")
        assert hears(caller_peer, await speak(alice_peer, ALICE), ALICE) < 3
        assert hears(alice_peer, await speak(caller_peer, CALLER), CALLER) > 20
        await alice.click(f"{card} .mute")
        await alice.expect(f"{card} .mute", text="静音")

        # the keypad sends tones to the caller
        keyed = trio.current_time()
        await alice.click(f"{card} .keypad-toggle")
        await alice.click(f"{card} .keypad button:text-is('5')")
        await alice.click(f"{card} .keypad button:text-is('#')")
        await trio.sleep(1.0)
        assert tones(caller_peer, keyed) == "5#"

        # a transfer to a queue that does not exist is refused; the caller stays
        await alice.fill(f"{card} .transfer-to", "vipp")
        await alice.click(f"{card} .transfer .blind")
        await alice.expect("#notice", text="没有这个队列。")
        await status(alice, call_id, "talking")

        # consult Bob: his phone rings with the caller's data, his desktop pops the call
        await alice.do(lambda page: page.select_option(f"{card} .transfer-kind", "agent"))
        await alice.fill(f"{card} .transfer-to", BOB)
        await alice.click(f"{card} .transfer .warm")
        bobs = bob.card(call_id)
        await bob.expect(f"{bobs} .call-title", text="咨询")
        await bob.expect(f"{bobs} .by", contains=AGENT)
        await bob.expect(f"{bobs} .facts", contains=VIP_ACCOUNT)
        await status(bob, call_id, "consulting")
        await status(alice, call_id, "consulting")
        await alice.expect(f"{card} .other-state", attribute=("data-state", "talking"))
        [invite] = invite_headers(bob_messages)
        assert invite["X-IVR-Caller"] == VIP and invite["X-IVR-Call"] == call_id
        assert invite["P-Asserted-Identity"].endswith(f"<sip:{VIP}@127.0.0.1>")
        assert invite["From"].startswith(f'"张伟" <sip:{VIP}@127.0.0.1>')
        assert f"account={VIP_ACCOUNT}" in invite["X-IVR-Screen"]
        private = await speak(alice_peer, ALICE)
        assert hears(bob_peer, private, ALICE) > 20 and hears(caller_peer, private, ALICE) < 3

        # a conference of three
        await alice.click(f"{card} .conference")
        await status(alice, call_id, "in_conference")
        await status(bob, call_id, "in_conference")
        together = await speak(caller_peer, CALLER)
        assert hears(alice_peer, together, CALLER) > 20 and hears(bob_peer, together, CALLER) > 20
        assert hears(caller_peer, await speak(bob_peer, BOBS), BOBS) > 20

        # Alice leaves: Bob holds the call now; Alice files her wrap-up
        await alice.click(f"{card} .hangup")
        await alice.expect(card, count=0)
        await alice.expect(f"{alice.form(call_id)} .wrapup-call", contains=call_id)
        await bob.expect(f"{bobs} .call-title", text="来电")
        await status(bob, call_id, "talking")
        await alice_phone.wait_ok(timeout=20)
        assert hears(bob_peer, await speak(caller_peer, CALLER), CALLER) > 20

        # Bob hangs up: the caller goes back to the flow (goodbye); both save dispositions
        await bob.click(f"{bobs} .hangup")
        for desk, notes in ((alice, "asked Bob"), (bob, "explained the fee")):
            form = desk.form(call_id)
            await desk.fill(f"{form} .notes", notes)
            await desk.click(f"{form} button[type=submit]")
            await desk.expect("#notice", text="处理结果已保存")
        await bob_phone.wait_ok(timeout=20)
        await caller.wait_ok(timeout=30)
        nursery.cancel_scope.cancel()

    events = server.events(call_id)
    kinds = [kind for kind, _, _ in events]
    assert {"agent_consult", "agent_conference", "agent_transfer"} <= set(kinds)
    offered = [d for k, _, d in events if k == "agent_offered"]
    assert {"agent": BOB, "queue": "vip", "kind": "consult", "by": AGENT} in offered
    assert {"agent": BOB, "queue": "vip", "kind": "transfer"} in [
        d for k, _, d in events if k == "agent_connected"
    ]
    notes = {d["agent"]: d["notes"] for k, _, d in events if k == "agent_wrapup"}
    assert notes == {AGENT: "asked Bob", BOB: "explained the fee"}
    call = await ended(server, call_id)
    assert (call["agent"], call["disposition"], call["how"]) == (BOB, "resolved", "completed")
    [queue] = [d for k, _, d in events if k == "queue"]
    assert queue["outcome"] == "completed"
