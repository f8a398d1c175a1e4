"""Routing through the trio ACD: who gets which call, in which order."""

from __future__ import annotations

import trio
import trio.lowlevel
from acd_support import Callers

from ivr.runtime.acd import AcdSettings, AgentState, QueueConfig, open_acd
from ivr.runtime.testing.acd import AgentAnswer, MemoryAgentConnector

QUICK = AcdSettings({"general": QueueConfig("general", wrap_up=0, announce_every=None)})


def ringed(connector: MemoryAgentConnector) -> list[tuple[str, str]]:
    return [(ring.call_id, ring.agent_id) for ring in connector.rings]


async def test_vip_jumps_the_queue_and_fifo_holds_within_a_priority(autojump_clock: object) -> None:
    connector = MemoryAgentConnector(default=AgentAnswer(ring=1, talk=10))
    async with open_acd(connector, QUICK) as acd, trio.open_nursery() as nursery:
        callers = Callers(acd, nursery)
        acd.login("a1", "sip:a1@pbx", {})
        for call_id, priority in [("c1", 0), ("c2", 0), ("vip", 10), ("c3", 0)]:
            callers.start(call_id, priority=priority)
            await trio.sleep(1)
        acd.set_ready("a1")
    assert [call for call, _ in ringed(connector)] == ["vip", "c1", "c2", "c3"]
    assert set(callers.outcomes.values()) == {"completed"}


async def test_the_longest_idle_agent_takes_the_call(autojump_clock: object) -> None:
    connector = MemoryAgentConnector(default=AgentAnswer(ring=1, talk=10))
    async with open_acd(connector, QUICK) as acd, trio.open_nursery() as nursery:
        callers = Callers(acd, nursery)
        acd.login("a1", "sip:a1@pbx", {}, ready=True)
        await trio.sleep(5)
        acd.login("a2", "sip:a2@pbx", {}, ready=True)
        await trio.sleep(5)
        acd.login("a3", "sip:a3@pbx", {}, ready=True)
        await trio.sleep(5)
        callers.start("c1")
        await trio.sleep(0.1)
        callers.start("c2")
    assert ringed(connector) == [("c1", "a1"), ("c2", "a2")]


async def test_calls_only_go_to_agents_with_every_required_skill(autojump_clock: object) -> None:
    settings = AcdSettings({"trading": QueueConfig("trading", skills=("stocks",), wrap_up=0)})
    connector = MemoryAgentConnector()
    async with open_acd(connector, settings) as acd, trio.open_nursery() as nursery:
        callers = Callers(acd, nursery)
        acd.login("funds-only", "sip:f@pbx", {"funds": 5}, ready=True)
        acd.login("stocks-only", "sip:s@pbx", {"stocks": 5}, ready=True)
        acd.login("both", "sip:b@pbx", {"stocks": 1, "margin": 1}, ready=True)
        callers.start("c1", queue="trading", skills=["margin"])
        await trio.sleep(0.1)
        callers.start("c2", queue="trading")
    assert ringed(connector) == [("c1", "both"), ("c2", "stocks-only")]


async def test_a_vip_call_goes_to_the_most_skilled_ready_agent(autojump_clock: object) -> None:
    settings = AcdSettings({"general": QueueConfig("general", wrap_up=0, vip_priority=10)})
    connector = MemoryAgentConnector()
    async with open_acd(connector, settings) as acd, trio.open_nursery() as nursery:
        callers = Callers(acd, nursery)
        acd.login("junior", "sip:j@pbx", {"orders": 1}, ready=True)
        await trio.sleep(5)
        acd.login("senior", "sip:s@pbx", {"orders": 5}, ready=True)
        callers.start("vip", skills=["orders"], priority=10)
        await trio.sleep(0.5)
        callers.start("regular", skills=["orders"], priority=0)
    assert ringed(connector) == [("vip", "senior"), ("regular", "junior")]


async def test_an_agent_who_does_not_answer_goes_not_ready_and_the_call_returns_to_the_head(
    autojump_clock: object,
) -> None:
    connector = MemoryAgentConnector(default=AgentAnswer(ring=1, talk=10))
    connector.script("a1", AgentAnswer("no_answer"))
    settings = AcdSettings({"general": QueueConfig("general", wrap_up=0, ring_timeout=15)})
    async with open_acd(connector, settings) as acd, trio.open_nursery() as nursery:
        callers = Callers(acd, nursery)
        acd.login("a1", "sip:a1@pbx", {})
        callers.start("c1")
        await trio.sleep(1)
        callers.start("c2")
        await trio.sleep(1)
        acd.set_ready("a1")
        await trio.sleep(16)  # rang 15 s unanswered
        assert acd.statistics().agents["a1"].state is AgentState.NOT_READY
        assert acd.statistics().agents["a1"].no_answers == 1
        acd.login("a2", "sip:a2@pbx", {}, ready=True)
    assert ringed(connector) == [("c1", "a1"), ("c1", "a2"), ("c2", "a2")]
    assert callers.outcomes == {"c1": "completed", "c2": "completed"}


async def test_with_a_cooldown_the_agent_becomes_ready_again_by_itself(autojump_clock: object) -> None:
    connector = MemoryAgentConnector(default=AgentAnswer(ring=1, talk=10))
    connector.script("a1", AgentAnswer("busy", ring=0))
    settings = AcdSettings({"general": QueueConfig("general", wrap_up=0)}, no_answer_cooldown=30)
    async with open_acd(connector, settings) as acd, trio.open_nursery() as nursery:
        callers = Callers(acd, nursery)
        acd.login("a1", "sip:a1@pbx", {}, ready=True)
        callers.start("c1")
        await trio.sleep(29)
        assert len(connector.rings) == 1
    assert [ring.at for ring in connector.rings] == [0, 30]
    assert callers.outcomes == {"c1": "completed"}


async def test_wrap_up_blocks_offers_until_it_ends(autojump_clock: object) -> None:
    settings = AcdSettings({"general": QueueConfig("general", wrap_up=20, announce_every=None)})
    connector = MemoryAgentConnector(default=AgentAnswer(ring=1, talk=10))
    async with open_acd(connector, settings) as acd, trio.open_nursery() as nursery:
        callers = Callers(acd, nursery)
        acd.login("a1", "sip:a1@pbx", {}, ready=True)
        for call_id in ("c1", "c2", "c3"):
            callers.start(call_id)
            await trio.lowlevel.checkpoint()  # each caller queues before the next
        await trio.sleep(12)
        assert acd.statistics().agents["a1"].state is AgentState.WRAP_UP
        await trio.sleep(31)  # c1 ends at 11, c2 is offered at 31 and ends at 42
        assert acd.statistics().agents["a1"].state is AgentState.WRAP_UP
        acd.end_wrap_up("a1")  # the agent is ready early, at 43
    assert [ring.at for ring in connector.rings] == [0, 31, 43]
