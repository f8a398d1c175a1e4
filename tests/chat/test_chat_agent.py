"""A web chat handed to an agent, in Chromium on both sides: the visitor's chat page and
the agent's desktop (the same desktop and ACD as calls). The chat is offered beside the
screen pop, answered from the desktop, carries messages both ways, and the agent's hang-up
gives the visitor back to the flow."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import trio
from browser_support import chromium_or_skip, open_browser
from chat_support import ChatPage, chat_server
from tenants_support import hosting_file, tenant_folder, write

from ivr.adapters.cti.accounts import hash_password
from ivr.adapters.cti.testing import DeskConnector

HELPDESK = """\
flow: main
languages: [en]
start: hello
nodes:
  hello: {type: say, prompt: {en: Connecting you to an agent.}, next: wait}
  wait:
    type: enqueue
    queue: desk
    data: {customer: "'Web visitor'"}
    next: bye
    on_overflow: busy
    on_timeout: busy
    on_no_agents: busy
  busy: {type: hangup, prompt: {en: Nobody is free.}}
  bye: {type: hangup, prompt: {en: Thank you for chatting. Goodbye.}}
"""


@pytest.fixture
def chromium() -> str:
    return chromium_or_skip()


def helpdesk(root: Path) -> None:
    tenant_folder(
        root,
        "helpdesk",
        {"300": "main"},
        flows={"main": HELPDESK},
        service_extra="queues:\n  desk: {skills: [desk]}\n",
    )
    write(
        root / "helpdesk-agents.yaml",
        f'agents:\n  - extension: "8001"\n    name: Alice\n    password_hash: "{hash_password("pw-8001")}"\n'
        "    phone: sip:8001@127.0.0.1:9\n    skills: {desk: 3}\n",
    )
    hosting_file(root, 'helpdesk: {folder: helpdesk, numbers: ["300"], agents: helpdesk-agents.yaml}\n')


@pytest.mark.slow
async def test_a_chat_handed_to_an_agent_is_answered_and_carried_both_ways_on_the_desktop(
    chromium: str, tmp_path: Path
) -> None:
    helpdesk(tmp_path)
    with trio.fail_after(120):
        async with (
            chat_server(tmp_path, agent_line=lambda layout: DeskConnector()) as (url, _),
            open_browser(chromium) as browser,
        ):
            desk = await browser.desk(f"{url}/tenants/helpdesk")
            await desk.log_in("8001", "pw-8001")
            await desk.click("#ready")
            await desk.expect_state("ready")

            visitor = await ChatPage.open(browser, f"{url}/tenants/helpdesk/chat/")
            await visitor.hears("Connecting you to an agent.")
            card = '#calls [data-chat="offered"]'
            await desk.expect(f"{card} .chat-pane", visible=True)
            await desk.expect(f"{card} .facts", contains="Web visitor")  # the screen pop beside it
            await desk.expect(f"{card} .hold", visible=False)  # a chat has no audio controls
            await desk.click(f"{card} .answer-chat")
            await visitor.sees(".ivr-agent-joined")
            talking = '#calls [data-chat="talking"]'
            await desk.fill(f"{talking} .chat-input", "您好，请问有什么可以帮您？")
            await desk.click(f"{talking} .chat-send")
            await visitor.hears("您好，请问有什么可以帮您？")
            await visitor.type("我的委托还没有成交")
            await desk.expect(f"{talking} .chat-log .from-customer", contains="我的委托还没有成交")
            await desk.expect(f"{talking} .chat-log .from-agent", contains="您好，请问有什么可以帮您？")
            await desk.click(f"{talking} .hangup")
            await visitor.hears("Thank you for chatting. Goodbye.")
            await visitor.ended()
            await desk.expect("#wrapups .wrapup", count=1)  # the chat is wrapped up like a call
    with sqlite3.connect(tmp_path / "var" / "calls.sqlite3") as db:
        kinds = [kind for (kind,) in db.execute("SELECT kind FROM events ORDER BY seq")]
        (caller,) = db.execute("SELECT caller FROM calls").fetchone()
    assert caller == "chat" and "channel" in kinds
    assert any(kind.startswith("acd") or kind.startswith("agent") for kind in kinds), kinds
