"""The CTI protocol end to end over an in-memory transport and the in-memory connector:
login, states and their reasons, screen pops, hang-up, wrap-up on the right record,
ownership, and desktops that go away mid-call."""

from __future__ import annotations

import trio
from cti_support import PASSWORDS, Cti, eventually, running_cti

from ivr.adapters.cti import DeskSettings
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
        assert answer["ok"] and answer["agent"] == {
            "extension": "8001",
            "name": "Alice Agent",
            "language": None,
        }
        wanted = {
            "not_ready_reasons": ["break", "training", "back_office"],
            "language": "zh",
            "flows": [],
            "orders": None,
        }
        assert answer["desk"] == wanted
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
        kinds = [(e.kind, e.extension) for e in await cti.journal.events()]
        assert ("login_failed", "8001") in kinds and ("login", "8001") in kinds


async def test_an_offer_pops_the_screen_without_secrets_and_hangup_ends_the_agent_side() -> None:
    async with running_cti() as cti:
        desk = await cti.desktop("8001")
        assert (await desk.ok("state", state="ready"))["state"] == "ready"
        leg = cti.call(
            "call-1", channel="sms", customer="Li Wei", pin="1234", card={"cvv": "999", "last4": "0012"}
        )
        offered = await desk.event("offered")
        assert offered["call_id"] == "call-1" and offered["queue"] == "general" and offered["kind"] == "queue"
        screen = offered["screen"]
        assert (
            screen["customer"] == "Li Wei" and screen["caller"] == leg.caller and screen["language"] == "zh"
        )
        assert "pin" not in screen and screen["card"] == {"last4": "0012"}
        assert screen["channel"] == "sms"  # how the customer came
        await desk.event("connected")
        state = await desk.event("call_state", status="talking")
        assert state["role"] == "agent" and state["held"] is False and state["other"] is None

        await desk.ok("hangup", call_id="call-1")
        ended = await desk.event("ended")
        assert ended["outcome"] == "completed" and ended["wrapup"] is True
        wrap_up = await desk.event("agent_state", state="wrap_up")
        assert 25 <= wrap_up["remaining"] <= 30  # the countdown the desktop shows
        assert cti.outcomes["call-1"] == "completed" and not leg.ended  # the flow goes on

        answer = await desk.ok("wrapup", call_id="call-1", disposition="resolved", notes="ok", ready=True)
        assert answer["state"] == "ready" and answer["call_id"] == "call-1"
        [event] = cti.records.of("call-1", "agent_wrapup")
        assert event.detail["disposition"] == "resolved" and event.detail["agent"] == "8001"


async def test_notes_typed_for_one_call_land_on_that_call_while_the_next_one_rings() -> None:
    """The wrong-customer bug: hang up A, type notes, wrap-up ends, B pops, save A's notes."""
    async with running_cti(wrap_up=1) as cti:
        desk = await cti.talking("8001", "call-A")
        await desk.ok("hangup", call_id="call-A")
        await desk.event("ended", call_id="call-A")
        await desk.event("agent_state", state="ready")  # wrap-up ran out
        cti.call("call-B", customer="Wang Fang")
        await desk.event("connected", call_id="call-B")
        await desk.ok("wrapup", call_id="call-A", disposition="follow_up", notes="for A", ready=True)
        [a] = cti.records.of("call-A", "agent_wrapup")
        assert a.detail["notes"] == "for A" and not cti.records.of("call-B", "agent_wrapup")
        assert state_of(cti, "8001") is AgentState.ON_CALL  # saving A never touched B
        await desk.ok("hangup", call_id="call-B")


async def test_an_agent_can_stay_not_ready_after_the_call_extend_wrap_up_and_give_reasons() -> None:
    async with running_cti(wrap_up=1) as cti:
        desk = await cti.talking("8001", "call-1")
        refused = await desk.command("state", state="not_ready", reason="nap", after_call=True)
        assert (
            refused["error"]["code"] == "bad_field"
            and "break, training, back_office" in refused["error"]["message"]
        )
        planned = await desk.ok("state", state="not_ready", reason="training", after_call=True)
        assert planned["state"] == "on_call"
        assert (await desk.event("agent_state", after_call="training"))["state"] == "on_call"
        await desk.ok("hangup", call_id="call-1")
        await desk.event("agent_state", state="wrap_up")
        await desk.ok("extend_wrapup", seconds=2)
        assert (await desk.event("agent_state", state="wrap_up", previous="wrap_up"))["remaining"] >= 2
        stayed = await desk.event("agent_state", state="not_ready", previous="wrap_up", timeout=10)
        assert stayed["reason"] == "training"
        await desk.ok("state", state="not_ready", reason="break")
        assert cti.acd.statistics().agents["8001"].reason == "break"
        await eventually(lambda: any(e.detail.get("reason") == "break" for e in cti.journal.lines))


