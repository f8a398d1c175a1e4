"""Agent -> flow -> agent over the CTI protocol: the brokerage's own flows run by the real
engine, a caller who pressed 0 talks with an agent, the agent sends the caller into the
PIN flow (`flow` command), the caller keys the PIN while nobody hears it, and the desktop
gets "verified" back with the call, never the PIN; refusals change nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import trio
from cti_support import Cti, MemoryTransport, eventually, running_cti

from ivr.adapters.cti.flows import desk_flows
from ivr.flowlang.ir import Project
from ivr.flowlang.project import load_project
from ivr.runtime.context import CallPorts
from ivr.runtime.engine import CallOutcome, Engine
from ivr.runtime.testing import FixtureOperations, MemoryCallLeg, MemoryChannels, VirtualWallClock
from ivr.runtime.testing.operations import Fixture

FLOWS = Path(__file__).parents[2] / "flows"
PIN = "314159"
IDENTIFIED = {
    "found": True, "vip": False, "vip_tier": "standard", "account": "31000002", "account_count": 1,
    "customer_name": "李娜", "customer_name_en": "Li Na", "caller_locked": False,
}  # fmt: skip


@pytest.fixture(scope="module")
def brokerage() -> Project:
    project, problems = load_project([FLOWS])
    assert not [d for d in problems if d.is_error]
    return project


@asynccontextmanager
async def desk(project: Project) -> AsyncIterator[tuple[Cti, MemoryTransport]]:
    async with running_cti(flows=desk_flows(project)) as cti:
        alice = await cti.desktop("8001")
        await alice.ok("state", state="ready")
        yield cti, alice


def caller(cti: Cti, project: Project, outcomes: list[CallOutcome]) -> MemoryCallLeg:
    """A caller of 95500 who picks Mandarin and presses 0 at the main menu."""
    fixtures = {
        "identify_caller": [Fixture(IDENTIFIED)],
        "verify_trading_pin": [Fixture({"ok": True, "locked": False, "attempts_left": 3}, when={"pin": PIN})],
    }
    clock = VirtualWallClock(datetime(2026, 11, 27, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    ports = CallPorts(FixtureOperations(fixtures), MemoryChannels(), cti.acd, cti.records, clock)
    leg = MemoryCallLeg(call_id="call-1", caller="13900139000", seconds_per_char=0.001)
    leg.press("10")

    async def run() -> None:
        outcomes.append(await Engine(project, ports).run_call(leg, "main"))

    cti.nursery.start_soon(run)
    return leg


def heard(leg: MemoryCallLeg, text: str) -> bool:
    return any(text in prompt.text for prompt in leg.prompts)


async def test_the_agent_sends_the_caller_to_key_the_pin_and_gets_verified_back(brokerage: Project) -> None:
    outcomes: list[CallOutcome] = []
    async with desk(brokerage) as (cti, alice):
        leg = caller(cti, brokerage, outcomes)
        offered = await alice.event("offered", call_id="call-1")
        assert offered["screen"]["account"] == "31000002" and offered["screen"]["verified"] is False
        await alice.event("connected", call_id="call-1")
        leg.press("7")  # a key pressed while talking is not part of the PIN
        answer = await alice.ok("flow", call_id="call-1", flow="agent_pin")
        assert answer["flow"] == "agent_pin"
        state = await alice.event("call_state", call_id="call-1", flow="agent_pin")
        assert state["status"] == "talking"
        assert cti.media("call-1").links == frozenset() and not cti.media("call-1").music
        with trio.fail_after(5):
            await leg.wait_for(lambda: heard(leg, "六位交易密码"))
        leg.press(f"{PIN}#")
        result = await alice.event("flow_result", call_id="call-1")
        assert (result["flow"], result["ending"], result["outcome"]) == ("agent_pin", "returned", "verified")
        assert result["outputs"] == {"verified": True, "verified_account": "31000002"}
        back = await alice.hear_until(lambda m: m.get("event") == "call_state" and m.get("results"))
        assert back["flow"] is None and back["results"] == [result]
        assert cti.media("call-1").links == {("caller", "agent"), ("agent", "caller")}
        assert heard(leg, "验证通过")
        await alice.ok("hangup", call_id="call-1")
        await eventually(lambda: bool(outcomes))
    assert outcomes[0].how == "completed" and outcomes[0].last_node == "goodbye"
    said = [m for m in alice.pending] + [result, state, back]
    assert PIN not in str(said)
    events = [(e.kind, dict(e.detail)) for e in cti.records.of("call-1")]
    assert ("agent_sent_to_flow", {"agent": "8001", "flow": "agent_pin"}) in events
    assert [d["phase"] for k, d in events if k == "agent_flow"] == ["started", "ended"]
    assert PIN not in str(events)


async def test_refused_flows_change_nothing(brokerage: Project) -> None:
    outcomes: list[CallOutcome] = []
    async with desk(brokerage) as (cti, alice):
        caller(cti, brokerage, outcomes)
        await alice.event("connected", call_id="call-1")
        refused = await alice.command("flow", call_id="call-1", flow="transfers")
        assert refused["error"]["code"] == "unknown_flow" and "agent_pin" in refused["error"]["message"]
        refused = await alice.command("flow", call_id="call-1", flow="order_readback")
        assert (
            refused["error"]["code"] == "flow_refused"
            and "needs the input 'side'" in refused["error"]["message"]
        )
        refused = await alice.command("flow", call_id="call-1", flow="agent_pin", inputs={"pin": "123456"})
        assert refused["error"]["code"] == "bad_field"
        assert cti.media("call-1").links == {("caller", "agent"), ("agent", "caller")}
        await alice.ok("flow", call_id="call-1", flow="survey")
        again = await alice.command("flow", call_id="call-1", flow="agent_pin")
        assert again["error"]["code"] == "bad_state"
        held = await alice.command("hold", call_id="call-1", on=True)
        assert held["error"]["code"] == "bad_state" and "survey" in held["error"]["message"]
        await alice.ok("hangup", call_id="call-1")  # the agent leaves while the caller is in the flow
        await eventually(lambda: bool(outcomes))
    assert outcomes[0].how == "completed" and outcomes[0].last_node == "goodbye"


async def test_order_readback_reads_the_desktops_order_and_comes_back_confirmed(brokerage: Project) -> None:
    outcomes: list[CallOutcome] = []
    async with desk(brokerage) as (cti, alice):
        leg = caller(cti, brokerage, outcomes)
        await alice.event("connected", call_id="call-1")
        order: dict[str, Any] = {
            "side": "buy",
            "code": "600519",
            "name": "贵州茅台",
            "qty": 100,
            "price": 1499.5,
        }
        await alice.ok("flow", call_id="call-1", flow="order_readback", inputs=order)
        with trio.fail_after(5):
            await leg.wait_for(lambda: heard(leg, "确认请按1"))
        assert heard(leg, "买入贵州茅台，代码六零零五一九，数量一百股，价格一千四百九十九点五零元")
        leg.press("1")
        result = await alice.event("flow_result", call_id="call-1")
        assert result["outcome"] == "confirmed" and result["outputs"] == {"confirmed": True}
        await alice.ok("hangup", call_id="call-1")
        await eventually(lambda: bool(outcomes))
