"""The brokerage tenant hosted in-process behind the real HTTP app with its web chat, and a
chat page in Chromium driven step by step (tests/cti/browser_support.py's browser)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from browser_support import Browser
from tenants_support import hosting_file, running, serving

from ivr.adapters.hosting.auth import Tokens
from ivr.adapters.hosting.chat import ChatGate
from ivr.adapters.hosting.http import HttpApi
from ivr.adapters.hosting.live import LiveCalls
from ivr.adapters.hosting.server import Hosted, ServerStatus

FLOWS = Path(__file__).parents[2] / "flows"


@asynccontextmanager
async def brokerage_chat(root: Path) -> AsyncIterator[tuple[str, Hosted]]:
    """The brokerage (its own flows and back office) as tenant `brokerage` of a hosting file,
    served with the chat at /tenants/brokerage/chat/: (url, hosted)."""
    hosting_file(
        root, f'brokerage: {{folder: {FLOWS}, numbers: ["95500"], settings: {{matching_interval: 0}}}}\n'
    )
    async with chat_server(root) as served:
        yield served


@asynccontextmanager
async def chat_server(root: Path, **parts: Any) -> AsyncIterator[tuple[str, Hosted]]:
    """The tenants of `root/hosting.yaml` (all must serve) behind the real HTTP app with the
    web chat, on a free port: (url, hosted). `parts` go to `shared_parts` (an `agent_line`)."""
    live = LiveCalls()
    async with running(root, live=live, **parts) as hosted:
        assert hosted.publisher is not None
        for tenant in hosted.tenants:
            assert tenant.state == "serving", tenant.reason
        tenants = {t.name: t for t in hosted.tenants}
        chat = ChatGate(hosted.admission, tenants, hosted=True)
        status = ServerStatus(hosted.admission, 1024, time.monotonic())
        hosting = hosted.publisher.hosting
        api = HttpApi(status, live, hosted.shared.metrics, hosted.shared.store, hosted.tenants,
                      Tokens.from_hosting(hosting), hosted.publisher, hosting, chat)  # fmt: skip
        async with serving(api.app()) as url:
            yield url, hosted


class ChatPage:
    """One visitor's chat page in its own browser context. Every step waits in the browser."""

    def __init__(self, browser: Browser, page: Any) -> None:
        self.browser = browser
        self.page = page

    @classmethod
    async def open(cls, browser: Browser, url: str) -> ChatPage:
        def open_page() -> Any:
            page = browser.browser.new_context().new_page()
            page.set_default_timeout(20_000)
            page.goto(url)
            return page

        return cls(browser, await browser.do(open_page))

    async def hears(self, text: str) -> None:
        """Wait until the flow has said `text` (in a prompt shown as text)."""

        def check(page: Any) -> None:
            from playwright.sync_api import expect

            expect(page.locator(".ivr-say", has_text=text).last).to_be_visible()

        await self.browser.do(lambda: check(self.page))

    async def press(self, key: str) -> None:
        """Click the button of a menu option."""
        await self.browser.do(lambda: self.page.click(f'.ivr-keys button[data-key="{key}"]'))

    async def type(self, text: str) -> None:
        """Type into the text box and send it (Enter)."""

        def steps(page: Any) -> None:
            page.fill(".ivr-input", text)
            page.press(".ivr-input", "Enter")

        await self.browser.do(lambda: steps(self.page))

    async def sees(self, selector: str, text: str | None = None) -> None:
        """Wait until an element matching `selector` (containing `text`) is visible."""

        def check(page: Any) -> None:
            from playwright.sync_api import expect

            expect(page.locator(selector, has_text=text).last).to_be_visible()

        await self.browser.do(lambda: check(self.page))

    async def value(self, script: str) -> Any:
        return await self.browser.do(lambda: self.page.evaluate(script))

    async def ended(self) -> None:
        def check(page: Any) -> None:
            from playwright.sync_api import expect

            expect(page.locator(".ivr-chat")).to_have_attribute("data-ended", "true")

        await self.browser.do(lambda: check(self.page))

    async def close(self) -> None:
        await self.browser.do(lambda: self.page.context.close())
