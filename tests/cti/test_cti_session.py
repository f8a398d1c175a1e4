"""The CTI protocol end to end over an in-memory transport: login, states, screen pops,
hang-up, transfers, wrap-up, ownership, and desktops that go away mid-call."""

from __future__ import annotations

import trio
from cti_support import PASSWORDS, Cti, eventually, running_cti

from ivr.runtime.acd import AgentState


def state_of(cti: Cti, extension: str) -> AgentState:
    return cti.acd.statistics().agents[extension].state


async def test_commands_before_login_get_an_error_and_the_connection_stays() -> None:
    async with running_cti() as cti:
        desk = await cti.desktop()
        await desk.say({"id": 1, "command": "state", "state": "ready"})
        assert (await desk.hear())["error"]["code"] == "not_logged_in"
        await desk.say({"id": 2, "command": "ping"})
        assert await desk.hear() == {"reply": 2, "ok": True, "pong": True}


async def test_login_with_password_returns_a_token_that_logs_in_another_desktop() -> None:
    async with running_cti() as cti:
        desk = await cti.desktop()
        await desk.say({"id": 1, "command": "login", "extension": "8001", "password": "wrong"})
        assert (await desk.hear())["error"]["code"] == "auth_failed"
        await desk.say({"id": 2, "command": "login", "extension": "8001", "password": PASSWORDS["8001"]})
        answer = await desk.reply_to(2)
        assert answer["ok"] and answer["agent"] == {"extension": "8001", "name": "Alice Agent"}
        assert (await desk.hear())["event"] == "agent_state"
        assert state_of(cti, "8001") is AgentState.NOT_READY

        other = await cti.desktop()
        await other.say({"id": "x", "command": "login", "token": answer["token"]})
        assert (await other.reply_to("x"))["ok"]
        await other.say({"id": "y", "command": "login", "token": answer["token"]})
        assert (await other.reply_to("y"))["error"]["code"] == "already_logged_in"
        bad = await cti.desktop()
        await bad.say({"id": 1, "command": "login", "token": "forged"})
        assert (await bad.hear())["error"]["code"] == "auth_failed"


async def test_an_offer_pops_the_screen_without_secrets_and_hangup_ends_the_agent_side() -> None:
    async with running_cti() as cti:
        desk = await cti.desktop("8001")
        await desk.say({"id": 1, "command": "state", "state": "ready"})
        assert (await desk.reply_to(1))["state"] == "ready"
        leg = cti.call("call-1", customer="Li Wei", pin="1234", card={"cvv": "999", "last4": "0012"})
        offered = await desk.hear_until(lambda m: m.get("event") == "offered")
        assert offered["call_id"] == "call-1" and offered["queue"] == "general"
        screen = offered["screen"]
        assert screen["customer"] == "Li Wei" and screen["caller"] == leg.caller
        assert "pin" not in screen and screen["card"] == {"last4": "0012"}
        await desk.hear_until(lambda m: m.get("event") == "connected")

        await desk.say({"id": 2, "command": "hangup", "call_id": "call-1"})
        assert (await desk.reply_to(2))["ok"]
        ended = await desk.hear_until(lambda m: m.get("event") == "ended")
        assert ended["outcome"] == "completed"
        await desk.hear_until(lambda m: m.get("state") == "wrap_up")
        assert cti.outcomes["call-1"] == "completed" and not leg.ended  # the flow goes on

        await desk.say(
            {
                "id": 3,
                "command": "wrapup",
                "call_id": "call-1",
                "disposition": "resolved",
                "notes": "ok",
                "ready": True,
            }
        )
        answer = await desk.reply_to(3)
        assert answer["ok"] and answer["state"] == "ready"
        [event] = cti.records.of("call-1", "agent_wrapup")
        assert event.detail["disposition"] == "resolved" and event.detail["agent"] == "8001"


async def test_an_agent_cannot_touch_another_agents_call() -> None:
    async with running_cti() as cti:
        alice, bob = await cti.desktop("8001"), await cti.desktop("8002")
        await alice.say({"id": 1, "command": "state", "state": "ready"})
        leg = cti.call("call-7")
        await alice.hear_until(lambda m: m.get("event") == "connected")
        for n, command in enumerate(
            [
                {"command": "hangup", "call_id": "call-7"},
                {"command": "transfer", "call_id": "call-7", "number": "95500"},
                {"command": "wrapup", "call_id": "call-7", "disposition": "spam"},
            ]
        ):
            await bob.say({"id": n, **command})
            assert (await bob.reply_to(n))["error"]["code"] == "not_your_call"
        assert all(m.get("event") != "offered" for m in await _drain(bob))
        assert state_of(cti, "8001") is AgentState.ON_CALL and not leg.ended
        assert not cti.records.of("call-7", "agent_wrapup")
        leg.hang_up()


