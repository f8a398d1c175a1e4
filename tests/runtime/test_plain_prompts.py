"""The plain-prompt fast path (`runtime/steps/_prompts.py`, `plain_prompt`): a prompt with
nothing to render is made once and shared; it must be what rendering it would give, in
every language and channel, and the call must hear and record the same as with a template."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from engine_harness import Harness, flow, heard, project
from trio.testing import MockClock

from ivr.flowlang import expressions
from ivr.flowlang.ir import Prompt
from ivr.runtime.context import CallContext, Frame
from ivr.runtime.engine import run_flow
from ivr.runtime.ports import CallChannel, SpokenPrompt
from ivr.runtime.steps._prompts import _audio_path, choose, plain_prompt, render
from ivr.runtime.testing import MemoryCallLeg, MemoryCallRecords

PROMPTS = """
flow: prompts
languages: [zh, en]
variables:
  who: {type: string, initial: Li}
start: plain
nodes:
  plain:
    type: say
    prompt: {zh: 您好, en: Hello}
    next: audio
  audio:
    type: say
    prompt:
      zh: {audio: audio/hi.wav, text: 您好}
      en: {audio: audio/hi.wav, text: Hello, chat: "Hello (chat)"}
    next: named
  named:
    type: say
    prompt: {zh: "您好 {who}", en: "Hello {who}"}
    next: bye
  bye: {type: hangup, prompt: {zh: 再见, en: Goodbye}}
"""


@dataclass(slots=True, eq=False)
class ChatLeg(MemoryCallLeg):
    @property
    def channel(self) -> CallChannel:
        return "chat"


def _rendered_in_full(call: CallContext, frame: Frame, prompt: Prompt) -> SpokenPrompt:
    """What the general path does: choose the text, render its template from the masked scope."""
    language, chosen = choose(call, frame, prompt)
    shown = chosen.chat if chosen.chat is not None and call.channel == "chat" else chosen.template
    text = (
        ""
        if shown is None
        else expressions.render_template(shown, call.masked_scope(frame), language=language)
    )
    return SpokenPrompt(text, language, _audio_path(frame, chosen.audio))


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("leg", [MemoryCallLeg(), ChatLeg()], ids=["phone", "chat"])
async def test_a_plain_prompt_is_what_rendering_it_gives(language: str, leg: MemoryCallLeg) -> None:
    compiled = flow(PROMPTS)
    harness = Harness(project(compiled))
    top = Frame.start(compiled, {})
    call = CallContext(leg, harness.engine.ports, harness.project, language, run_flow, [top])
    for node_id in ("plain", "audio", "bye"):
        prompt = compiled.nodes[node_id].prompt  # type: ignore[union-attr]
        spoken = plain_prompt(call, top, prompt)
        assert spoken == _rendered_in_full(call, top, prompt)
        assert plain_prompt(call, top, prompt) is spoken  # made once, then shared
        assert await render(call, top, compiled.nodes[node_id], prompt) == spoken
    named = compiled.nodes["named"].prompt  # type: ignore[union-attr]
    assert plain_prompt(call, top, named) is None  # a template is rendered for each call
    assert await render(call, top, compiled.nodes["named"], named) == _rendered_in_full(call, top, named)


async def test_a_call_that_changes_language_hears_the_plain_prompt_in_the_new_one() -> None:
    compiled = flow(PROMPTS)
    harness = Harness(project(compiled))
    top = Frame.start(compiled, {})
    call = CallContext(MemoryCallLeg(), harness.engine.ports, harness.project, "zh", run_flow, [top])
    prompt = compiled.nodes["plain"].prompt  # type: ignore[union-attr]
    assert plain_prompt(call, top, prompt) == SpokenPrompt("您好", "zh")
    call.language = "en"
    assert plain_prompt(call, top, prompt) == SpokenPrompt("Hello", "en")


async def test_phone_and_chat_calls_of_one_flow_each_get_their_own_form() -> None:
    """One flow, its shared prompts: a chat call sees the chat form, a phone call never does."""
    compiled = flow(PROMPTS)
    harness = Harness(project(compiled))
    audio = compiled.nodes["audio"].prompt  # type: ignore[union-attr]
    for leg, text in [(MemoryCallLeg(), "Hello"), (ChatLeg(), "Hello (chat)"), (MemoryCallLeg(), "Hello")]:
        top = Frame.start(compiled, {})
        call = CallContext(leg, harness.engine.ports, harness.project, "en", run_flow, [top])
        spoken = plain_prompt(call, top, audio)
        assert spoken is not None and spoken.text == text
        assert spoken.audio is not None and spoken.audio.endswith("flows/audio/hi.wav")


async def test_plain_and_templated_prompts_give_the_same_call(autojump_clock: MockClock) -> None:
    """The same words as plain text and as a template: the caller hears the same, and the
    record's events (kind, node, detail) are the same."""
    plain = flow(
        """
        flow: words
        languages: [en]
        variables:
          greeting: {type: string, initial: Hello there}
        start: hi
        nodes:
          hi: {type: say, prompt: Hello there, next: bye}
          bye: {type: hangup, prompt: Goodbye}
        """
    )
    templated = flow(
        """
        flow: words
        languages: [en]
        variables:
          greeting: {type: string, initial: Hello there}
          farewell: {type: string, initial: Goodbye}
        start: hi
        nodes:
          hi: {type: say, prompt: "{greeting}", next: bye}
          bye: {type: hangup, prompt: "{farewell}"}
        """
    )
    seen = []
    for compiled in (plain, templated):
        records = MemoryCallRecords()
        leg = MemoryCallLeg()
        outcome = await Harness(project(compiled), records=records).run(leg)
        assert outcome.how == "completed"
        seen.append((heard(leg), [(e.kind, e.node, dict(e.detail)) for e in records.events]))
    assert seen[0] == seen[1]
    assert seen[0][0] == ["Hello there", "Goodbye"]
