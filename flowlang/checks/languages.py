"""Language and prompt checks (FL4xx): every prompt speaks every declared language, codes
are real, `language` nodes switch only to declared languages, audio files exist.

FL403 (a plain-text prompt in a flow with several languages) is reported by the compiler,
which still sees the YAML shape.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ivr.flowlang.checks.context import Checking, error, warning
from ivr.flowlang.compile.language_codes import is_language_code, language_hint
from ivr.flowlang.diagnostics import Diagnostic, Span, did_you_mean
from ivr.flowlang.ir import Flow, Language, Node, Prompt, Send


def check_flow(flow: Flow, c: Checking) -> Iterator[Diagnostic]:
    # a declared code that is not a language (`cn`, reported as FL402) is the one mistake;
    # the prompts' real code (`zh`) is then not "undeclared" as well
    misspelt = any(not is_language_code(language) for language in flow.languages)
    for node in flow.nodes.values():
        for prompt in _prompts(node):
            yield from _prompt(flow, node, prompt, misspelt)
        if isinstance(node, Language):
            yield from _switch(flow, node)
    yield from _service_languages(flow, c)


def _prompts(node: Node) -> Iterator[Prompt]:
    yield from node.prompts()
    if isinstance(node, Send) and node.message is not None:
        yield node.message


def _prompt(flow: Flow, node: Node, prompt: Prompt, misspelt: bool) -> Iterator[Diagnostic]:
    declared = ", ".join(flow.languages)
    for language in flow.languages:
        if language not in prompt.by_language and is_language_code(language):
            message = f"a prompt of node '{node.id}' has no '{language}' text"
            hint = f"add `{language}: ...`; this flow speaks {declared}"
            yield error("FL401", message, prompt.span, hint, node)
    for language, text in prompt.by_language.items():
        if language not in flow.languages and (text.template or text.audio) and not misspelt:
            hint = (
                did_you_mean(language, flow.languages)
                or f"add it to `languages:` (now {declared}) or remove it"
            )
            message = f"'{language}' is not a language of this flow"
            yield warning("FL404", message, text.span, hint, node)
        if text.audio is not None:
            yield from _audio(flow, node, text.audio, text.span)


def _audio(flow: Flow, node: Node, audio: str, span: Span) -> Iterator[Diagnostic]:
    folder = Path(flow.file).parent
    if not folder.is_dir() or "{" in audio:
        return
    if not (folder / audio).is_file():
        message = f"audio file '{audio}' does not exist (looked in {folder / audio})"
        hint = "paths are relative to the flow file; the text (if any) is spoken instead"
        yield warning("FL405", message, span, hint, node)


def _switch(flow: Flow, node: Language) -> Iterator[Diagnostic]:
    if node.language in flow.languages:
        return
    if not is_language_code(node.language):
        yield error(
            "FL402",
            f"'{node.language}' is not a language code",
            node.language_span,
            language_hint(node.language),
            node,
        )
        return
    hint = (
        did_you_mean(node.language, flow.languages)
        or f"add it to `languages:` (now {', '.join(flow.languages)})"
    )
    message = f"node '{node.id}' switches to '{node.language}', which this flow's prompts do not speak"
    yield error("FL406", message, node.language_span, hint, node)


def _service_languages(flow: Flow, c: Checking) -> Iterator[Diagnostic]:
    service = c.project.service
    if service is None or not service.languages:
        return
    for language in flow.languages:
        if language not in service.languages and is_language_code(language):
            message = f"flow '{flow.name}' speaks '{language}', which the service does not list"
            hint = f"the service languages are {', '.join(service.languages)}; add it there too"
            yield warning("FL407", message, flow.languages_span, hint)
