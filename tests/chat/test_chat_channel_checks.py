"""`ivr check` says what a web chat cannot do (FL960: a voice message), unless the flow
gives chats another path (`on_chat`), which a chat then takes at once."""

from __future__ import annotations

import textwrap

from engine_harness import Harness, flow, project
from test_chat_leg import Visitor, chat
from trio.testing import MockClock

from ivr.flowlang.diagnostics import Diagnostic, Severity
from ivr.flowlang.project import load_flow_text
from ivr.runtime.testing import MemoryCallLeg

RECORD = """\
leave:
  type: record
  prompt: Leave a message after the tone.
  into: message
  next: thanks{on_chat}
  on_no_input: thanks
thanks: {{type: hangup, prompt: Thank you.}}
typed: {{type: hangup, prompt: Please type your number instead.}}
"""


def check(nodes: str) -> list[Diagnostic]:
    """The diagnostics of the flow but those of its own shape (an unread variable, a node
    only a chat reaches in the flow without `on_chat`)."""
    compiled, found = load_flow_text(flow_text(nodes), "t.yaml")
    assert compiled is not None, found
    return [d for d in found if d.code not in ("FL502", "FL303")]


def flow_text(nodes: str) -> str:
    text = "flow: t\nlanguages: [en]\nvariables:\n  message: {type: string, initial: ''}\nstart: leave\n"
    return text + "nodes:\n" + textwrap.indent(nodes, "  ")


def test_a_record_node_without_a_chat_path_is_warned_about() -> None:
    [d] = check(RECORD.format(on_chat=""))
    assert (d.code, d.severity, d.node_id) == ("FL960", Severity.WARNING, "leave")
    assert d.message == "record node 'leave' asks for a voice message, which a web chat cannot carry"
    assert d.hint is not None and "`on_chat: <node>`" in d.hint
    assert (d.span.line, d.span.col) == (7, 3)  # the node's name


def test_a_record_node_with_on_chat_is_fine() -> None:
    assert check(RECORD.format(on_chat="\n  on_chat: typed")) == []


def test_on_chat_must_name_a_node() -> None:
    codes = [d.code for d in check(RECORD.format(on_chat="\n  on_chat: nowhere"))]
    assert "FL301" in codes


async def test_a_chat_takes_on_chat_at_once_and_a_phone_still_records(autojump_clock: MockClock) -> None:
    text = flow_text(RECORD.format(on_chat="\n  on_chat: typed"))

    async def visitor_does(v: Visitor) -> None:
        return None

    outcome, visitor, _ = await chat(text, visitor_does)
    assert visitor.said() == ["Please type your number instead."]
    assert [v.node for v in outcome.path] == ["leave", "typed"]
    phone = MemoryCallLeg()
    await Harness(project(flow(text))).run(phone)
    assert phone.prompts[0].text == "Leave a message after the tone."
