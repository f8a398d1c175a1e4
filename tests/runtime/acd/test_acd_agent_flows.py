"""Agent -> flow -> agent in the runtime: an agent in conversation sends the queued caller
into one of the service's agent flows (`CallFlowRunner`, handed to the ACD by the `enqueue`
step), the caller keys a PIN there, and the agent gets the outcome back, never the PIN."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import trio

from ivr.flowlang.ir import Project
from ivr.flowlang.project import load_project
from ivr.runtime.acd import AcdSettings, QueueConfig, open_acd
from ivr.runtime.agent_flows import CallFlowRunner
from ivr.runtime.context import CallContext, CallPorts, Frame
from ivr.runtime.engine import Engine, run_flow
from ivr.runtime.ports import FlowRefused, FlowResult
from ivr.runtime.testing import (
    FixtureOperations,
    MemoryCallLeg,
    MemoryCallRecords,
    MemoryChannels,
    VirtualWallClock,
)
from ivr.runtime.testing.acd import AgentAnswer, MemoryAgentConnector
from ivr.runtime.testing.operations import Fixture

SERVICE = """
service: desk
languages: [en]
numbers: {"100": main}
operations:
  verify_pin: {backend: python, function: "m:f", params: [account, pin], returns: [ok]}
queues: {general: {skills: [general]}}
agent_flows:
  pin_check:
    label: {en: PIN check}
    outcomes: {verified: {en: PIN verified}, failed: {en: PIN not verified}}
"""
MAIN = """
flow: main
languages: [en]
start: agent
nodes:
  agent:
    type: enqueue
    queue: general
    data: {account: "'31000001'"}
    next: bye
    on_timeout: bye
    on_overflow: bye
    on_no_agents: bye
  bye: {type: hangup, prompt: Goodbye}
"""
PIN_CHECK = """
flow: pin_check
languages: [en]
inputs:
  account: {type: string}
outputs:
  verified: {type: boolean, initial: false}
  last_digits: {type: string, initial: ""}
variables:
  pin: {type: string, secret: true}
  check: {type: map, initial: {}}
start: ask
nodes:
  ask:
    type: collect
    prompt: Key your PIN then hash
    into: pin
    min_length: 4
    max_length: 6
    terminator: "#"
    max_retries: 0
    next: verify
    on_no_input: failed
    on_invalid: failed
  verify:
    type: lookup
    operation: verify_pin
    args: {account: account, pin: pin}
    assign: {check: result}
    next: judge
  judge:
    type: branch
    cases:
      - {if: check.ok, next: ok}
    else: failed
  ok:
    type: set
    assign: {verified: "true", last_digits: "substr(account, -2)"}
    next: back
  back: {type: return, outcome: verified}
  failed: {type: return, outcome: failed}
"""
NOT_OFFERED = """
flow: transfers
languages: [en]
start: done
nodes:
  done: {type: return, outcome: done}
