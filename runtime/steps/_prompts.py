"""Speaking prompts: pick the call's language, render the template, play, record it.

In a web chat (`call.channel`), a prompt's `chat` text form, when it has one, is shown
instead of its spoken text.

Templates are rendered from the masked scope, so a secret can never be spoken even if a
prompt names it; a template without `{...}` parts is its own text, and such a prompt is made
once per flow, language and channel kind and shared by every call (`plain_prompt`).
Several prompts in a row (a no-input apology, then the retry prompt) stop at the first one
the caller cuts with a digit: the caller is already answering.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

from ivr.flowlang import expressions
from ivr.flowlang.expressions import Template
from ivr.flowlang.ir import Flow, Node, Prompt, PromptText
from ivr.runtime.context import CallContext, Frame
from ivr.runtime.memo import IdentityMemo
from ivr.runtime.ports import SpokenPrompt
from ivr.runtime.steps._eval import calls_in, prefetch


def choose(call: CallContext, frame: Frame, prompt: Prompt) -> tuple[str, PromptText]:
    """The prompt text in the call's language, else the flow's default, else any."""
    return _choose(call.language, frame, prompt)


def _choose(wanted: str, frame: Frame, prompt: Prompt) -> tuple[str, PromptText]:
    for language in (wanted, frame.flow.default_language):
        if language in prompt.by_language:
            return language, prompt.by_language[language]
    language, text = next(iter(prompt.by_language.items()))
    return language, text


async def render(call: CallContext, frame: Frame, node: Node, prompt: Prompt) -> SpokenPrompt:
    plain = plain_prompt(call, frame, prompt)
    if plain is not None:
        return plain
    language, chosen = choose(call, frame, prompt)
    shown = _shown(call, chosen)
    text = ""
    if shown is not None:
        fixed = fixed_text(shown)
        text = fixed if fixed is not None else await _rendered(call, frame, node, shown, language)
    return SpokenPrompt(text=text, language=language, audio=_audio_path(frame, chosen.audio))


def _shown(call: CallContext, chosen: PromptText) -> Template | None:
    """The template this call is given: in a web chat the `chat` text form, if any."""
    return chosen.chat if chosen.chat is not None and call.channel == "chat" else chosen.template


# (prompt, flow) by identity and the call's language -> the prompt as spoken when nothing in
# it is rendered (None when something is), on a phone and in a web chat (the same object
# when the text has no chat form). Such a prompt is the same for every call, so it is made
# once (one frozen `SpokenPrompt`, shared), not at every play.
_Plain = tuple[Prompt, Flow, SpokenPrompt | None, SpokenPrompt | None]
_plain: dict[tuple[int, int, str], _Plain] = {}
_LIMIT = 100_000


def plain_prompt(call: CallContext, frame: Frame, prompt: Prompt) -> SpokenPrompt | None:
    """`prompt` as spoken, when it needs no rendering (no `{...}` parts); else None."""
    flow = frame.flow
    ident = (id(prompt), id(flow), call.language)
    seen = _plain.get(ident)
    if seen is None or seen[0] is not prompt or seen[1] is not flow:
        seen = _plain_forms(call.language, frame, prompt)
        if len(_plain) >= _LIMIT:
            _plain.clear()
        _plain[ident] = seen
    spoken, in_chat = seen[2], seen[3]
    # The channel is asked only of a prompt with a chat form of its own.
    return spoken if in_chat is spoken or call.channel != "chat" else in_chat


def _plain_forms(language: str, frame: Frame, prompt: Prompt) -> _Plain:
    chosen_language, chosen = _choose(language, frame, prompt)
    audio = _audio_path(frame, chosen.audio)

    def plain(shown: Template | None) -> SpokenPrompt | None:
        text = "" if shown is None else fixed_text(shown)
        return None if text is None else SpokenPrompt(text, chosen_language, audio)

    spoken = plain(chosen.template)
    return (prompt, frame.flow, spoken, spoken if chosen.chat is None else plain(chosen.chat))


def _audio_path(frame: Frame, audio: str | None) -> str | None:
    """An audio file named in a flow, found relative to that flow's file (as `ivr check`
    looks for it), not to the folder the server was started in."""
    return None if audio is None else _audio_beside(frame.flow.file, audio)


@functools.lru_cache(maxsize=4096)
def _audio_beside(flow_file: str, audio: str) -> str:
    # Remembered: the same few prompts are played on every call, and building the paths
    # each time showed in the profile of `ivr serve`.
    if Path(audio).is_absolute():
        return audio
    return str(Path(flow_file).parent / audio)


async def _rendered(call: CallContext, frame: Frame, node: Node, template: Template, language: str) -> str:
    results = await prefetch(call, frame, node, template) if calls_in(template) else None
    scope = call.masked_scope(frame)
    return expressions.render_template(
        template, scope, language=language, call_results=results, now=call.now()
    )


def _fixed_text(template: Template) -> str | None:
    parts = template.parts
    return "".join(p for p in parts if isinstance(p, str)) if all(isinstance(p, str) for p in parts) else None


# The text of a template without `{...}` parts (most prompts), else None: such a prompt
# costs no rendering.
fixed_text = IdentityMemo(_fixed_text)


async def speak(
    call: CallContext, frame: Frame, node: Node, prompts: Sequence[Prompt | None], *, barge_in: bool
) -> bool:
    """Play the prompts in order; True if the caller cut one short with a digit."""
    for prompt in prompts:
        if prompt is None:
            continue
        # A plain-text prompt (most are) is made once and needs no coroutine to render.
        spoken = plain_prompt(call, frame, prompt)
        if spoken is None:
            spoken = await render(call, frame, node, prompt)
        await call.event("prompt", node, text=spoken.text, language=spoken.language, audio=spoken.audio)
        if await call.leg.play(spoken, barge_in=barge_in):
            return True
    return False
