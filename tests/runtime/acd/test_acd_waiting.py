"""Waiting in the trio ACD: limits, hang-ups, and what the caller hears meanwhile."""

from __future__ import annotations

import trio
from acd_support import Callers

from ivr.runtime.acd import AcdSettings, AgentState, QueueConfig, open_acd
from ivr.runtime.testing.acd import AgentAnswer, MemoryAgentConnector

SILENT = AcdSettings({"general": QueueConfig("general", announce_every=None, wrap_up=0)})


async def test_a_call_waiting_longer_than_max_wait_times_out(autojump_clock: object) -> None:
    async with open_acd(MemoryAgentConnector(), SILENT) as acd, trio.open_nursery() as nursery:
        callers = Callers(acd, nursery)
        acd.login("a1", "sip:a1@pbx", {})  # logged in, never ready
        callers.start("c1", max_wait=30)
        await trio.sleep(29.9)
        assert callers.outcomes == {}
        await trio.sleep(0.2)
        assert callers.outcomes == {"c1": "timeout"}
        stats = acd.statistics().queues["general"]
    assert (stats.waiting, stats.timed_out, stats.entered) == (0, 1, 1)


async def test_no_agent_logged_in_turns_the_call_away_at_once(autojump_clock: object) -> None:
    async with open_acd(MemoryAgentConnector(), SILENT) as acd, trio.open_nursery() as nursery:
        callers = Callers(acd, nursery)
        acd.login("a1", "sip:a1@pbx", {"funds": 1}, ready=True)
        callers.start("c1", skills=["stocks"])
        await trio.sleep(1)
        assert callers.outcomes == {"c1": "no_agents"}
        assert callers.ended_at == {"c1": 0}
        assert acd.statistics().queues["general"].no_agents == 1


async def test_waiting_calls_get_no_agents_when_the_last_capable_agent_logs_out(
    autojump_clock: object,
) -> None:
    async with open_acd(MemoryAgentConnector(), SILENT) as acd, trio.open_nursery() as nursery:
        callers = Callers(acd, nursery)
        acd.login("a1", "sip:a1@pbx", {"stocks": 1})
        acd.login("a2", "sip:a2@pbx", {"stocks": 1, "funds": 1})
        callers.start("stocks", skills=["stocks"])
        callers.start("funds", skills=["funds"])
        await trio.sleep(10)
        acd.logout("a2")
        await trio.sleep(0.01)
        assert callers.outcomes == {"funds": "no_agents"}
        acd.set_ready("a1")
    assert callers.outcomes == {"funds": "no_agents", "stocks": "completed"}


async def test_a_full_queue_overflows(autojump_clock: object) -> None:
    settings = AcdSettings({"general": QueueConfig("general", capacity=2, announce_every=None)})
    async with open_acd(MemoryAgentConnector(), settings) as acd, trio.open_nursery() as nursery:
        callers = Callers(acd, nursery)
        acd.login("a1", "sip:a1@pbx", {})
        for call_id in ("c1", "c2", "c3"):
            callers.start(call_id, max_wait=60)
            await trio.sleep(1)
        assert callers.outcomes == {"c3": "overflow"}
        assert acd.statistics().queues["general"].overflowed == 1


async def test_a_caller_hanging_up_while_waiting_is_abandoned_and_reserves_no_agent(
    autojump_clock: object,
) -> None:
    connector = MemoryAgentConnector()
    async with open_acd(connector, SILENT) as acd, trio.open_nursery() as nursery:
        callers = Callers(acd, nursery)
        acd.login("a1", "sip:a1@pbx", {})
        leg = callers.start("c1")
        await trio.sleep(10)
        leg.hang_up()
        await trio.sleep(1)
        acd.set_ready("a1")
        await trio.sleep(1)
        stats = acd.statistics()
    assert callers.outcomes == {"c1": "hung_up"}
    assert connector.rings == []
    assert stats.agents["a1"].state is AgentState.READY
    assert (stats.queues["general"].abandoned, stats.queues["general"].waiting) == (1, 0)


async def test_a_caller_hanging_up_while_the_agent_rings_frees_the_agent(autojump_clock: object) -> None:
    connector = MemoryAgentConnector(default=AgentAnswer(ring=10))
    async with open_acd(connector, SILENT) as acd, trio.open_nursery() as nursery:
        callers = Callers(acd, nursery)
        acd.login("a1", "sip:a1@pbx", {}, ready=True)
        callers.start("c1")
        await trio.sleep(5)
        callers.legs["c1"].hang_up()
        await trio.sleep(0.1)
        stats = acd.statistics()
    assert stats.agents["a1"].state is AgentState.READY
    assert stats.agents["a1"].idle_since == 0  # it did not get to talk: still idle since login
    assert stats.queues["general"].abandoned == 1


async def test_waiting_callers_hear_their_position_and_hold_music(autojump_clock: object) -> None:
    config = QueueConfig("general", announce_every=30, music="audio/hold.wav", default_handle_time=120)
    settings = AcdSettings({"general": config})
    async with open_acd(MemoryAgentConnector(), settings) as acd, trio.open_nursery() as nursery:
        callers = Callers(acd, nursery)
        acd.login("a1", "sip:a1@pbx", {})
        first = callers.start("c1", max_wait=65)
        await trio.sleep(1)
        second = callers.start("c2", max_wait=64)
    spoken = [(p.started, p.text) for p in second.prompts if p.text]
    assert spoken == [
        (1, "You are number 2 in the queue. Your expected wait is about 4 minutes."),
        (31, "You are number 2 in the queue. Your expected wait is about 4 minutes."),
        (61, "You are number 2 in the queue. Your expected wait is about 4 minutes."),
    ]
    assert [p.text[:16] for p in first.prompts if p.text] == ["You are number 1"] * 3
    music = [p for p in first.prompts if p.audio]
    assert music and all(p.audio == "audio/hold.wav" and p.text == "" for p in music)
