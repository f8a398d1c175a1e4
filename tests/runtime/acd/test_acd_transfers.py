"""Transfers in the ACD core: a caller handed to another queue, to a named agent, to a
consulted agent, or out of the ACD keeps its one entry; each agent's part ends with
wrap-up; a refused transfer changes nothing; agents plan their next state."""

from __future__ import annotations

import pytest
import trio

from ivr.runtime.acd import (
    AcdCore,
    AcdEvent,
    AcdSettings,
    AgentLeft,
    AgentState,
    AgentStateChanged,
    CallConnected,
    CallFinished,
    CallOffered,
    Offer,
    QueueConfig,
    TransferError,
    Wake,
    open_acd,
)
from ivr.runtime.acd.model import CallState
from ivr.runtime.ports import QueueRequest
from ivr.runtime.testing import MemoryCallLeg
from ivr.runtime.testing.acd import AgentAnswer, MemoryAgentConnector

SETTINGS = AcdSettings(
    {
        "general": QueueConfig("general", skills=("general",), wrap_up=10),
        "billing": QueueConfig("billing", skills=("billing",), wrap_up=10),
        "legal": QueueConfig("legal", skills=("legal",)),
    }
)


def connected_call() -> tuple[AcdCore, list[AcdEvent]]:
    """Alice talks with call c1 from the general queue; Bob (billing) is not ready."""
    events: list[AcdEvent] = []
    core = AcdCore(SETTINGS, events.append)
    core.login("alice", "sip:alice@pbx", {"general": 3}, 0, ready=True)
    core.login("bob", "sip:bob@pbx", {"general": 2, "billing": 4}, 0)
    [offer] = core.add_call("c1", "general", (), 5, 1.0, {"customer": "Li Wei"})
    assert offer == Offer("c1", "alice", "sip:alice@pbx")
    core.answered("c1", 2.0)
    events.clear()
    return core, events


def state(core: AcdCore, agent_id: str) -> AgentState:
    return core.agents[agent_id].state


def test_a_call_transferred_to_a_queue_keeps_its_place_and_frees_its_agent() -> None:
    core, events = connected_call()
    seq = core.calls["c1"].seq
    decisions = core.requeue("c1", "billing", 30.0)
    assert decisions == [Wake("alice", core.agents["alice"].epoch, 40.0)]
    call = core.calls["c1"]
    assert (call.state, call.queue, call.skills, call.priority, call.seq) == (
        CallState.WAITING,
        "billing",
        frozenset({"billing"}),
        5,
        seq,
    )
    assert state(core, "alice") is AgentState.WRAP_UP
    assert AgentLeft(30.0, "c1", "alice", "general", "transferred") in events
    [offer] = core.set_ready("bob", 31.0)
    assert offer.call_id == "c1" and offer.agent_id == "bob"
    billing = core.statistics(31.0).queues["billing"]
    assert (billing.entered, billing.waiting) == (1, 1)
    assert core.statistics(31.0).queues["general"].average_handle_time == 28.0


def test_a_transfer_nobody_can_take_is_refused_and_changes_nothing() -> None:
    core, events = connected_call()
    with pytest.raises(TransferError, match="nobody who serves queue legal"):
        core.requeue("c1", "legal", 30.0)
    assert core.calls["c1"].state is CallState.CONNECTED and state(core, "alice") is AgentState.ON_CALL
    with pytest.raises(TransferError, match="yours already"):
        core.transfer_to_agent("c1", "alice", 31.0)
    with pytest.raises(TransferError, match="carol is not logged in"):
        core.consult("c1", "carol", 31.0)
    core.login("carol", "sip:carol@pbx", {"general": 1}, 32.0, ready=True)
    core.add_call("c2", "general", (), 0, 33.0)  # carol takes it: now she is busy
    with pytest.raises(TransferError, match=r"carol is busy \(reserved\)"):
        core.transfer_to_agent("c1", "carol", 34.0)
    assert core.calls["c1"].agent_id == "alice" and state(core, "alice") is AgentState.ON_CALL
    for event in events:
        assert not isinstance(event, AgentLeft | CallOffered) or event.call_id == "c2"


def test_a_blind_transfer_rings_the_named_agent_and_returns_to_the_queue_if_unanswered() -> None:
    core, events = connected_call()
    decisions = core.transfer_to_agent("c1", "bob", 30.0)
    assert Offer("c1", "bob", "sip:bob@pbx") in decisions
    offered = [e for e in events if isinstance(e, CallOffered)]
    assert offered == [
        CallOffered(
            30.0,
            "c1",
            "bob",
            "general",
            {"customer": "Li Wei", "transferred_from": "alice"},
            "transfer",
            "alice",
        )
    ]
    assert state(core, "alice") is AgentState.WRAP_UP and state(core, "bob") is AgentState.RESERVED
    core.not_answered("c1", 45.0)
    call = core.calls["c1"]
    assert call.state is CallState.WAITING and call.queue == "general" and call.queued
    assert state(core, "bob") is AgentState.NOT_READY and core.agents["bob"].reason == "no_answer"
    general = core.statistics(45.0).queues["general"]
    assert (general.entered, general.answered, general.waiting) == (2, 1, 1)


