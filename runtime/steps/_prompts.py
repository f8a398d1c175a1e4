"""Speaking prompts: pick the call's language, render the template, play, record it.

Templates are rendered from the masked scope, so a secret can never be spoken even if a
prompt names it. Several prompts in a row (a no-input apology, then the retry prompt) stop
at the first one the caller cuts with a digit: the caller is already answering.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from ivr.flowlang import expressions
from ivr.flowlang.ir import Node, Prompt, PromptText
from ivr.runtime.context import CallContext, Frame
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
    if chosen.template is not None:
        results = await prefetch(call, frame, node, chosen.template)
        scope = call.masked_scope(frame)
        text = expressions.render_template(
            chosen.template, scope, language=language, call_results=results, now=call.now()
        )
    return SpokenPrompt(text=text, language=language, audio=_beside(frame.flow.file, chosen.audio))


def _beside(flow_file: str, audio: str | None) -> str | None:
    """An audio path as the checker reads it: relative to the flow file (a published version
    plays its own copy of the prompt, wherever the server keeps the version)."""
    if audio is None or os.path.isabs(audio) or not flow_file or flow_file.startswith("<"):
        return audio
    return os.path.join(os.path.dirname(flow_file), audio)


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
