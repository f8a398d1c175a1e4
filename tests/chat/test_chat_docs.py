"""The examples of docs/channels.md's "Web chat" section are true: the prompt with a chat
form shows it in a chat and speaks its text on the phone, the `on_chat` example passes
`ivr check` (no FL960) and a chat takes it, and the embedding snippet names the widget the
server serves."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from engine_harness import Harness, flow, heard, project
from test_chat_leg import Visitor, chat
from trio.testing import MockClock

from ivr.flowlang.project import load_flow_text
from ivr.runtime.testing import MemoryCallLeg

ROOT = Path(__file__).parents[2]
SECTION = (ROOT / "docs" / "channels.md").read_text(encoding="utf-8").split("\n## Web chat")[1]
MENU, RECORD = re.findall(r"```yaml\n(.*?)```", SECTION, re.S)
(HTML,) = re.findall(r"```html\n(.*?)```", SECTION, re.S)


def doc_flow(nodes: str, start: str, extra: str) -> str:
    text = "flow: doc\nlanguages: [zh, en]\nvariables:\n  message: {type: string, initial: ''}\n"
    return text + f"start: {start}\nnodes:\n" + textwrap.indent(nodes + extra, "  ")


def hangups(*names: str) -> str:
    return "".join(f"{n}: {{type: hangup, prompt: {{zh: {n}, en: {n}}}}}\n" for n in names)


async def test_the_menu_shows_its_chat_form_in_a_chat_and_speaks_its_text_on_the_phone(
    autojump_clock: MockClock,
) -> None:
    text = doc_flow(MENU, "main_menu", hangups("quotes", "account", "agent", "goodbye"))

    async def visitor_does(v: Visitor) -> None:
        ask = await v.ask("menu")
        assert ask["keys"] == ["1", "2", "0"]
        v.send(type="keys", keys="2")

    _, visitor, _ = await chat(text, visitor_does)
    assert visitor.said() == ["请选择：1 行情查询 · 2 账户查询 · 0 人工服务", "account"]
    phone = MemoryCallLeg()
    phone.press("1")
    await Harness(project(flow(text))).run(phone)
    assert heard(phone) == ["行情查询请按1，账户查询请按2，人工服务请按0。", "quotes"]


async def test_the_on_chat_example_passes_the_check_and_a_chat_takes_it(autojump_clock: MockClock) -> None:
    text = doc_flow(RECORD, "leave_message", "thanks: {type: hangup}\n")
    _, found = load_flow_text(text, "doc.yaml")
    assert [d.code for d in found if d.code == "FL960"] == []

    async def visitor_does(v: Visitor) -> None:
        return None

    _, visitor, _ = await chat(text, visitor_does)
    assert visitor.said() == ["在线聊天无法留言，请致电95500。"]


def test_the_embedding_snippet_names_the_widget_the_server_serves() -> None:
    assert 'id="ivr-chat"' in HTML and "/chat/chat.js" in HTML
    widget = (ROOT / "adapters" / "chat" / "static" / "chat.js").read_text(encoding="utf-8")
    assert 'getElementById("ivr-chat")' in widget and "spot.dataset.number" in widget
