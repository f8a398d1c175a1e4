"""The agent desktop in headless Chromium (Debian's, driven by playwright) over the CTI
server with the in-memory connector: Mandarin by default and English by choice; a screen pop
whose labels read as words; notes that stay with their call while the next call pops; a
refused transfer that leaves the call as it was; the lock-out message; a layout that works
from 360 px to wide screens."""

from __future__ import annotations

import re

import pytest
import trio
from browser_support import chromium_or_skip, open_browser
from cti_support import PASSWORDS, Cti, eventually, running_cti, serving

from ivr.runtime.acd import AgentState

VIP = {
    "customer": "张伟",
    "account": "31000001",
    "vip_tier": "gold",
    "verified": False,
    "ivr_path": ["main.choose_language:1", "main.main_menu:0"],
    "pin": "135790",
}


@pytest.fixture
def chromium() -> str:
    return chromium_or_skip()


def ready(cti: Cti, extension: str) -> bool:
    agent = cti.acd.statistics().agents.get(extension)
    return agent is not None and agent.state is AgentState.READY


async def test_mandarin_by_default_with_labels_that_read_as_words(chromium: str) -> None:
    async with (
        running_cti(answer_after=0.2) as cti,
        serving(cti.app) as url,
        open_browser(chromium) as browser,
    ):
        desk = await browser.desk(url)
        assert await desk.do(lambda page: page.evaluate("document.documentElement.lang")) == "zh-CN"
        await desk.expect("#login button[type=submit]", text="登录")
        await desk.log_in("8001", PASSWORDS["8001"])
        await desk.expect("#state", text="未就绪")
        await desk.click("#ready")
        await eventually(lambda: ready(cti, "8001"))
        cti.call("call-vip", **VIP)
        card = desk.card("call-vip")
        await desk.expect(f"{card} .status", attribute=("data-status", "talking"))
        facts = await desk.text(f"{card} .facts")
        assert "客户姓名" in facts and "张伟" in facts and "资金账号" in facts and "31000001" in facts
        assert "贵宾等级" in facts and "金卡" in facts and "通话语言" in facts and "普通话" in facts
        assert "身份验证" in facts and "未验证" in facts
        assert "接入渠道" in facts and "电话" in facts  # the channel: a phone call
        screen = await desk.text(f"{card} .screen")
        assert "语音导航路径" in screen and "choose_language 1 → main_menu 0" in screen
        page = await desk.text("body")
        assert "135790" not in page and "Vip tier" not in page and "zh" not in facts.split()

        await desk.do(lambda page: page.select_option("#language", "en"))
        await desk.expect("#state", text="On call")
        facts = await desk.text(f"{card} .facts")
        assert "VIP tier" in facts and "Gold" in facts and "Mandarin" in facts and "Not verified" in facts
        assert "Channel" in facts and "Phone" in facts
        await desk.do(lambda page: page.reload())
        await desk.expect("#state", text="On call")  # the agent's choice stays
        await desk.expect(f"{card} .facts", contains="Customer")


async def test_notes_stay_with_their_call_when_the_next_calls_pop(chromium: str) -> None:
    """The wrong-customer bug, with two agents: A hangs up call 1 and types notes; call 2
    arrives for B; A's wrap-up runs out and call 3 pops on A's desk; A saves: the notes are on
    call 1 only."""
    async with (
        running_cti(answer_after=0.2, wrap_up=2) as cti,
        serving(cti.app) as url,
        open_browser(chromium) as browser,
    ):
        a, b = await browser.desk(url), await browser.desk(url)
        await a.log_in("8001", PASSWORDS["8001"])
        await b.log_in("8002", PASSWORDS["8002"])
        await a.click("#ready")
        await eventually(lambda: ready(cti, "8001"))
        cti.call("call-1", customer="李娜", account="31000002")
        await a.expect(f"{a.card('call-1')} .status", attribute=("data-status", "talking"))
        await b.click("#ready")
        await a.click(f"{a.card('call-1')} .hangup")
        form = a.form("call-1")
        await a.expect(f"{form} .wrapup-who", text="李娜")  # the form names its call
        await a.expect("#wrapup-bar", visible=True)  # the countdown
        assert int(await a.text("#wrapup-remaining")) <= 2
        await a.fill(f"{form} .notes", "客户要求寄送对账单")
        await a.do(lambda page: page.select_option(f"{form} .disposition", "follow_up"))
        cti.call("call-2", customer="王芳", account="31000003")  # B's call arrives
        await b.expect(f"{b.card('call-2')} .status", attribute=("data-status", "talking"))
        await a.expect_state("ready")  # A's wrap-up ran out
        cti.call("call-3", customer="赵敏", account="31000004")  # and A's next call pops
        await a.expect(f"{a.card('call-3')} .status", attribute=("data-status", "talking"))
        await a.expect(f"{form} .wrapup-who", text="李娜")  # still call 1's form, with its notes
        assert await a.do(lambda page: page.input_value(f"{form} .notes")) == "客户要求寄送对账单"
        await a.click(f"{form} button[type=submit]")
        await a.expect("#notice", text="处理结果已保存")
        await a.expect(form, count=0)
        [saved] = cti.records.of("call-1", "agent_wrapup")
        assert saved.detail["notes"] == "客户要求寄送对账单" and saved.detail["disposition"] == "follow_up"
        assert not cti.records.of("call-2", "agent_wrapup") and not cti.records.of("call-3", "agent_wrapup")
        await a.expect(f"{a.card('call-3')} .status", attribute=("data-status", "talking"))
        await b.expect(f"{b.card('call-2')} .status", attribute=("data-status", "talking"))


