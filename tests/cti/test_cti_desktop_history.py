"""The customer's history on the desktop, in headless Chromium (Debian's, via playwright):
an agent takes a call from Zhang Wei, who called four times before and placed orders; the
screen pop shows his last three calls with where they went, his last orders and his open
ticket; the customer page lists every section; a search finds another customer by account,
and an account of nobody here is refused in the agent's words. The stores are real SQLite (`history_support`).
IVR_SCREENSHOTS=docs/images refreshes the picture in docs/cti.md."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from browser_support import chromium_or_skip, open_browser
from cti_support import PASSWORDS, eventually, running_cti, serving
from history_support import ZHANG, seed

from ivr.adapters.history import HistoryReader, HistorySources
from ivr.runtime.acd import AgentState


@pytest.fixture
def chromium() -> str:
    return chromium_or_skip()


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> HistorySources:
    return seed(tmp_path_factory.mktemp("desk-history"))


async def test_the_screen_pop_sums_up_the_callers_history_and_opens_the_customer_page(
    chromium: str, sources: HistorySources
) -> None:
    async with (
        running_cti(answer_after=0.2, history=HistoryReader(sources)) as cti,
        serving(cti.app) as url,
        open_browser(chromium) as browser,
    ):
        desk = await browser.desk(url)
        await desk.log_in("8001", PASSWORDS["8001"])
        await desk.do(lambda page: page.select_option("#language", "en"))
        await desk.click("#ready")
        await eventually(lambda: cti.state("8001") is AgentState.READY)
        cti.call("live-1", caller=ZHANG, account="31000001", pin="135790")
        card = desk.card("live-1")
        await desk.expect(f"{card} .status", attribute=("data-status", "talking"))
        await desk.expect(f"{card} .history-summary .last-calls li", count=3)
        summary = await desk.text(f"{card} .history-summary")
        assert "Zhang Wei" in summary and "31000001" in summary
        assert "pick → ask → place → bye" in summary and "pick → agent" in summary
        assert "Sell 600519 × 100 @ 1500.00" in summary and "Buy 600519 × 100 @ 1400.00" in summary
        await desk.expect(f"{card} .history-summary .open-tickets li", count=1)
        assert "service" in await desk.text(f"{card} .open-tickets") and "fees" not in summary

        await desk.click(f"{card} .customer-page")
        await desk.expect("#customer .history-calls li", count=4)
        page = await desk.text("#customer")
        assert "Bank to broker 1000.00" in page and "margin_call · answered · confirmed" in page
        assert "sms · order_confirmation" in page and "queued" in page
        assert "secret_of_other_tenant" not in page and "135790" not in await desk.text("body")
        if folder := os.environ.get("IVR_SCREENSHOTS"):  # the picture in docs/cti.md
            shot = str(Path(folder) / "desk-customer-history.png")
            await desk.do(lambda page: page.screenshot(path=shot, full_page=True))

        await desk.fill("#customer-search input", "31000002")
        await desk.click("#customer-search button")
        await desk.expect("#customer .customer-who", contains="Li Na")
        await desk.expect("#customer .history-orders li", contains="Buy 601318 × 100 @ 52.00")
        await desk.fill("#customer-search input", "39999999")
        await desk.click("#customer-search button")
        await desk.expect("#customer .customer-error", text="No customer here has this account number.")
