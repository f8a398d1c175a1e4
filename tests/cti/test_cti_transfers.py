"""Transfers and call control over the CTI protocol with the in-memory connector: blind
transfers to a queue, an agent or a number; consultations that complete, turn into a
conference or are dropped; hold, mute and the keypad; refusals that change nothing; and
the records and desktops telling the true story after every step."""

from __future__ import annotations

from cti_support import Cti, eventually, running_cti

from ivr.adapters.errors import AdapterError
from ivr.runtime.acd import AgentState

BOB_PHONE = "sip:8002@127.0.0.1:5072"


def kinds(cti: Cti, call_id: str) -> list[tuple[str, dict[str, object]]]:
    return [(e.kind, dict(e.detail)) for e in cti.records.of(call_id)]


async def test_a_transfer_to_an_unknown_queue_is_refused_and_the_caller_stays() -> None:
    async with running_cti() as cti:
        alice = await cti.talking("8001", "call-1")
        before = set(cti.acd.statistics().queues)
        refused = await alice.command("transfer", call_id="call-1", queue="vipp")
        assert (
            refused["error"]["code"] == "unknown_queue" and "billing, general" in refused["error"]["message"]
        )
        assert set(cti.acd.statistics().queues) == before  # no queue made on the fly
        refused = await alice.command("transfer", call_id="call-1", agent="9999")
        assert refused["error"]["code"] == "unknown_agent"
        refused = await alice.command("transfer", call_id="call-1", agent="8002")  # logged out
        assert refused["error"]["code"] == "transfer_failed"
        assert cti.state("8001") is AgentState.ON_CALL and "call-1" not in cti.outcomes
        assert cti.media("call-1").links == {("caller", "agent"), ("agent", "caller")}
        assert not [k for k, _ in kinds(cti, "call-1") if k.startswith("agent_transfer")]
        await alice.ok("hangup", call_id="call-1")
        await eventually(lambda: cti.outcomes.get("call-1") == "completed")


async def test_a_blind_transfer_to_a_queue_frees_the_agent_and_the_next_agent_gets_the_caller() -> None:
    async with running_cti() as cti:
        alice = await cti.talking("8001", "call-3")
        bob = await cti.desktop("8002")
        await bob.ok("state", state="ready")
        await alice.ok("transfer", call_id="call-3", queue="billing")
        ended = await alice.event("ended", call_id="call-3")
        assert ended["outcome"] == "transferred" and ended["wrapup"] is True
        assert cti.state("8001") is AgentState.WRAP_UP
        offered = await bob.event("offered", call_id="call-3")  # the same call, a new agent
        assert offered["queue"] == "billing" and offered["screen"]["customer"] == "Li Wei"
        await bob.event("connected", call_id="call-3")
        await alice.ok("wrapup", call_id="call-3", disposition="transferred", notes="to billing")
        await bob.ok("hangup", call_id="call-3")
        await bob.ok("wrapup", call_id="call-3", disposition="billing fixed")
        await eventually(lambda: cti.outcomes.get("call-3") == "completed")
        wrapups = [d["agent"] for k, d in kinds(cti, "call-3") if k == "agent_wrapup"]
        assert wrapups == ["8001", "8002"]  # both on the caller's own record
        [transfer] = [d for k, d in kinds(cti, "call-3") if k == "agent_transfer"]
        assert transfer == {"agent": "8001", "mode": "blind", "queue": "billing", "outcome": "queued"}


async def test_a_blind_transfer_to_an_agent_rings_them_with_the_callers_data() -> None:
    async with running_cti() as cti:
        alice = await cti.talking("8001", "call-5")
        bob = await cti.desktop("8002")
        await alice.ok("transfer", call_id="call-5", agent="8002")
        offered = await bob.event("offered", call_id="call-5")
        assert offered["kind"] == "transfer" and offered["by"] == "8001"
        assert offered["screen"]["transferred_from"] == "8001" and offered["screen"]["customer"] == "Li Wei"
        connected = await bob.event("connected", call_id="call-5")
        assert connected["kind"] == "transfer"
        assert (await alice.event("ended", call_id="call-5"))["outcome"] == "transferred"
        assert cti.state("8002") is AgentState.ON_CALL and cti.state("8001") is AgentState.WRAP_UP
        [(_, _, screen)] = [o for o in cti.connector.offers if o[1] == "8002"]
        assert screen["caller"] and screen["transferred_from"] == "8001"  # what the phone gets
        await bob.ok("wrapup", call_id="call-5", disposition="done")


async def test_a_blind_transfer_nobody_answers_sends_the_caller_back_to_the_queue() -> None:
    async with running_cti() as cti:
        cti.connector.answers[BOB_PHONE] = "busy"
        alice = await cti.talking("8001", "call-6")
        bob = await cti.desktop("8002")
        await alice.ok("transfer", call_id="call-6", agent="8002")
        await bob.event("offered", call_id="call-6")
        gone = await bob.event("ended", call_id="call-6")  # no card left ringing on Bob's desk
        assert gone["outcome"] == "busy" and gone["wrapup"] is False
        assert cti.state("8002") is AgentState.NOT_READY
        await alice.ok("wrapup", call_id="call-6", disposition="transferred", ready=True)
        await alice.event("offered", call_id="call-6")  # back in the queue, Alice takes it again
        await alice.event("connected", call_id="call-6")