async def test_a_transfer_to_an_unknown_queue_is_refused_on_the_desktop(chromium: str) -> None:
    async with (
        running_cti(answer_after=0.2) as cti,
        serving(cti.app) as url,
        open_browser(chromium) as browser,
    ):
        desk = await browser.desk(url)
        await desk.log_in("8001", PASSWORDS["8001"])
        await desk.click("#ready")
        await eventually(lambda: ready(cti, "8001"))
        cti.call("call-1")
        card = desk.card("call-1")
        await desk.expect(f"{card} .status", attribute=("data-status", "talking"))
        await desk.fill(f"{card} .transfer-to", "vipp")
        await desk.click(f"{card} .transfer button.blind")
        await desk.expect("#notice", text="没有这个队列。")
        await desk.expect(f"{card} .status", attribute=("data-status", "talking"))
        assert cti.state("8001") is AgentState.ON_CALL and set(cti.acd.statistics().queues) == {
            "general",
            "billing",
        }


async def test_ten_bad_logins_lock_the_extension_and_the_desktop_says_so(chromium: str) -> None:
    async with running_cti() as cti, serving(cti.app) as url, open_browser(chromium) as browser:
        desk = await browser.desk(url)
        for attempt in range(10):
            await desk.fill("#extension", "8002")
            await desk.fill("#password", f"wrong-{attempt}")
            await desk.click("#login button[type=submit]")
            await desk.expect("#login-error", contains="分机")
        await desk.fill("#password", PASSWORDS["8002"])
        await desk.click("#login button[type=submit]")
        await desk.expect("#login-error", contains="已锁定")
        await desk.expect("#desk", visible=False)
        assert [e.extension for e in await cti.journal.events(kind="locked_out")] == ["8002"]


@pytest.mark.parametrize("width", [360, 1400])
async def test_the_layout_fits_from_a_phone_to_a_wide_screen(chromium: str, width: int) -> None:
    async with (
        running_cti(answer_after=0.2, wrap_up=30) as cti,
        serving(cti.app) as url,
        open_browser(chromium) as browser,
    ):
        desk = await browser.desk(url, width=width, height=800)
        await desk.log_in("8001", PASSWORDS["8001"])
        await desk.click("#ready")
        await eventually(lambda: ready(cti, "8001"))
        cti.call("call-1", **VIP)
        await desk.expect(f"{desk.card('call-1')} .status", attribute=("data-status", "talking"))
        await desk.click(f"{desk.card('call-1')} .hangup")
        await desk.expect(f"{desk.form('call-1')} .notes", visible=True)
        await desk.click("#ready")  # ends wrap-up early; the form stays
        cti.call("call-2", **VIP)
        await desk.expect(f"{desk.card('call-2')} .status", attribute=("data-status", "talking"))
        await desk.click(f"{desk.card('call-2')} .keypad-toggle")
        scroll = await desk.do(lambda page: page.evaluate("document.documentElement.scrollWidth"))
        assert scroll <= width, f"the page scrolls sideways at {width} px ({scroll} px wide)"
        boxes = await desk.do(_boxes)
        for name in ("hangup", "transfer", "save", "keypad"):
            assert boxes[name]["x"] >= 0 and boxes[name]["x"] + boxes[name]["width"] <= width, name
        side_by_side = boxes["aside"]["x"] > boxes["work"]["x"] + boxes["work"]["width"] - 1
        assert side_by_side == (width >= 900)


def _boxes(page: object) -> dict[str, dict[str, float]]:
    selectors = {
        "hangup": '#calls [data-call-id="call-2"] .hangup',
        "transfer": '#calls [data-call-id="call-2"] .transfer .warm',
        "keypad": '#calls [data-call-id="call-2"] .keypad',
        "save": '#wrapups [data-call-id="call-1"] button[type=submit]',
        "aside": ".columns > aside",
        "work": ".columns > .work",
    }
    return {name: page.locator(css).bounding_box() for name, css in selectors.items()}  # type: ignore[attr-defined]


async def test_the_call_timer_runs_and_wrap_up_can_be_extended_or_turned_into_not_ready(
    chromium: str,
) -> None:
    async with (
        running_cti(answer_after=0.2, wrap_up=20) as cti,
        serving(cti.app) as url,
        open_browser(chromium) as browser,
    ):
        desk = await browser.desk(url)
        await desk.log_in("8001", PASSWORDS["8001"])
        await desk.click("#ready")
        await eventually(lambda: ready(cti, "8001"))
        cti.call("call-1")
        card = desk.card("call-1")
        await desk.expect(f"{card} .status", attribute=("data-status", "talking"))
        # The call timer counts (a loaded machine may repaint 00:01 straight to 00:03).
        await desk.expect(f"{card} .timer", text=re.compile(r"00:0[2-9]"))
        await desk.click(f"{card} .hangup")
        await desk.expect("#wrapup-bar", visible=True)
        assert 15 <= int(await desk.text("#wrapup-remaining")) <= 20
        await desk.click("#extend")
        # Polled from here: wait_for_function evaluates a string, which the page's CSP (no
        # 'unsafe-eval') may refuse.
        for _ in range(100):
            if int(await desk.text("#wrapup-remaining")) > 40:
                break
            await trio.sleep(0.1)
        else:
            pytest.fail("the wrap-up countdown was not extended")
        await desk.do(lambda page: page.select_option("#reason", "training"))
        await desk.click("#stay-not-ready")
        await desk.expect("#state", text="未就绪 · 培训")
        await desk.expect("#wrapup-bar", visible=False)
        assert cti.acd.statistics().agents["8001"].reason == "training"