"""


@pytest.fixture
def project(tmp_path: Path) -> Project:
    for name, text in {
        "service": SERVICE,
        "main": MAIN,
        "pin_check": PIN_CHECK,
        "transfers": NOT_OFFERED,
    }.items():
        (tmp_path / f"{name}.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    loaded, problems = load_project([tmp_path])
    assert not [d for d in problems if d.is_error], problems
    return loaded


def ports(records: MemoryCallRecords, routing: object, *fixtures: Fixture) -> CallPorts:
    operations = FixtureOperations({"verify_pin": list(fixtures)})
    clock = VirtualWallClock(datetime(2026, 11, 27, 2, 0, tzinfo=UTC))
    return CallPorts(operations, MemoryChannels(), routing, records, clock)  # type: ignore[arg-type]


def settings() -> AcdSettings:
    return AcdSettings({"general": QueueConfig("general", ("general",), announce_every=None)})


async def test_the_agent_sends_the_caller_to_key_a_pin_and_gets_verified_back_never_the_pin(
    project: Project, autojump_clock: object
) -> None:
    answer = AgentAnswer(ring=1, talk=5, flow="pin_check", inputs={"account": "31000001"})
    connector, records = MemoryAgentConnector(default=answer), MemoryCallRecords()
    async with open_acd(connector, settings()) as acd:
        acd.login("a1", "sip:a1@pbx", {"general": 3}, ready=True)
        leg = MemoryCallLeg()
        leg.press("99")  # keys pressed while waiting are not the PIN
        engine = Engine(project, ports(records, acd, Fixture({"ok": True}, when={"pin": "2468"})))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(engine.run_call, leg, "main")
            await leg.wait_for(lambda: any("PIN" in p.text for p in leg.prompts))
            leg.press("2468#")
    [(call_id, result)] = connector.flow_results
    assert call_id == leg.call_id
    assert result == FlowResult("pin_check", "returned", "verified", {"verified": True, "last_digits": "01"})
    assert [p.text for p in leg.prompts] == ["Key your PIN then hash", "Goodbye"]
    assert leg.secret_spans == 1  # recordings kept silence while the PIN was keyed
    lines = records.of(leg.call_id, "agent_flow")
    assert [line.detail["phase"] for line in lines] == ["started", "ended"]
    assert lines[1].detail["outcome"] == "verified" and lines[1].detail["ending"] == "returned"
    assert "2468" not in str([e.detail for e in records.of(leg.call_id)])
    assert acd.statistics().queues["general"].answered == 1


async def test_a_wrong_pin_comes_back_as_failed(project: Project, autojump_clock: object) -> None:
    answer = AgentAnswer(ring=1, talk=5, flow="pin_check", inputs={"account": "31000001"})
    connector = MemoryAgentConnector(default=answer)
    async with open_acd(connector, settings()) as acd:
        acd.login("a1", "sip:a1@pbx", {"general": 3}, ready=True)
        leg = MemoryCallLeg()
        engine = Engine(project, ports(MemoryCallRecords(), acd, Fixture({"ok": False})))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(engine.run_call, leg, "main")
            await leg.wait_for(lambda: bool(leg.prompts))
            leg.press("1111#")
    [(_, result)] = connector.flow_results
    assert (result.ending, result.outcome, result.outputs["verified"]) == ("returned", "failed", False)


def runner(
    project: Project, records: MemoryCallRecords, leg: MemoryCallLeg, *fixtures: Fixture
) -> CallFlowRunner:
    top = Frame.start(project.flows["main"], {})
    call = CallContext(leg, ports(records, None, *fixtures), project, "en", run_flow, [top])
    return CallFlowRunner(call)


async def test_only_declared_agent_flows_with_their_required_inputs_may_run(project: Project) -> None:
    flows = runner(project, MemoryCallRecords(), MemoryCallLeg())
    with pytest.raises(FlowRefused, match="may not send callers into flow 'transfers'"):
        flows.check("transfers", {})
    with pytest.raises(FlowRefused, match="needs the input 'account'"):
        flows.check("pin_check", {"other": "x"})
    with pytest.raises(FlowRefused, match="must be a string"):
        flows.check("pin_check", {"account": True})
    flows.check("pin_check", {"account": 31000001, "unknown": "ignored"})
    with pytest.raises(FlowRefused):
        await flows.run("nope", {})


async def test_a_flow_that_fails_gives_the_caller_back_as_failed(
    project: Project, autojump_clock: object
) -> None:
    leg = MemoryCallLeg()
    flows = runner(project, MemoryCallRecords(), leg)  # no fixture: the lookup has no on_error edge
    async with trio.open_nursery() as nursery:

        async def key() -> None:
            await leg.wait_for(lambda: bool(leg.prompts))
            leg.press("1234#")

        nursery.start_soon(key)
        result = await flows.run("pin_check", {"account": "31000001"})
    assert result == FlowResult("pin_check", "failed")
    assert len(flows.call.stack) == 1  # the flow's frame is gone again


async def test_a_caller_who_hangs_up_in_the_flow_ends_the_call(
    project: Project, autojump_clock: object
) -> None:
    answer = AgentAnswer(ring=1, talk=5, flow="pin_check", inputs={"account": "31000001"})
    connector = MemoryAgentConnector(default=answer)
    async with open_acd(connector, settings()) as acd:
        acd.login("a1", "sip:a1@pbx", {"general": 3}, ready=True)
        leg = MemoryCallLeg()
        engine = Engine(project, ports(MemoryCallRecords(), acd))
        async with trio.open_nursery() as nursery:

            async def hang_up_in_the_flow() -> None:
                await leg.wait_for(lambda: bool(leg.prompts))
                leg.hang_up()

            nursery.start_soon(hang_up_in_the_flow)
            outcome = await engine.run_call(leg, "main")
    assert outcome.how == "caller_hangup" and connector.flow_results == []
    assert Decimal(trio.current_time()) < 60
