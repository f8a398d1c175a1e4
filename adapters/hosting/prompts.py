"""Prompt audio for hosted calls: static prompts rendered at start-up, a memory cache.

Place: between the SIP legs and the espeak-ng renderer (`ivr.adapters.speech`). A prompt
template with no interpolation always says the same thing, so every such prompt of every
flow, in each of its languages (and the engine's fallback), is rendered once when the
server starts, in the background and a few at a time. Prompts with interpolations are
rendered on first use; both end up in the renderer's content-addressed file cache and in
`CachedRenderer`'s memory, so a repeated prompt costs a dictionary look-up, not a file
system call or a worker thread.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import fields

import trio

from ivr.adapters.hosting.metrics import Metrics
from ivr.adapters.sip.leg import PromptRenderer
from ivr.adapters.speech.espeak import RenderedPrompt, SpeechError
from ivr.flowlang.ir import Node, Project, Prompt, PromptText, Send
from ivr.runtime.engine import DEFAULT_FALLBACK

log = logging.getLogger(__name__)


def static_prompts(project: Project) -> set[tuple[str, str]]:
    """Every (text, language) that some spoken prompt of `project` says without interpolation."""
    found = {(text, language) for language, text in DEFAULT_FALLBACK.items()}
    for flow in project.flows.values():
        for node in flow.nodes.values():
            for prompt in _spoken_prompts(node):
                for language, chosen in prompt.by_language.items():
                    text = _static_text(chosen)
                    if text:
                        found.add((text, language))
    return found


def _static_text(chosen: PromptText) -> str | None:
    """The text of a TTS prompt without interpolations, else None."""
    template = chosen.template
    if chosen.audio is not None or template is None:
        return None
    if not all(isinstance(part, str) for part in template.parts):
        return None
    text = "".join(str(part) for part in template.parts)
    return text if text.strip() else None


def _spoken_prompts(node: Node) -> Iterator[Prompt]:
    if isinstance(node, Send):  # a message is sent, not spoken
        return
    for f in fields(node):
        value = getattr(node, f.name)
        if isinstance(value, Prompt):
            yield value


class CachedRenderer:
    """A `PromptRenderer` in front of another, remembering every rendered prompt."""

    def __init__(self, inner: PromptRenderer, metrics: Metrics) -> None:
        self._inner = inner
        self._metrics = metrics
        self._memory: dict[tuple[str, str], RenderedPrompt] = {}

    async def render(self, text: str, language: str) -> RenderedPrompt:
        key = (text, language)
        found = self._memory.get(key)
        if found is not None:
            self._metrics.tts_hits.inc()
            return found
        self._metrics.tts_misses.inc()
        rendered = await self._inner.render(text, language)
        self._memory[key] = rendered
        return rendered

    async def prerender(self, prompts: set[tuple[str, str]], workers: int | None = None) -> None:
        """Render `prompts` (a few at once); a failing one is logged and left to on-demand."""
        self._metrics.prompts_found(len(prompts))
        limiter = trio.CapacityLimiter(workers or max(1, (os.cpu_count() or 2)))
        done = 0

        async def one(text: str, language: str) -> None:
            nonlocal done
            async with limiter:
                try:
                    self._memory[(text, language)] = await self._inner.render(text, language)
                    done += 1
                    self._metrics.prompt_prerendered()
                except SpeechError as exc:
                    log.warning("could not pre-render a %s prompt (%s): %s", language, exc, text[:40])

        async with trio.open_nursery() as nursery:
            for text, language in sorted(prompts):
                nursery.start_soon(one, text, language)
        log.info("pre-rendered %d of %d static prompts", done, len(prompts))
