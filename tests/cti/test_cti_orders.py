"""Orders an agent takes for a caller, over the CTI protocol, against the real demo back
office through the service's own data operations (SQLite, the A-share rules): a quote, the
read-back step with the back office's verdict, no order for a caller who has not proven who
they are, the PIN keyed in the flow the agent sent them to, then the order placed once, on
the caller's record with its recording; and an order confirmed by the caller's key."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cti_support import eventually
from order_support import ACCOUNT, PIN, caller, desk, key_in_flow, load_brokerage, open_back_office

from ivr.adapters.brokerage import operations as back_office
from ivr.flowlang.ir import Project
from ivr.runtime.engine import CallOutcome


@pytest.fixture(scope="module")
def brokerage() -> Project:
    return load_brokerage()


@pytest.fixture
def back_office_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return open_back_office(tmp_path, monkeypatch)


async def test_an_agent_takes_an_order_after_the_pin_check_and_it_leads_to_the_recording(
    brokerage: Project, back_office_db: Path
) -> None:
    outcomes: list[CallOutcome] = []
    async with desk(brokerage) as (cti, alice, operations):
        leg = caller(cti, brokerage, operations, outcomes)
        await alice.event("connected", call_id="call-1", timeout=10)
        quote = (await alice.ok("quote", call_id="call-1", code="601318"))["quote"]
        assert quote["name"] == "中国平安" and quote["market"] == "SH"
        order: dict[str, Any] = {"side": "buy", "code": "601318", "qty": 100, "price": quote["last"]}
        checked = await alice.ok("check_order", call_id="call-1", **order)
        assert checked["verdict"]["ok"] and checked["verdict"]["amount"] == str(Decimal(quote["last"]) * 100)
        assert "中国平安" in checked["readback"]["zh"] and "尾号0002" in checked["readback"]["zh"]
        assert checked["order"]["account"] == ACCOUNT and checked["verified"] is False
        placing = {**order, "key": "draft-0001", "readback": "agent"}
        refused = await alice.command("place_order", call_id="call-1", **placing)
        assert refused["error"]["code"] == "not_verified"

        await alice.ok("flow", call_id="call-1", flow="agent_pin")
        await key_in_flow(leg, "六位交易密码", f"{PIN}#")
        result = await alice.event("flow_result", call_id="call-1", timeout=10)
        assert result["outcome"] == "verified"
        changed = await alice.command("place_order", call_id="call-1", **{**placing, "qty": 200})
        assert changed["error"]["code"] == "not_read_back"  # only the order read back is placed

        placed = await alice.ok("place_order", call_id="call-1", **placing)
        order_no = placed["verdict"]["order_no"]
        assert placed["verdict"]["ok"] and placed["recording"] == "call-1-agent-8001" and placed["recorded"]
        again = await alice.command("place_order", call_id="call-1", **placing)
        assert again["error"]["code"] == "not_read_back", "placed once"
        await alice.ok("hangup", call_id="call-1")
        await eventually(lambda: bool(outcomes))
    [line] = [e.detail for e in cti.records.of("call-1", "agent_order")]
    assert (line["order_no"], line["agent"], line["account"], line["recording"]) == (
        order_no,
        "8001",
        ACCOUNT,
        "call-1-agent-8001",
    )
    assert line["readback"] == "agent" and line["qty"] == 100
    assert cti.connector.labels["call-1"] == {"orders": [order_no]}  # the recording's metadata
    status = back_office.order_status(account=ACCOUNT, order_no=order_no)
    assert status["found"] and status["side"] == "buy" and status["qty"] == 100
    assert PIN not in str([e.detail for e in cti.records.of("call-1")])


async def test_the_back_office_refuses_in_the_ivrs_words_and_nothing_is_read_back(
    brokerage: Project, back_office_db: Path
) -> None:
    async with desk(brokerage) as (cti, alice, operations):
        caller(cti, brokerage, operations, [])
        await alice.event("connected", call_id="call-1", timeout=10)
        unknown = await alice.command("quote", call_id="call-1", code="999999")
        assert unknown["error"]["code"] == "unknown_code"
        checked = await alice.ok(
            "check_order", call_id="call-1", side="buy", code="601318", qty=150, price="50.00"
        )
        assert checked["readback"] is None
        assert checked["verdict"]["refusal"]["reason"] == "lot_size"
        assert checked["verdict"]["refusal"]["zh"] == "买入数量必须是一百股的整数倍"
        placing = {"side": "buy", "code": "601318", "qty": 150, "price": "50.00", "key": "draft-0002"}
        refused = await alice.command("place_order", call_id="call-1", readback="agent", **placing)
        assert refused["error"]["code"] == "not_read_back"
        await alice.ok("hangup", call_id="call-1")


async def test_an_order_the_caller_confirms_by_key_in_the_read_back_flow(
    brokerage: Project, back_office_db: Path
) -> None:
    async with desk(brokerage) as (cti, alice, operations):
        leg = caller(cti, brokerage, operations, [])
        await alice.event("connected", call_id="call-1", timeout=10)
        await alice.ok("flow", call_id="call-1", flow="agent_pin")
        await key_in_flow(leg, "六位交易密码", f"{PIN}#")
        await alice.event("flow_result", call_id="call-1", timeout=10)
        order = {"side": "sell", "code": "601318", "qty": 100, "price": "52.00"}
        checked = await alice.ok("check_order", call_id="call-1", **order)
        assert checked["verdict"]["ok"], checked
        by_key = {**order, "key": "draft-0003", "readback": "ivr"}
        early = await alice.command("place_order", call_id="call-1", **by_key)
        assert early["error"]["code"] == "not_confirmed"
        await alice.ok("flow", call_id="call-1", flow="order_readback", inputs={**order, "name": "中国平安"})
        await key_in_flow(leg, "确认请按1", "1")
        result = await alice.event("flow_result", call_id="call-1", flow="order_readback", timeout=10)
        assert result["outcome"] == "confirmed"
        placed = await alice.ok("place_order", call_id="call-1", **by_key)
        assert placed["verdict"]["ok"] and placed["verdict"]["status"] == "new"
        await alice.ok("hangup", call_id="call-1")
    [line] = [e.detail for e in cti.records.of("call-1", "agent_order")]
    assert line["readback"] == "ivr" and line["side"] == "sell"
