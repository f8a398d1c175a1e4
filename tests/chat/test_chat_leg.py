"""The chat leg against the engine: the same flows on text (docs/channels.md, "Web chat").

The visitor is a task reading the leg's outgoing messages and answering as the widget
would; timeouts run on trio's MockClock.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import trio
from engine_harness import Harness, flow, heard, project
from trio.testing import MockClock

from ivr.adapters.chat import ChatLeg, ChatLimits
from ivr.runtime.engine import CallOutcome
from ivr.runtime.testing import MemoryCallLeg

MENU = """
flow: chat_menu
languages: [en]
variables:
  code: {type: string, initial: ""}
  pin: {type: string, secret: true, initial: ""}
start: menu
nodes:
  menu:
    type: menu
    prompt: {en: For quotes press 1. To log in press 2.}
    no_input_prompt: {en: I did not see an answer.}
    timeout: 5s
    max_retries: 1
    options: {"1": code, "2": pin}
    on_no_input: bye
    on_no_match: bye
  code:
    type: collect
    prompt: {en: Type the stock code.}
    into: code
    min_length: 6
    max_length: 6
    terminator: "#"
    inter_digit_timeout: 3s
    next: quote
  quote:
    type: say
    prompt: {en: "Quote for {code}. Channel {call.channel}."}
    next: bye
  pin:
    type: collect
    prompt: {en: Type your PIN.}
    into: pin
    min_length: 6
    max_length: 6
    inter_digit_timeout: 3s
    next: logged_in
  logged_in:
    type: say
    prompt: {en: "Welcome, {pin}."}
    next: bye
  bye:
    type: hangup
"""

VOICEMAIL = """
flow: voicemail
languages: [en]
variables:
  recording: {type: string, initial: ""}
start: leave
nodes:
  leave:
    type: record
    prompt: {en: Leave a message after the tone.}
    into: recording
    max_length: 60s
    next: thanks
    on_no_input: nothing
  thanks:
    type: say
    prompt: {en: Thank you.}
    next: bye
  nothing:
    type: say
    prompt: {en: Nothing was recorded.}
    next: bye
  bye:
    type: hangup
"""


class Visitor:
    """The browser's side: every message the leg sent, and a way to wait for one."""

    def __init__(self, leg: ChatLeg) -> None:
        self.leg = leg
        self.seen: list[dict[str, object]] = []
        self._taken = 0  # messages before this one were answered by a past `wait_for`
        self._changed = trio.Event()

    async def read(self) -> None:
        async for message in self.leg.outgoing:
            self.seen.append(message)
            self._changed.set()
            self._changed = trio.Event()

    async def wait_for(self, wanted: Callable[[dict[str, object]], bool]) -> dict[str, object]:
        """The first message `wanted` after the last one a wait returned."""
        while True:
            for index in range(self._taken, len(self.seen)):
                if wanted(self.seen[index]):
                    self._taken = index + 1
                    return self.seen[index]
            await self._changed.wait()

    async def ask(self, kind: str) -> dict[str, object]:
        return await self.wait_for(lambda m: m["type"] == "ask" and m["kind"] == kind)

    def send(self, **message: object) -> None:
        self.leg.receive(json.dumps(message))

    def said(self) -> list[object]:
        return [m["text"] for m in self.seen if m["type"] == "say"]


async def chat(
    text: str, visitor_does: Callable[[Visitor], Any], *, limits: ChatLimits | None = None
) -> tuple[CallOutcome, Visitor, Harness]:
    harness = Harness(project(flow(text)))
    leg = ChatLeg("chat-1", caller="chat", dialed="95500", limits=limits)
    visitor = Visitor(leg)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(visitor.read)
        nursery.start_soon(visitor_does, visitor)
        outcome = await harness.run(leg)
        await leg.hangup()
    return outcome, visitor, harness


async def test_a_menu_shows_its_keys_and_a_button_answers_it(autojump_clock: MockClock) -> None:
    async def visitor_does(v: Visitor) -> None:
        ask = await v.ask("menu")
        assert ask["keys"] == ["1", "2"] and ask["secret"] is False
        v.send(type="keys", keys="1")
        ask = await v.ask("collect")
        assert ask["max_length"] == 6 and ask["terminator"] == "#"
        v.send(type="entry", text="600519")

    outcome, visitor, harness = await chat(MENU, visitor_does)
    assert outcome.how == "completed"
    assert visitor.said() == [
        "For quotes press 1. To log in press 2.",
        "Type the stock code.",
        "Quote for 600519. Channel chat.",
    ]
    assert visitor.seen[-1] == {"type": "end"}
    assert [e.detail for e in harness.records.events if e.kind == "channel"] == [{"channel": "chat"}]


async def test_an_entry_from_the_text_box_ends_without_waiting_for_the_digit_timers(
    autojump_clock: MockClock,
) -> None:
    started: list[float] = []

    async def visitor_does(v: Visitor) -> None:
        await v.ask("menu")
        v.send(type="keys", keys="2")
        await v.ask("collect")  # no terminator: the entry's end is sent with it
        started.append(trio.current_time())
        v.send(type="entry", text="123456")

    outcome, _visitor, _ = await chat(MENU, visitor_does)
    assert outcome.path[-2].node == "logged_in"
    assert trio.current_time() - started[0] < 1  # not the 3 s inter-digit timeout


