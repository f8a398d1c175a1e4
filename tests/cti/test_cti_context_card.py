"""The IVR context card on the agent desktop, in headless Chromium: a caller whose order was
refused presses 0, and the agent sees the draft order and why it was refused, labelled in
the desk's language, above the other screen data; the screen data is what the brokerage
flows produce for that caller (flows/agent_key.test.yaml, run on the memory ports)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio
from browser_support import chromium_or_skip, open_browser
from cti_support import PASSWORDS, Cti, eventually, running_cti, serving

from ivr.flowlang.project import load_project
from ivr.runtime.acd import AgentState
from ivr.runtime.flowtest.loader import load_test_file
from ivr.runtime.flowtest.runner import run_case

FLOWS = Path(__file__).resolve().parents[2] / "flows"


@pytest.fixture
def chromium() -> str:
    return chromium_or_skip()


def refused_order_screen() -> dict[str, object]:
    """The screen data of the caller who pressed 0 after a refused order (with the ACD's
    `ivr_path`, as the ACD adds it from the request)."""
    project, _ = load_project([FLOWS])
    walk, _ = load_test_file(str(FLOWS / "agent_key.test.yaml"))
    assert walk is not None
    [test] = [t for t in walk.tests if "orders.after_order" in t.name]
    result = run_case(project, test)
    assert result.passed, result.failures
    request = result.queued[-1]
    return {**request.data, "ivr_path": list(request.path)}


def ready(cti: Cti) -> bool:
    agent = cti.acd.statistics().agents.get("8001")
    return agent is not None and agent.state is AgentState.READY


def fields(page: Any, card: str) -> dict[str, str]:
    terms = page.locator(f"{card} .ivr-context dt").all_inner_texts()
    values = page.locator(f"{card} .ivr-context dd").all_inner_texts()
    return dict(zip(terms, values, strict=True))


async def test_the_desktop_shows_what_the_caller_did_in_the_ivr(chromium: str) -> None:
    screen = await trio.to_thread.run_sync(refused_order_screen)  # a trio run of its own
    async with (
        running_cti(answer_after=0.2) as cti,
        serving(cti.app) as url,
        open_browser(chromium) as browser,
    ):
        desk = await browser.desk(url)
        await desk.log_in("8001", PASSWORDS["8001"])
        await desk.click("#ready")
        await eventually(lambda: ready(cti))
        cti.call("call-card", **screen)
        card = desk.card("call-card")
        await desk.expect(f"{card} .status", attribute=("data-status", "talking"))
        await desk.expect(f"{card} .ivr-context", contains="来电在语音导航中的经过")
        shown = await desk.do(lambda page: fields(page, card))
        assert list(shown) == ["所选业务", "委托草稿", "未受理原因", "登录账号"]  # the entry flow first
        assert shown["委托草稿"] == "沪市买入 600036 招商银行，100股，限价99.99元"
        assert shown["未受理原因"] == "委托价格超出涨跌幅限制" and shown["所选业务"] == "电话委托"
        table = await desk.text(f"{card} .screen")
        assert "委托草稿" not in table and "ivr_context" not in table  # on the card, not in the table
        assert "after_order agent" in table  # the way through the IVR stays with the screen data
        assert "314159" not in await desk.text("body")

        await desk.do(lambda page: page.select_option("#language", "en"))
        await desk.expect(f"{card} .ivr-context", contains="What the caller did in the IVR")
        shown = await desk.do(lambda page: fields(page, card))
        assert shown["Draft order"] == "沪市买入 600036 招商银行，100股，限价99.99元"
        assert shown["Not accepted because"] == "委托价格超出涨跌幅限制"