async def test_a_consult_transfer_connects_the_consulted_agent_and_frees_the_first() -> None:
    async with running_cti() as cti:
        alice = await cti.talking("8001", "call-8")
        bob = await cti.desktop("8002")
        answer = await alice.ok("consult", call_id="call-8", agent="8002")
        assert answer["other"] == {"kind": "agent", "target": "8002", "state": "ringing"}
        media = cti.media("call-8")
        assert media.music and media.links == frozenset()  # the caller holds, hears music
        offered = await bob.event("offered", call_id="call-8")
        assert offered["kind"] == "consult" and offered["by"] == "8001" and "customer" in offered["screen"]
        await bob.event("connected", call_id="call-8", kind="consult")
        state = await alice.event(
            "call_state", mode="consult", other={"kind": "agent", "target": "8002", "state": "talking"}
        )
        assert state["role"] == "agent"
        assert (await bob.event("call_state", role="consulted"))["call_id"] == "call-8"
        assert media.links == {("agent", "other"), ("other", "agent")} and media.music
        assert cti.state("8002") is AgentState.ON_CALL and cti.state("8001") is AgentState.ON_CALL

        await alice.ok("complete", call_id="call-8")
        assert (await alice.event("ended", call_id="call-8"))["outcome"] == "transferred"
        await bob.event("connected", call_id="call-8", kind="transfer")
        assert (await bob.event("call_state", role="agent"))["other"] is None
        assert media.links == {("caller", "agent"), ("agent", "caller")} and not media.music
        assert cti.state("8001") is AgentState.WRAP_UP and cti.state("8002") is AgentState.ON_CALL
        await bob.ok("hold", call_id="call-8", on=True)  # Bob holds the call now
        await bob.ok("hold", call_id="call-8", on=False)
        await bob.ok("hangup", call_id="call-8")
        await bob.event("ended", call_id="call-8")
        await eventually(lambda: cti.outcomes.get("call-8") == "completed")
        lines = kinds(cti, "call-8")
        assert ("agent_consult", {"agent": "8001", "to": "8002", "kind": "agent"}) in lines
        assert ("agent_transfer", {"to": "8002", "kind": "agent", "outcome": "handed_over"}) in lines


async def test_a_conference_of_three_and_the_first_agent_leaving_it() -> None:
    async with running_cti() as cti:
        alice = await cti.talking("8001", "call-9")
        bob = await cti.desktop("8002")
        refused = await alice.command("conference", call_id="call-9")
        assert refused["error"]["code"] == "bad_state"
        await alice.ok("consult", call_id="call-9", agent="8002")
        await bob.event("connected", call_id="call-9")
        await alice.event("call_state", other={"kind": "agent", "target": "8002", "state": "talking"})
        await alice.ok("conference", call_id="call-9")
        media = cti.media("call-9")
        assert len(media.links) == 6 and not media.music  # everyone hears everyone
        await alice.ok("mute", call_id="call-9", on=True)
        assert ("agent", "caller") not in media.links and ("caller", "agent") in media.links
        assert "agent" not in media.voices  # a muted agent is not recorded either
        await alice.ok("mute", call_id="call-9", on=False)
        await alice.ok("hangup", call_id="call-9")  # Alice leaves; Bob keeps the caller
        await bob.event("connected", call_id="call-9", kind="transfer")
        assert media.links == {("caller", "agent"), ("agent", "caller")}
        assert (await alice.event("ended", call_id="call-9"))["wrapup"] is True
        await bob.ok("hangup", call_id="call-9")
        await bob.ok("wrapup", call_id="call-9", disposition="resolved")
        await alice.ok("wrapup", call_id="call-9", disposition="resolved")


async def test_a_consulted_agent_who_hangs_up_leaves_the_first_agent_with_the_caller() -> None:
    async with running_cti() as cti:
        alice = await cti.talking("8001", "call-10")
        bob = await cti.desktop("8002")
        await bob.ok("state", state="ready")
        await alice.ok("consult", call_id="call-10", agent="8002")
        await bob.event("connected", call_id="call-10", kind="consult")
        await bob.ok("hangup", call_id="call-10")  # Bob's own leg: the consultation ends
        gone = await bob.event("ended", call_id="call-10")
        assert gone["outcome"] == "consult_ended" and gone["wrapup"] is False
        await eventually(lambda: cti.state("8002") is AgentState.READY)  # as Bob was before
        await alice.event("call_state", other=None, mode="talk")
        assert cti.media("call-10").links == {("caller", "agent"), ("agent", "caller")}
        assert cti.state("8001") is AgentState.ON_CALL


