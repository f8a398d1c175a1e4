"""The agent desktop in headless Chromium (Debian's, driven by playwright): log in, go
ready, get a screen pop with what the IVR collected (no PIN), hang up, save a disposition,
and find it on the call record."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import trio
from cti_support import PASSWORDS, eventually, running_cti, serving

from ivr.runtime.acd import AgentState

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def chromium() -> str:
    pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    if shutil.which(CHROMIUM) is None:
        pytest.skip("apt-get install -y --no-upgrade chromium")
    return CHROMIUM


async def test_an_agent_takes_a_call_on_the_desktop_and_saves_a_disposition(
    chromium: str, tmp_path: Path
) -> None:
    async with running_cti(answer_after=0.3) as cti, serving(cti.app) as url:

        async def offer_when_ready() -> None:
            def ready() -> bool:
                agent = cti.acd.statistics().agents.get("8001")
                return agent is not None and agent.state is AgentState.READY

            await eventually(ready, 20)
            cti.call(
                "call-desk-1",
                customer="Li Wei",
                tier="Gold",
                account={"number": "6222-0012", "balance": "1523.40", "pin": "4321"},
                intent="lost card",
                pin="1234",
            )

        cti.nursery.start_soon(offer_when_ready)
        shot = tmp_path / "desktop.png"
        texts = await trio.to_thread.run_sync(_drive_desktop, chromium, url, tmp_path / "profile", shot)
        assert (
            "Li Wei" in texts["screen"] and "lost card" in texts["screen"] and "6222-0012" in texts["screen"]
        )
        assert "1234" not in texts["page"] and "4321" not in texts["page"] and "Pin" not in texts["screen"]
        assert texts["notice"] == "Disposition saved"
        [event] = cti.records.of("call-desk-1", "agent_wrapup")
        assert (
            event.detail["disposition"] == "follow_up"
            and event.detail["notes"] == "Card blocked; courier Monday"
        )
        assert cti.outcomes["call-desk-1"] == "completed"


def _drive_desktop(chromium: str, url: str, profile: Path, shot: Path) -> dict[str, str]:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=chromium,
            headless=True,
            args=ARGS,
            viewport={"width": 1200, "height": 800},
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
            # the offer may follow at once: "ready" can be gone by the time we look
            expect(page.locator("#state")).to_have_attribute(
                "data-state", re.compile("^(ready|reserved|on_call)$")
            )
            expect(page.locator("#screen")).to_contain_text("Li Wei")
            expect(page.locator("#call-status")).to_have_text("talking")
            page.screenshot(path=str(shot), full_page=True)
            texts = {"screen": page.inner_text("#screen"), "page": page.inner_text("body")}
            page.click("#hangup")
            expect(page.locator("#wrapup")).to_be_visible()
            page.select_option("#disposition", "follow_up")
            page.fill("#notes", "Card blocked; courier Monday")
            page.click("#wrapup button[type=submit]")
            expect(page.locator("#notice")).to_have_text("Disposition saved")
            texts["notice"] = page.inner_text("#notice")
            return texts
        finally:
            context.close()
