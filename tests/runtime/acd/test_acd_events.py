"""The ACD's event stream and statistics, as the CTI server and wallboards see them."""

from __future__ import annotations

import pytest
import trio
from acd_support import Callers

from ivr.runtime.acd import (
    AcdSettings,
    AgentState,
    AgentStateChanged,
    AgentStateError,
    CallConnected,
    CallFinished,
    CallOffered,
    EventHub,
    QueueChanged,
    QueueConfig,
    UnknownAgent,
    open_acd,
)
from ivr.runtime.testing.acd import AgentAnswer, MemoryAgentConnector

SETTINGS = AcdSettings(
    {"general": QueueConfig("general", wrap_up=5, announce_every=None, service_level_threshold=20)}
)


async def test_subscribers_see_offer_connect_and_end_with_screen_data(autojump_clock: object) -> None:
    connector = MemoryAgentConnector(default=AgentAnswer(ring=2, talk=30))
    async with open_acd(connector, SETTINGS) as acd, trio.open_nursery() as nursery:
        events = acd.subscribe()
        callers = Callers(acd, nursery)
        acd.login("a1", "sip:a1@pbx", {}, ready=True)
        callers.start("c1")
        await trio.sleep(40)  # past the wrap-up
    seen = []
    while True:
        try:
            seen.append(events.receive_nowait())
        except trio.WouldBlock:
            break
    calls = [e for e in seen if isinstance(e, CallOffered | CallConnected | CallFinished)]
    assert [(type(e).__name__, e.at) for e in calls] == [
        ("CallOffered", 0),
        ("CallConnected", 2),
        ("CallFinished", 32),
    ]
    offered = calls[0]
    assert isinstance(offered, CallOffered)
    assert offered.screen["account"] == "A-1" and offered.screen["caller"] == "13800000000"
    states = [e.state for e in seen if isinstance(e, AgentStateChanged)]
    assert states == [
        AgentState.READY,
        AgentState.RESERVED,
        AgentState.ON_CALL,
        AgentState.WRAP_UP,
        AgentState.READY,
    ]
    assert [e.waiting for e in seen if isinstance(e, QueueChanged)] == [1, 0]


async def test_a_slow_subscriber_is_dropped_without_holding_up_the_others() -> None:
    hub = EventHub()
    slow, fast = hub.subscribe(buffer=1), hub.subscribe(buffer=10)
    for waiting in range(3):
        hub.publish(QueueChanged(0.0, "general", waiting))
    assert hub.subscribers == 1
    assert (await slow.receive()).waiting == 0  # type: ignore[union-attr]
    with pytest.raises(trio.EndOfChannel):
        await slow.receive()
    assert [fast.receive_nowait().waiting for _ in range(3)] == [0, 1, 2]  # type: ignore[union-attr]


async def test_statistics_count_answers_service_level_waits_and_handle_times(autojump_clock: object) -> None:
    connector = MemoryAgentConnector(default=AgentAnswer(ring=0, talk=60))
    async with open_acd(connector, SETTINGS) as acd, trio.open_nursery() as nursery:
        callers = Callers(acd, nursery)
        acd.login("a1", "sip:a1@pbx", {})
        for call_id in ("c1", "c2"):
            callers.start(call_id)
            await trio.sleep(10)
        stats = acd.statistics().queues["general"]
        assert (stats.waiting, stats.longest_wait, stats.service_level) == (2, 20, None)
        acd.set_ready("a1")  # c1 answered after 20 s, c2 at 20 + 60 + 5 = 85 (75 s wait)
        await trio.sleep(1)
        acd.login("a2", "sip:a2@pbx", {"extra": 1})
    stats = acd.statistics().queues["general"]
    assert (stats.answered, stats.answered_within_threshold, stats.service_level) == (2, 1, 50.0)
    assert (stats.average_wait, stats.average_handle_time) == (47.5, 60.0)
    agents = acd.statistics().agents
    assert agents["a1"].calls_handled == 2 and agents["a2"].calls_handled == 0


async def test_agent_requests_that_do_not_fit_the_state_explain_themselves(autojump_clock: object) -> None:
    connector = MemoryAgentConnector(default=AgentAnswer(ring=0, talk=60))
    async with open_acd(connector, SETTINGS) as acd, trio.open_nursery() as nursery:
        callers = Callers(acd, nursery)
        with pytest.raises(UnknownAgent, match="log in first"):
            acd.set_ready("ghost")
        acd.login("a1", "sip:a1@pbx", {}, ready=True)
        with pytest.raises(AgentStateError, match="already logged in"):
            acd.login("a1", "sip:a1@pbx", {})
        callers.start("c1")
        await trio.sleep(1)
        with pytest.raises(AgentStateError, match="cannot log out while on_call"):
            acd.logout("a1")
