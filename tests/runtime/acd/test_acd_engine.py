"""One call from a flow's `enqueue` node through the trio ACD to an agent and back."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime

import trio

from ivr.flowlang.compile import compile_flow
from ivr.flowlang.ir import Flow, Project
from ivr.flowlang.yamlsource import load_yaml
from ivr.runtime.acd import AcdSettings, QueueConfig, open_acd
from ivr.runtime.context import CallPorts
from ivr.runtime.engine import Engine
from ivr.runtime.ports import AgentRouting, CallLeg, QueueOutcome, QueueRequest
from ivr.runtime.testing import (
    FixtureOperations,
    MemoryCallLeg,
    MemoryCallRecords,
    MemoryChannels,
    VirtualWallClock,
)
from ivr.runtime.testing.acd import AgentAnswer, MemoryAgentConnector


def flow(text: str) -> Flow:
    loaded = load_yaml(textwrap.dedent(text), "flows/main.yaml")
    compiled, problems = compile_flow(loaded.data, loaded.source_map, "flows/main.yaml")
    assert compiled is not None and not [d for d in problems if d.is_error], problems
    return compiled


def heard(leg: MemoryCallLeg) -> list[str]:
    return [prompt.text for prompt in leg.prompts]


AGENT_FLOW = flow(
    """
    flow: main
    languages: [en]
    variables:
      vip: {type: boolean, initial: true}
    start: agent
    nodes:
      agent:
        type: enqueue
        queue: general
        skills: [orders]
        priority: "10 if vip else 0"
        data: {reason: "'order'"}
        max_wait: 60s
        next: bye
        on_timeout: sorry
        on_overflow: sorry
        on_no_agents: sorry
      bye:
        type: say
        prompt: Goodbye
        next: done
      sorry:
        type: say
        prompt: Nobody could take your call
        next: done
      done:
        type: hangup
    """
)


def engine(routing: AgentRouting) -> Engine:
    clock = VirtualWallClock(datetime(2026, 11, 27, 2, 0, tzinfo=UTC))
    ports = CallPorts(FixtureOperations(), MemoryChannels(), routing, MemoryCallRecords(), clock)
    return Engine(Project({"main": AGENT_FLOW}, None, {}), ports)


async def test_a_flow_reaches_an_agent_and_goes_on_after_the_conversation(autojump_clock: object) -> None:
    connector = MemoryAgentConnector(default=AgentAnswer(ring=3, talk=40))
    settings = AcdSettings({"general": QueueConfig("general", announce_every=None)})
    async with open_acd(connector, settings) as acd:
        acd.login("a1", "sip:a1@pbx", {"orders": 3}, ready=True)
        leg = MemoryCallLeg()
        outcome = await engine(acd).run_call(leg, "main")
    assert heard(leg) == ["Goodbye"]
    assert outcome.how != "failed"
    assert connector.rings[0].screen["reason"] == "order"
    assert acd.statistics().queues["general"].answered == 1


async def test_a_flow_takes_its_no_agents_edge(autojump_clock: object) -> None:
    async with open_acd(MemoryAgentConnector()) as acd:
        leg = MemoryCallLeg()
        await engine(acd).run_call(leg, "main")
        assert trio.current_time() < 5
    assert heard(leg) == ["Nobody could take your call"]


async def test_a_caller_hanging_up_in_the_queue_is_counted_as_abandoned(autojump_clock: object) -> None:
    async with open_acd(MemoryAgentConnector()) as acd, trio.open_nursery() as nursery:
        acd.login("a1", "sip:a1@pbx", {"orders": 3})
        leg = MemoryCallLeg()
        nursery.start_soon(engine(acd).run_call, leg, "main")
        await trio.sleep(10)
        leg.hang_up()
        await trio.sleep(1)
        stats = acd.statistics().queues["general"]
    assert (stats.abandoned, stats.waiting) == (1, 0)


MENU_FLOW = flow(
    """
    flow: main
    languages: [zh, en]
    start: pick
    nodes:
      pick:
        type: menu
        prompt: {zh: 请选择, en: Choose}
        options: {"2": english, "0": agent}
        on_no_input: agent
        on_no_match: agent
      english:
        type: language
        language: en
        next: again
      again:
        type: menu
        prompt: {zh: 请选择, en: Choose}
        options: {"0": agent}
        on_no_input: agent
        on_no_match: agent
      agent:
        type: enqueue
        queue: general
        data: {reason: "'help'"}
        next: done
        on_timeout: done
        on_overflow: done
        on_no_agents: done
      done:
        type: hangup
    """
)


class RecordingRouting:
    """`AgentRouting` that keeps the requests it got (and answers "completed")."""

    def __init__(self) -> None:
        self.requests: list[QueueRequest] = []

    async def enqueue(self, leg: CallLeg, request: QueueRequest) -> QueueOutcome:
        self.requests.append(request)
        return "completed"


async def test_the_queue_request_carries_the_calls_language_and_its_menu_path(
    autojump_clock: object,
) -> None:
    routing = RecordingRouting()
    clock = VirtualWallClock(datetime(2026, 11, 27, 2, 0, tzinfo=UTC))
    ports = CallPorts(FixtureOperations(), MemoryChannels(), routing, MemoryCallRecords(), clock)
    leg = MemoryCallLeg()
    leg.press("20")
    await Engine(Project({"main": MENU_FLOW}, None, {}), ports).run_call(leg, "main")
    [request] = routing.requests
    assert request.language == "en"  # the flow switched to English before the queue
    assert tuple(request.path) == ("main.pick:2", "main.again:0")
