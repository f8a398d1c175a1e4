"""The desktop's order form and agent flows in headless Chromium (Debian's, via playwright),
over the CTI with the brokerage's flows run by the real engine and the real demo back
office: the agent sends the caller into the PIN check from the call card (the card says
where the caller is, then what came back, never the PIN), looks a code up, has an order
refused in the IVR's words, reads the next one back and places it: the card shows the
order number and the caller's record holds it with the recording."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser_support import chromium_or_skip, open_browser
from cti_support import PASSWORDS, eventually, serving
from order_support import ACCOUNT, PIN, caller, key_in_flow, load_brokerage, open_back_office, order_cti

from ivr.flowlang.ir import Project
from ivr.runtime.acd import AgentState
from ivr.runtime.engine import CallOutcome


@pytest.fixture
def chromium() -> str:
    return chromium_or_skip()


@pytest.fixture(scope="module")
def brokerage() -> Project:
    return load_brokerage()


async def test_the_agent_checks_the_pin_then_reads_back_and_places_an_order_from_the_card(
    chromium: str, brokerage: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_back_office(tmp_path, monkeypatch)
    outcomes: list[CallOutcome] = []
    async with (
        order_cti(brokerage, answer_after=0.2) as (cti, operations),
        serving(cti.app) as url,
        open_browser(chromium) as browser,
    ):
        desk = await browser.desk(url)
        await desk.log_in("8001", PASSWORDS["8001"])
        await desk.click("#ready")
        await eventually(lambda: cti.state("8001") is AgentState.READY)
        leg = caller(cti, brokerage, operations, outcomes)
        card = desk.card("call-1")
        await desk.expect(f"{card} .status", attribute=("data-status", "talking"))
        await desk.expect(f"{card} .flow-buttons button", count=3)
        await desk.expect(f"{card} .order-identity", contains=f"{ACCOUNT} · 身份未验证")
        await desk.expect(f'{card} .facts dd[data-key="verified"]', text="未验证")

        await desk.click(f'{card} .flow-buttons button[data-flow="agent_pin"]')
        await desk.expect(f"{card} .status", attribute=("data-status", "in_flow"))
        await desk.expect(f"{card} .in-flow", contains="客户正在：验证交易密码")
        await desk.expect(f"{card} .hold", attribute=("disabled", ""))
        await key_in_flow(leg, "六位交易密码", f"{PIN}#")
        await desk.expect(f"{card} .status", attribute=("data-status", "talking"))
        await desk.expect(f"{card} .flow-results li", contains="验证交易密码: 交易密码验证通过")
        await desk.expect(f"{card} .order-identity", attribute=("data-verified", "true"))
        await desk.expect(f'{card} .facts dd[data-key="verified"]', text="已验证")

        await desk.click(f"{card} .order summary")
        await desk.fill(f"{card} .order-code", "601318")
        await desk.click(f"{card} .order-lookup")
        await desk.expect(f"{card} .order-quote", contains="中国平安 (SH)")
        price = await desk.do(lambda page: page.input_value(f"{card} .order-price"))
        assert price, "the last price fills the price field"
        await desk.fill(f"{card} .order-qty", "150")
        await desk.click(f"{card} .order-check")
        await desk.expect(f"{card} .order-refusal", text="委托未能受理：买入数量必须是一百股的整数倍")
        await desk.expect(f"{card} .order-script-box", visible=False)

        await desk.fill(f"{card} .order-qty", "100")
        await desk.click(f"{card} .order-check")
        await desk.expect(f"{card} .order-script", contains="您委托买入中国平安，代码601318，数量100股")
        await desk.click(f"{card} .order-place-agent")
        await desk.expect(f"{card} .order-result", contains="委托已受理，委托编号")
        order_no = await desk.do(lambda page: page.get_attribute(f"{card} .order-result", "data-order-no"))
        page = await desk.text("body")
        assert PIN not in page
        await desk.do(lambda page: page.select_option("#language", "en"))
        await desk.expect(f"{card} .flow-results li", contains="Trading PIN check: PIN verified")
        await desk.expect(f"{card} .order-identity", contains=f"{ACCOUNT} · identity verified")
        await desk.expect(f'{card} .flow-buttons button[data-flow="survey"]', text="Satisfaction survey")
        await desk.click(f"{card} .hangup")
        await eventually(lambda: bool(outcomes))
    [line] = [e.detail for e in cti.records.of("call-1", "agent_order")]
    assert line["order_no"] == order_no and line["recording"] == "call-1-agent-8001"
    assert cti.connector.labels["call-1"] == {"orders": [order_no]}