def test_a_consultation_then_a_completed_transfer_hands_the_call_over() -> None:
    core, events = connected_call()
    core.set_ready("bob", 10.0)
    core.consult("c1", "bob", 30.0)
    assert state(core, "bob") is AgentState.RESERVED and state(core, "alice") is AgentState.ON_CALL
    core.consult_answered("c1", 35.0)
    assert CallConnected(35.0, "c1", "bob", "general", "consult") in events
    with pytest.raises(TransferError, match="consultation first"):
        core.release_agent("c1", 36.0)
    core.complete_transfer("c1", 40.0)
    call = core.calls["c1"]
    assert call.agent_id == "bob" and call.consult is None and call.state is CallState.CONNECTED
    assert state(core, "alice") is AgentState.WRAP_UP and state(core, "bob") is AgentState.ON_CALL
    assert CallConnected(40.0, "c1", "bob", "general", "transfer") in events
    core.finished("c1", 100.0)
    assert CallFinished(100.0, "c1", "general", "completed", "bob") in events
    assert state(core, "bob") is AgentState.WRAP_UP
    assert core.agents["alice"].calls_handled == 1 and core.agents["bob"].calls_handled == 1


def test_a_consulted_agent_goes_back_to_the_state_it_had() -> None:
    core, _ = connected_call()
    core.set_not_ready("bob", 5.0, "training")
    core.consult("c1", "bob", 30.0)
    core.consult_answered("c1", 32.0)
    core.consult_ended("c1", 40.0)
    assert state(core, "bob") is AgentState.NOT_READY and core.agents["bob"].reason == "training"
    assert core.calls["c1"].agent_id == "alice" and state(core, "alice") is AgentState.ON_CALL
    core.set_ready("bob", 41.0)
    core.consult("c1", "bob", 50.0)
    core.consult_ended("c1", 65.0, "no_answer")  # rang out: probably away
    assert state(core, "bob") is AgentState.NOT_READY and core.agents["bob"].no_answers == 1


def test_a_call_handed_to_a_number_stays_in_the_acd_until_it_ends() -> None:
    core, events = connected_call()
    core.release_agent("c1", 30.0)
    assert core.calls["c1"].state is CallState.EXTERNAL and state(core, "alice") is AgentState.WRAP_UP
    assert core.bridge_ended("c1", 90.0) == []
    assert CallFinished(90.0, "c1", "general", "completed", None) in events
    assert "c1" not in core.calls


def test_an_agent_can_plan_not_ready_after_the_call_and_extend_wrap_up() -> None:
    core, events = connected_call()
    core.not_ready_after_call("alice", "break", 10.0)
    assert events[-1] == AgentStateChanged(
        10.0, "alice", AgentState.ON_CALL, AgentState.ON_CALL, after_call="break"
    )
    [wake] = core.finished("c1", 20.0)
    assert core.agents["alice"].wrap_up_until == 30.0
    [later] = core.extend_wrap_up("alice", 30, 25.0)
    assert later.at == 60.0 and core.wake("alice", wake.epoch, 30.0) == []  # the old timer is stale
    assert core.wake("alice", later.epoch, 60.0) == []
    assert state(core, "alice") is AgentState.NOT_READY and core.agents["alice"].reason == "break"


async def test_the_flow_hears_how_the_callers_last_queue_went(autojump_clock: object) -> None:
    """Transferred to a queue where nobody takes it in time, `enqueue` answers "timeout"
    (not "completed"), so the flow takes its timeout edge."""
    settings = AcdSettings(
        {
            "general": QueueConfig("general", skills=("general",), wrap_up=0, announce_every=None),
            "billing": QueueConfig("billing", skills=("billing",), max_wait=30, announce_every=None),
        }
    )
    connector = MemoryAgentConnector(default=AgentAnswer(ring=1, talk=10))
    async with open_acd(connector, settings) as acd, trio.open_nursery() as nursery:
        acd.login("alice", "sip:alice@pbx", {"general": 3}, ready=True)
        acd.login("bob", "sip:bob@pbx", {"billing": 3})  # logged in, not ready
        outcome: list[str] = []

        async def caller() -> None:
            outcome.append(
                await acd.enqueue(MemoryCallLeg(call_id="c1"), QueueRequest("general", (), 0, {}, None))
            )

        nursery.start_soon(caller)
        await trio.sleep(5)
        acd.requeue("c1", "billing")
        await trio.sleep(40)
        assert outcome == ["timeout"]
        stats = acd.statistics().queues
        assert (stats["general"].answered, stats["billing"].entered, stats["billing"].timed_out) == (1, 1, 1)
        assert acd.statistics().agents["alice"].state is AgentState.READY  # back after no wrap-up


def test_a_call_ending_frees_both_its_agents_at_once_and_the_first_logged_in_takes_the_waiting_call() -> None:
    """Both agents are free at the same moment (the same idle time), so the one who logged
    in first takes the waiting call, whichever of them the ending released first. A
    hypothesis run of the core's state machine found the consulted agent taking it."""
    core = AcdCore(AcdSettings({"q1": QueueConfig("q1", wrap_up=0)}))
    core.login("a2", "sip:a2@pbx", {}, 0.0, ready=True)
    [offer] = core.add_call("c1", "q1", (), 0, 1.0)
    assert offer.agent_id == "a2"
    core.answered("c1", 2.0)
    core.login("a1", "sip:a1@pbx", {}, 3.0, ready=True)
    core.consult("c1", "a1", 4.0)
    core.consult_answered("c1", 5.0)
    assert core.add_call("c2", "q1", (), 0, 6.0) == []
    decisions = core.finished("c1", 7.0)
    assert decisions == [Offer("c2", "a2", "sip:a2@pbx")]
    assert state(core, "a1") is AgentState.READY and state(core, "a2") is AgentState.RESERVED