async def test_a_secret_entry_is_asked_masked_and_never_echoed_traced_or_stored(
    autojump_clock: MockClock,
) -> None:
    async def visitor_does(v: Visitor) -> None:
        await v.ask("menu")
        v.send(type="keys", keys="2")
        ask = await v.ask("collect")
        assert ask["secret"] is True
        v.send(type="entry", text="pin 987654")  # a stray word: refused without quoting it

    outcome, visitor, harness = await chat(MENU, visitor_does)
    assert outcome.variables["pin"] == "***"
    assert "Welcome, ***." in visitor.said()
    everything = json.dumps(visitor.seen) + repr(harness.records.events) + repr(harness.records.started)
    assert "987654" not in everything
    assert {"type": "error", "text": "only digits, * and # count"} in visitor.seen


async def test_silence_takes_the_flows_own_timeout_and_retries(autojump_clock: MockClock) -> None:
    async def visitor_does(v: Visitor) -> None:
        return None

    start = trio.current_time()
    outcome, visitor, _ = await chat(MENU, visitor_does)
    assert visitor.said() == [
        "For quotes press 1. To log in press 2.",
        "I did not see an answer.",
        "For quotes press 1. To log in press 2.",
    ]
    assert trio.current_time() - start == 10  # two tries of the menu's 5 s timeout
    assert outcome.path[-1].node == "bye"


async def test_the_visitor_leaving_is_the_caller_hanging_up(autojump_clock: MockClock) -> None:
    async def visitor_does(v: Visitor) -> None:
        await v.ask("menu")
        v.send(type="end")

    outcome, _, harness = await chat(MENU, visitor_does)
    assert outcome.how == "caller_hangup"
    assert harness.records.ended["chat-1"] == "caller_hangup"


async def test_oversized_flooding_and_malformed_messages_are_refused_and_the_chat_goes_on(
    autojump_clock: MockClock,
) -> None:
    async def visitor_does(v: Visitor) -> None:
        await v.ask("menu")
        v.leg.receive("x" * 5000)
        v.leg.receive("{not json")
        for _ in range(3):
            v.send(type="keys", keys="9")  # within the burst: no option, a failed try
        v.leg.receive(json.dumps({"type": "keys", "keys": 7}))
        v.send(type="keys", keys="1")  # over the burst of 5: refused
        await trio.sleep(1)  # the bucket refills
        await v.ask("menu")
        v.send(type="keys", keys="1")
        await v.ask("collect")
        v.send(type="entry", text="600036#")

    limits = ChatLimits(max_message=1000, rate=5, burst=5)
    outcome, visitor, _ = await chat(MENU, visitor_does, limits=limits)
    errors = [m["text"] for m in visitor.seen if m["type"] == "error"]
    assert errors == ["message too long", "not understood", "not understood", "too many messages: slow down"]
    assert "Quote for 600036. Channel chat." in visitor.said()
    assert outcome.how == "completed"


async def test_a_voice_message_cannot_be_left_in_a_chat_so_it_records_silence(
    autojump_clock: MockClock,
) -> None:
    async def visitor_does(v: Visitor) -> None:
        return None

    outcome, visitor, _ = await chat(VOICEMAIL, visitor_does)
    assert {"type": "notice", "text": "A voice message cannot be left in a chat."} in visitor.seen
    assert visitor.said()[-1] == "Nothing was recorded."
    assert outcome.how == "completed"


async def test_a_browser_that_reads_nothing_ends_only_its_own_chat(autojump_clock: MockClock) -> None:
    leg = ChatLeg("chat-2", caller="chat", dialed="95500", limits=ChatLimits(backlog=2))
    for _ in range(3):
        await leg.play(_prompt(), barge_in=False)
    assert leg.ended
    try:
        await leg.read_digit(Decimal(1))
    except Exception as exc:
        assert type(exc).__name__ == "CallEnded"
    else:
        raise AssertionError("a gone visitor's leg keeps reading")


def _prompt() -> Any:
    from ivr.runtime.ports import SpokenPrompt

    return SpokenPrompt("hello", "en")


TEXT_FORM = """
flow: text_form
languages: [en]
variables:
  name: {type: string, initial: Li Na}
start: hello
nodes:
  hello:
    type: say
    prompt:
      en:
        text: "Hello {name}. For quotes press 1."
        chat: "Hello {name}! Choose: 1 quotes"
    next: bye
  bye:
    type: hangup
"""


async def test_a_prompt_shows_its_chat_text_form_in_a_chat_and_speaks_its_text_on_the_phone(
    autojump_clock: MockClock,
) -> None:
    async def visitor_does(v: Visitor) -> None:
        return None

    _, visitor, _ = await chat(TEXT_FORM, visitor_does)
    assert visitor.said() == ["Hello Li Na! Choose: 1 quotes"]
    harness = Harness(project(flow(TEXT_FORM)))
    phone = MemoryCallLeg()
    await harness.run(phone)
    assert heard(phone) == ["Hello Li Na. For quotes press 1."]
