"""The IVR context card on the agent desktop, in headless Chromium: a caller whose order was
refused presses 0, and the agent sees the draft order, why it was refused and the caller's
way through the menus (the failed step marked), from the screen data the brokerage flows
produce (flows/agent_key.test.yaml, run on the memory ports)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import trio
from cti_support import PASSWORDS, eventually, running_cti, serving
from test_cti_desktop import ARGS

from ivr.flowlang.project import load_project
from ivr.runtime.acd import AgentState
from ivr.runtime.flowtest.loader import load_test_file
from ivr.runtime.flowtest.runner import run_case

CHROMIUM = "/usr/bin/chromium"
FLOWS = Path(__file__).resolve().parents[2] / "flows"


@pytest.fixture
def chromium() -> str:
    pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    if shutil.which(CHROMIUM) is None:
        pytest.skip("apt-get install -y --no-upgrade chromium")
    return CHROMIUM


def refused_order_screen() -> dict[str, object]:
    """The screen data of the caller who pressed 0 after a refused order."""
    project, _ = load_project([FLOWS])
    walk, _ = load_test_file(str(FLOWS / "agent_key.test.yaml"))
    assert walk is not None
    [test] = [t for t in walk.tests if "orders.after_order" in t.name]
    result = run_case(project, test)
    assert result.passed, result.failures
    return dict(result.queued[-1].data)


async def test_the_desktop_shows_what_the_caller_did_in_the_ivr(chromium: str, tmp_path: Path) -> None:
    screen = await trio.to_thread.run_sync(refused_order_screen)  # a trio run of its own
    async with running_cti(answer_after=0.3) as cti, serving(cti.app) as url:

        async def offer_when_ready() -> None:
            def ready() -> bool:
                agent = cti.acd.statistics().agents.get("8001")
                return agent is not None and agent.state is AgentState.READY

            await eventually(ready, 20)
            cti.call("call-card-1", **screen)

        cti.nursery.start_soon(offer_when_ready)
        shot = tmp_path / "context-card.png"
        seen = await trio.to_thread.run_sync(_read_card, chromium, url, tmp_path / "profile", shot)
    assert seen["fields"]["Draft order"] == "沪市买入 600036 招商银行，100股，限价99.99元"
    assert seen["fields"]["Not accepted because"] == "委托价格超出涨跌幅限制"
    assert seen["fields"]["Service asked for"] == "电话委托"
    assert seen["steps"][-2:] == ["confirm order: entered", "after order: asked for an agent"]
    assert (
        "ivr_context" not in seen["screen"] and "Draft order" not in seen["screen"]
    )  # the card, not the table
    assert "314159" not in seen["page"]
    assert seen["marked"] == []  # no step failed on the way to this order
    assert seen["failed"] == {  # a failed entry reads as such (and is marked in red)
        "flow": "orders",
        "node": "ask_price",
        "edge": "on_invalid",
        "text": "ask price: 输入无效",
        "failed": True,
    }
    fields = list(seen["fields"])
    assert fields[:2] == ["Service asked for", "Identity"]  # the entry flow first, then where they were


def _read_card(chromium: str, url: str, profile: Path, shot: Path) -> dict[str, object]:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=chromium,
            headless=True,
            args=ARGS,
            viewport={"width": 1200, "height": 900},
        )
        try:
            page = context.new_page()
            page.set_default_timeout(15_000)
            page.goto(f"{url}/desktop/")
            page.fill("#extension", "8001")
            page.fill("#password", PASSWORDS["8001"])
            page.click("#login button[type=submit]")
            expect(page.locator("#state")).to_have_attribute("data-state", "not_ready")
            page.click("#ready")
            card = page.locator("#ivr-context")
            expect(card).to_be_visible()
            expect(card).to_contain_text("Draft order")
            page.screenshot(path=str(shot), full_page=True)
            failed = page.evaluate(
                "import('./context-card.js').then((m) => m.describeStep('orders.ask_price:on_invalid', 'zh'))"
            )
            terms = card.locator("dt").all_inner_texts()
            values = card.locator("dd").all_inner_texts()
            return {
                "fields": dict(zip(terms, values, strict=True)),
                "steps": card.locator(".ivr-path li").all_inner_texts(),
                "marked": card.locator(".ivr-path li.failed").all_inner_texts(),
                "failed": failed,
                "screen": page.inner_text("#screen"),
                "page": page.inner_text("body"),
            }
        finally:
            context.close()
