"""Speaking prompts: pick the call's language, render the template, play, record it.

In a web chat (`call.channel`), a prompt's `chat` text form, when it has one, is shown
instead of its spoken text.

Templates are rendered from the masked scope, so a secret can never be spoken even if a
prompt names it; a template without `{...}` parts is its own text. Several prompts in a row
(a no-input apology, then the retry prompt) stop at the first one the caller cuts with a
digit: the caller is already answering.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

from ivr.flowlang import expressions
from ivr.flowlang.expressions import Template
from ivr.flowlang.ir import Node, Prompt, PromptText
from ivr.runtime.context import CallContext, Frame
from ivr.runtime.memo import IdentityMemo
from ivr.runtime.ports import SpokenPrompt
from ivr.runtime.steps._eval import prefetch


def choose(call: CallContext, frame: Frame, prompt: Prompt) -> tuple[str, PromptText]:
    """The prompt text in the call's language, else the flow's default, else any."""
    for language in (call.language, frame.flow.default_language):
        if language in prompt.by_language:
            return language, prompt.by_language[language]
    language, text = next(iter(prompt.by_language.items()))
    return language, text


async def render(call: CallContext, frame: Frame, node: Node, prompt: Prompt) -> SpokenPrompt:
    language, chosen = choose(call, frame, prompt)
    text = ""
    shown = chosen.chat if chosen.chat is not None and call.channel == "chat" else chosen.template
    if shown is not None:
        fixed = fixed_text(shown)
        text = fixed if fixed is not None else await _rendered(call, frame, node, shown, language)
    return SpokenPrompt(text=text, language=language, audio=_audio_path(frame, chosen.audio))


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
    results = await prefetch(call, frame, node, template)
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
        spoken = await render(call, frame, node, prompt)
        await call.event("prompt", node, text=spoken.text, language=spoken.language, audio=spoken.audio)
        if await call.leg.play(spoken, barge_in=barge_in):
            return True
    return False
