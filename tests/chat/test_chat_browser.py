"""The web chat in headless Chromium (Debian's, driven by playwright) against the brokerage
tenant hosted in-process: the same flows as the phone, as text. A quote lookup with menu
buttons and the text box; a login and an order whose trading PIN is typed into a masked box
and is nowhere after: not in the page, not in the call records, not in the logs."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
import trio
from browser_support import chromium_or_skip, open_browser
from chat_support import ChatPage, brokerage_chat

from ivr.adapters.brokerage.clock import ALWAYS_OPEN_ENV

PIN = "314159"  # Li Na's trading PIN (docs/brokerage.md)


@pytest.fixture
def chromium() -> str:
    return chromium_or_skip()


def chat_events(root: Path) -> list[tuple[str, str, str, str, str]]:
    """(call_id, caller, kind, detail, how) of every event of every call, oldest first."""
    with sqlite3.connect(root / "var" / "calls.sqlite3") as db:
        return list(
            db.execute(
                "SELECT c.call_id, c.caller, e.kind, e.detail, coalesce(c.how, '') FROM events e "
                "JOIN calls c USING (call_id) ORDER BY e.seq"
            )
        )


@pytest.mark.slow
async def test_a_chat_looks_up_a_quote_then_logs_in_and_orders_with_the_pin_masked(
    chromium: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(ALWAYS_OPEN_ENV, "1")  # the back office takes orders at any hour
    caplog.set_level(logging.DEBUG)
    with trio.fail_after(120):
        async with brokerage_chat(tmp_path) as (url, _), open_browser(chromium) as browser:
            quote = await ChatPage.open(browser, f"{url}/tenants/brokerage/chat/")
            await quote.hears("普通话请按1")
            await quote.press("1")
            await quote.hears("行情查询请按1")
            await quote.sees('.ivr-global[data-key="0"]', "0 · 人工服务")  # the service's global keys too
            await quote.press("1")
            await quote.hears("请输入六位证券代码")
            await quote.type("600519")
            await quote.hears("贵州茅台，代码六零零五一九，最新价")
            await quote.press("9")
            await quote.hears("行情查询请按1")
            await quote.close()

            order = await ChatPage.open(browser, f"{url}/tenants/brokerage/chat/")
            await order.hears("普通话请按1")
            await order.type("1")  # typed digits work as well as the buttons
            await order.hears("电话委托请按3")
            await order.press("3")
            await order.hears("请输入您的资金账号")
            await order.type("31000002")
            await order.hears("请输入六位交易密码")
            assert await order.value("document.querySelector('.ivr-input').type") == "password"
            await order.type(PIN)
            await order.hears("上海市场请按1")
            assert await order.value("document.querySelector('.ivr-input').type") == "text"
            await order.press("1")
            await order.hears("买入请按1")
            await order.press("1")
            await order.hears("请输入六位证券代码")
            await order.type("600036")
            await order.hears("请输入委托数量")
            await order.type("100")
            await order.hears("请输入委托价格")
            await order.type("43*56")
            await order.hears("您委托买入招商银行，代码六零零零三六，数量一百股，价格四十三点五六元")
            await order.press("1")
            await order.hears("您的委托已受理，委托编号")
            page = await order.value("document.documentElement.outerHTML")
            typed = await order.value("document.querySelector('.ivr-input').value")
            await order.close()
            await trio.sleep(0.5)  # the server sees the pages go
    assert "您的委托已受理" in page and "••••••" in page
    assert PIN not in page and typed == ""
    events = chat_events(tmp_path)
    calls = {call_id for call_id, *_ in events}
    assert len(calls) == 2
    assert all(caller == "chat" and how == "caller_hangup" for _, caller, _, _, how in events)
    assert [kind for _, _, kind, _, _ in events].count("channel") == 2
    assert any("place_order" in detail for *_, detail, _ in events)
    assert PIN not in repr(events)
    assert PIN not in caplog.text