async def test_an_unticked_ready_box_leaves_the_agent_not_ready() -> None:
    async with running_cti() as cti:
        desk = await cti.talking("8001", "call-1")
        await desk.ok("hangup", call_id="call-1")
        await desk.event("agent_state", state="wrap_up")
        answer = await desk.ok(
            "wrapup", call_id="call-1", disposition="resolved", ready=False, reason="back_office"
        )
        assert answer["state"] == "not_ready" and cti.acd.statistics().agents["8001"].reason == "back_office"


async def test_an_agent_cannot_touch_another_agents_call() -> None:
    async with running_cti() as cti:
        alice, bob = await cti.desktop("8001"), await cti.desktop("8002")
        await alice.ok("state", state="ready")
        leg = cti.call("call-7")
        await alice.event("connected")
        for command in [
            {"command": "hangup", "call_id": "call-7"},
            {"command": "transfer", "call_id": "call-7", "number": "95500"},
            {"command": "consult", "call_id": "call-7", "agent": "8002"},
            {"command": "hold", "call_id": "call-7", "on": True},
            {"command": "mute", "call_id": "call-7", "on": True},
            {"command": "dtmf", "call_id": "call-7", "digits": "1"},
            {"command": "complete", "call_id": "call-7"},
            {"command": "conference", "call_id": "call-7"},
            {"command": "wrapup", "call_id": "call-7", "disposition": "spam"},
        ]:
            name = str(command.pop("command"))
            assert (await bob.command(name, **command))["error"]["code"] == "not_your_call", name
        assert all(m.get("event") != "offered" for m in await _drain(bob))
        assert state_of(cti, "8001") is AgentState.ON_CALL and not leg.ended
        assert not cti.records.of("call-7", "agent_wrapup")
        assert cti.media("call-7").links == {("caller", "agent"), ("agent", "caller")}
        leg.hang_up()


async def test_a_desktop_that_disconnects_mid_call_does_not_drop_the_caller() -> None:
    async with running_cti() as cti:
        desk = await cti.talking("8001", "call-2")
        await desk.hang_up()
        await trio.sleep(0.2)
        assert state_of(cti, "8001") is AgentState.ON_CALL and "call-2" not in cti.outcomes

        again = await cti.desktop()  # the desktop comes back and sees its call
        await again.say({"id": 1, "command": "login", "token": await cti.app.server.tokens.issue("8001")})
        await again.reply_to(1)
        offered = await again.event("offered")
        assert offered["call_id"] == "call-2" and "pin" not in offered["screen"]
        assert (await again.event("connected"))["since"] >= 0.2  # the call timer goes on
        await again.ok("hangup", call_id="call-2")
        await again.event("ended")


async def test_the_last_desktop_leaving_a_ready_agent_sets_it_not_ready() -> None:
    async with running_cti() as cti:
        desk = await cti.desktop("8001")
        await desk.ok("state", state="ready")
        await desk.hang_up()
        await eventually(lambda: state_of(cti, "8001") is AgentState.NOT_READY)
        assert cti.acd.statistics().agents["8001"].reason == "desktop_closed"


async def test_ten_bad_logins_lock_the_extension_even_across_connections() -> None:
    async with running_cti() as cti:
        codes = []
        for attempt in range(10):
            desk = await cti.desktop()  # a new connection each time: the count goes on
            answer = await desk.command("login", extension="8001", password=f"guess-{attempt}")
            codes.append(answer["error"]["code"])
        assert codes[:4] == ["auth_failed"] * 4 and set(codes[4:]) == {"locked"}
        desk = await cti.desktop()
        refused = await desk.command("login", extension="8001", password=PASSWORDS["8001"])
        assert refused["error"]["code"] == "locked" and refused["error"]["retry_after"] > 800
        assert "locked for 15 more minutes" in refused["error"]["message"]
        assert (await desk.command("login", extension="8002", password=PASSWORDS["8002"]))["ok"]
        [locked] = await cti.journal.events(kind="locked_out")
        assert locked.extension == "8001" and locked.address == "192.0.2.7"
        assert not any("guess" in str(e) or PASSWORDS["8001"] in str(e) for e in cti.journal.lines)


async def test_a_session_ends_when_its_login_expires() -> None:
    async with running_cti(settings=DeskSettings(session_hours=0.5 / 3600)) as cti:
        desk = await cti.desktop("8001")
        ended = await desk.event("session_ended", timeout=5)
        assert ended["reason"] == "expired"
        await eventually(lambda: "8001" not in cti.app.server.outboxes)
        again = await cti.desktop()
        token = await cti.app.server.tokens.issue("8001")
        await trio.sleep(0.6)
        assert (await again.command("login", token=token))["error"]["code"] == "auth_failed"


async def test_logout_revokes_the_token() -> None:
    async with running_cti() as cti:
        desk = await cti.desktop()
        login = await desk.ok("login", extension="8002", password=PASSWORDS["8002"])
        await desk.ok("logout")
        again = await cti.desktop()
        assert (await again.command("login", token=login["token"]))["error"]["code"] == "auth_failed"


async def _drain(desk: object) -> list[dict[str, object]]:
    heard = []
    with trio.move_on_after(0.1):
        while True:
            heard.append(await desk.hear())  # type: ignore[attr-defined]
    return heard
