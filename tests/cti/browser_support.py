"""Debian's Chromium, headless, driven by playwright from trio tests step by step.

Playwright's sync API must stay in the thread that started it, so one `Browser` owns a
thread and runs each step there (`await browser.do(fn)`); the trio side awaits the step's
result without blocking other tasks (SIP, the ACD, sipp). `Desk` is one agent's desktop in
its own browser context (its own sessionStorage and language choice).
"""

from __future__ import annotations

import queue
import re
import shutil
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import pytest
import trio

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
T = TypeVar("T")


def chromium_or_skip() -> str:
    pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    if shutil.which(CHROMIUM) is None:
        pytest.skip("apt-get install -y --no-upgrade chromium")
    return CHROMIUM


class Browser:
    def __init__(self, executable: str) -> None:
        self.executable = executable
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]] | None] = queue.SimpleQueue()
        self._started: Future[Any] = Future()
        self._thread = threading.Thread(target=self._main, name="chromium", daemon=True)
        self.browser: Any = None

    def _main(self) -> None:
        from playwright.sync_api import sync_playwright

        try:
            with sync_playwright() as playwright:
                self.browser = playwright.chromium.launch(
                    executable_path=self.executable, headless=True, args=ARGS
                )
                self._started.set_result(None)
                try:
                    while (job := self._jobs.get()) is not None:
                        step, future = job
                        if future.set_running_or_notify_cancel():
                            try:
                                future.set_result(step())
                            except BaseException as exc:
                                future.set_exception(exc)
                finally:
                    self.browser.close()
        except BaseException as exc:
            if not self._started.done():
                self._started.set_exception(exc)

    async def do(self, step: Callable[[], T]) -> T:
        """Run `step` in the browser's thread and return what it returns."""
        future: Future[T] = Future()
        self._jobs.put((step, future))
        return await trio.to_thread.run_sync(future.result, abandon_on_cancel=True)

    async def desk(self, url: str, *, width: int = 1200, height: int = 800) -> Desk:
        def open_page() -> Any:
            context = self.browser.new_context(viewport={"width": width, "height": height})
            page = context.new_page()
            page.set_default_timeout(20_000)
            page.goto(f"{url}/desktop/")
            return page

        return Desk(self, await self.do(open_page))


@asynccontextmanager
async def open_browser(executable: str) -> AsyncIterator[Browser]:
    browser = Browser(executable)
    browser._thread.start()
    await trio.to_thread.run_sync(browser._started.result)
    try:
        yield browser
    finally:
        browser._jobs.put(None)
        await trio.to_thread.run_sync(browser._thread.join, 20)


class Desk:
    """One agent's desktop page. Its steps wait in the browser (playwright's `expect`)."""

    def __init__(self, browser: Browser, page: Any) -> None:
        self.browser = browser
        self.page = page

    async def do(self, step: Callable[[Any], T]) -> T:
        return await self.browser.do(lambda: step(self.page))

    async def log_in(self, extension: str, password: str) -> None:
        def steps(page: Any) -> None:
            from playwright.sync_api import expect

            page.fill("#extension", extension)
            page.fill("#password", password)
            page.click("#login button[type=submit]")
            expect(page.locator("#state")).to_have_attribute("data-state", "not_ready")

        await self.do(steps)

    async def expect_state(self, state: str) -> None:
        await self.expect("#state", attribute=("data-state", state))

    async def expect(
        self,
        selector: str,
        *,
        text: str | re.Pattern[str] | None = None,
        contains: str | None = None,
        attribute: tuple[str, str] | None = None,
        visible: bool | None = None,
        count: int | None = None,
    ) -> None:
        """Wait until the element matches (playwright's expect, up to 20 s)."""

        def check(page: Any) -> None:
            from playwright.sync_api import expect

            locator = page.locator(selector)
            if count is not None:
                expect(locator).to_have_count(count)
                return
            if text is not None:
                expect(locator).to_have_text(text)
            if contains is not None:
                expect(locator).to_contain_text(contains)
            if attribute is not None:
                expect(locator).to_have_attribute(*attribute)
            if visible is True:
                expect(locator).to_be_visible()
            if visible is False:
                expect(locator).to_be_hidden()

        await self.do(check)

    async def click(self, selector: str) -> None:
        await self.do(lambda page: page.click(selector))

    async def fill(self, selector: str, value: str) -> None:
        await self.do(lambda page: page.fill(selector, value))

    async def text(self, selector: str) -> str:
        return str(await self.do(lambda page: page.inner_text(selector)))

    def card(self, call_id: str) -> str:
        return f'#calls [data-call-id="{call_id}"]'

    def form(self, call_id: str) -> str:
        return f'#wrapups [data-call-id="{call_id}"]'