async def test_a_consultation_the_agent_drops_and_one_nobody_answers() -> None:
    async with running_cti() as cti:
        cti.connector.answers["sip:95588@127.0.0.1"] = "no_answer"
        cti.connector.dial_timeout = 0.5
        alice = await cti.talking("8001", "call-11")
        await alice.ok("consult", call_id="call-11", number="12345")
        await alice.event("call_state", other={"kind": "number", "target": "12345", "state": "talking"})
        await alice.ok("dtmf", call_id="call-11", digits="12#")
        assert cti.connector.phones["12345"][-1].tones == ["12#"]  # the keypad reaches the number
        await alice.ok("hangup", call_id="call-11", leg="consult")
        await alice.event("call_state", other=None)
        await alice.ok("consult", call_id="call-11", number="sip:95588@127.0.0.1")
        alice.forget()
        await alice.event("call_state", other=None, mode="talk")  # rang out: back with the caller
        assert cti.media("call-11").links == {("caller", "agent"), ("agent", "caller")}
        lines = kinds(cti, "call-11")
        assert (
            "agent_consult",
            {"to": "sip:95588@127.0.0.1", "kind": "number", "outcome": "no_answer"},
        ) in lines


async def test_a_blind_transfer_to_a_number_and_back_to_the_queue_when_it_does_not_answer() -> None:
    async with running_cti() as cti:
        alice = await cti.talking("8001", "call-12")
        await alice.ok("transfer", call_id="call-12", number="12345")
        assert (await alice.event("ended", call_id="call-12"))["outcome"] == "transferred"
        await eventually(lambda: cti.media("call-12").links == {("caller", "other"), ("other", "caller")})
        cti.connector.hang_up_phone("12345")
        await eventually(lambda: cti.outcomes.get("call-12") == "completed")

        cti.connector.answers["99999"] = "failed"
        bob = await cti.desktop("8002")
        await bob.ok("state", state="ready")
        await alice.ok("state", state="not_ready", reason="break")
        leg = cti.call("call-13")
        await bob.event("connected", call_id="call-13")
        await bob.ok("transfer", call_id="call-13", number="99999")
        await bob.ok("wrapup", call_id="call-13", disposition="transferred", ready=True)
        await bob.event("connected", call_id="call-13")  # the caller is back, and Bob is ready
        assert not leg.ended
        assert ("agent_transfer", {"outcome": "requeued", "queue": "general"}) in kinds(cti, "call-13")


async def test_hold_mute_and_the_keypad_change_only_what_they_say() -> None:
    async with running_cti() as cti:
        alice = await cti.talking("8001", "call-14")
        media = cti.media("call-14")
        assert (await alice.ok("hold", call_id="call-14", on=True))["held"] is True
        assert media.music and media.links == frozenset()
        assert (await alice.event("call_state", held=True))["muted"] is False
        refused = await alice.command("dtmf", call_id="call-14", digits="5")
        assert refused["error"]["code"] == "bad_state"  # nobody hears the keypad on hold
        await alice.ok("hold", call_id="call-14", on=False)
        await alice.ok("mute", call_id="call-14", on=True)
        assert media.links == {("caller", "agent")} and not media.music
        await alice.ok("mute", call_id="call-14", on=False)
        await alice.ok("dtmf", call_id="call-14", digits="*9")
        assert cti.connector.callers["call-14"].tones == ["*9"]
        bad = await alice.command("dtmf", call_id="call-14", digits="9; rm")
        assert bad["error"]["code"] == "bad_field"
        await alice.ok("hangup", call_id="call-14")


async def test_a_consultation_that_cannot_be_dialled_changes_nothing() -> None:
    async with running_cti() as cti:
        alice = await cti.talking("8001", "call-15")
        bob = await cti.desktop("8002")

        async def refuse(target: object) -> object:
            raise AdapterError("the SIP stack refused the address")

        cti.media("call-15").dial = refuse  # type: ignore[method-assign, assignment]
        refused = await alice.command("consult", call_id="call-15", agent="8002")
        assert refused["error"]["code"] == "no_such_call" and "refused" in refused["error"]["message"]
        await eventually(lambda: cti.state("8002") is AgentState.NOT_READY)  # as Bob was
        assert cti.state("8001") is AgentState.ON_CALL
        assert cti.media("call-15").links == {("caller", "agent"), ("agent", "caller")}
        await bob.event("ended", call_id="call-15")  # his card went away again
        await alice.ok("hold", call_id="call-15", on=True)  # the call still works


async def test_a_consultation_with_a_queue_rings_its_next_free_agent() -> None:
    async with running_cti() as cti:
        alice = await cti.talking("8001", "call-16")
        refused = await alice.command("consult", call_id="call-16", queue="billing")
        assert (
            refused["error"]["code"] == "transfer_failed"
            and "no agent of queue billing" in refused["error"]["message"]
        )
        bob = await cti.desktop("8002")
        await bob.ok("state", state="ready")
        answer = await alice.ok("consult", call_id="call-16", queue="billing")
        assert answer["other"] == {"kind": "agent", "target": "8002", "state": "ringing"}
        await bob.event("connected", call_id="call-16", kind="consult")
        await alice.ok("complete", call_id="call-16")
        await bob.event("connected", call_id="call-16", kind="transfer")
        await bob.ok("hangup", call_id="call-16")