async def test_a_desktop_that_disconnects_mid_call_does_not_drop_the_caller() -> None:
    async with running_cti() as cti:
        desk = await cti.desktop("8001")
        await desk.say({"id": 1, "command": "state", "state": "ready"})
        leg = cti.call("call-2")
        await desk.hear_until(lambda m: m.get("event") == "connected")
        await desk.hang_up()
        await trio.sleep(0.2)
        assert state_of(cti, "8001") is AgentState.ON_CALL and not leg.ended
        assert "call-2" not in cti.outcomes

        again = await cti.desktop()  # the desktop comes back and sees its call
        await again.say({"id": 1, "command": "login", "token": cti.app.server.tokens.issue("8001")})
        await again.reply_to(1)
        offered = await again.hear_until(lambda m: m.get("event") == "offered")
        assert offered["call_id"] == "call-2" and "pin" not in offered["screen"]
        await again.say({"id": 2, "command": "hangup", "call_id": "call-2"})
        assert (await again.reply_to(2))["ok"]
        await again.hear_until(lambda m: m.get("event") == "ended")


async def test_the_last_desktop_leaving_a_ready_agent_sets_it_not_ready() -> None:
    async with running_cti() as cti:
        desk = await cti.desktop("8001")
        await desk.say({"id": 1, "command": "state", "state": "ready"})
        await desk.reply_to(1)
        await desk.hang_up()
        await trio.sleep(0.1)
        assert state_of(cti, "8001") is AgentState.NOT_READY


async def test_transfer_to_a_queue_offers_the_caller_to_the_next_agent() -> None:
    async with running_cti() as cti:
        alice, bob = await cti.desktop("8001"), await cti.desktop("8002")
        await alice.say({"id": 1, "command": "state", "state": "ready"})
        leg = cti.call("call-3")
        await alice.hear_until(lambda m: m.get("event") == "connected")
        await bob.say({"id": 1, "command": "state", "state": "ready"})
        await bob.reply_to(1)
        await alice.say({"id": 2, "command": "transfer", "call_id": "call-3", "queue": "billing"})
        assert (await alice.reply_to(2))["ok"]
        offered = await bob.hear_until(lambda m: m.get("event") == "offered")
        assert offered["queue"] == "billing" and offered["screen"]["transferred_from"] == "8001"
        assert offered["screen"]["customer"] == "Li Wei"
        await bob.hear_until(lambda m: m.get("event") == "connected")
        new_id = offered["call_id"]
        await bob.say({"id": 2, "command": "hangup", "call_id": new_id})
        await bob.reply_to(2)
        await bob.say({"id": 3, "command": "wrapup", "call_id": new_id, "disposition": "billing fixed"})
        assert (await bob.reply_to(3))["ok"]
        await eventually(lambda: "call-3" in cti.outcomes)
        assert cti.outcomes["call-3"] == "completed" and not leg.ended
        [event] = cti.records.of("call-3", "agent_wrapup")  # on the caller's own record
        assert event.detail["agent"] == "8002"


async def test_transfer_to_a_number_hands_the_caller_over_and_releases_the_agent() -> None:
    async with running_cti() as cti:
        desk = await cti.desktop("8001")
        await desk.say({"id": 1, "command": "state", "state": "ready"})
        leg = cti.call("call-4")
        await desk.hear_until(lambda m: m.get("event") == "connected")
        await desk.say({"id": 2, "command": "transfer", "call_id": "call-4", "number": "12345"})
        assert (await desk.reply_to(2))["ok"]
        await desk.hear_until(lambda m: m.get("event") == "ended")
        assert [t.destination for t in leg.transfers] == ["12345"]
        await desk.say({"id": 3, "command": "transfer", "call_id": "call-4", "number": "1; rm -rf"})
        assert (await desk.reply_to(3))["error"]["code"] == "bad_field"


async def test_transfer_to_an_agent_pops_their_screen_and_gives_them_the_call() -> None:
    async with running_cti() as cti:
        alice, bob = await cti.desktop("8001"), await cti.desktop("8002")
        await alice.say({"id": 1, "command": "state", "state": "ready"})
        leg = cti.call("call-5")
        await alice.hear_until(lambda m: m.get("event") == "connected")
        await alice.say({"id": 2, "command": "transfer", "call_id": "call-5", "agent": "8002"})
        assert (await alice.reply_to(2))["ok"]
        offered = await bob.hear_until(lambda m: m.get("event") == "offered")
        assert offered["call_id"] == "call-5" and offered["screen"]["transferred_from"] == "8001"
        assert leg.transfers[0].destination == "sip:8002@127.0.0.1:5072"
        await bob.say({"id": 2, "command": "wrapup", "call_id": "call-5", "disposition": "done"})
        assert (await bob.reply_to(2))["ok"]


async def _drain(desk: object) -> list[dict[str, object]]:
    heard = []
    with trio.move_on_after(0.1):
        while True:
            heard.append(await desk.hear())  # type: ignore[attr-defined]
    return heard
