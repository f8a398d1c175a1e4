"""Language and prompt checks (FL40x): pinned code, message and hint."""

from __future__ import annotations

import textwrap
from pathlib import Path

from ivr.flowlang.diagnostics import Diagnostic, Severity
from ivr.flowlang.project import load_flow_text


def check(nodes: str, languages: str = "[zh, en]", file: str = "t.yaml") -> list[Diagnostic]:
    text = f"flow: t\nlanguages: {languages}\nstart: a\nnodes:\n"
    text += textwrap.indent(textwrap.dedent(nodes).strip("\n") + "\n", "  ")
    flow, found = load_flow_text(text, file)
    assert flow is not None, found
    return found


def test_prompt_missing_a_declared_language() -> None:
    [d] = check("a: {type: hangup, prompt: {zh: 再见}}")
    assert (d.code, d.message) == ("FL401", "a prompt of node 'a' has no 'en' text")
    assert d.hint == "add `en: ...`; this flow speaks zh, en"


def test_unknown_language_code_in_the_declaration() -> None:
    found = check("a: {type: hangup, prompt: {zh: 再见, en: Bye}}", languages="[cn, en]")
    assert (found[0].code, found[0].message) == ("FL402", "'cn' is not a language code")
    assert found[0].span.col == 13


def test_plain_prompt_needs_a_language_when_there_are_several() -> None:
    [d] = check("a: {type: hangup, prompt: Bye}")
    assert d.code == "FL403"
    assert d.message == "this prompt has no language, but the flow speaks zh and en"
    assert d.hint == "give the text per language: `{zh: ..., en: ...}`"


def test_plain_prompt_is_fine_with_one_language() -> None:
    assert check("a: {type: hangup, prompt: Bye}", languages="[en]") == []


def test_prompt_language_not_declared_is_a_warning() -> None:
    [d] = check("a: {type: hangup, prompt: {zh: 再见, en: Bye, eng: Bye}}")
    assert (d.code, d.severity) == ("FL404", Severity.WARNING)
    assert d.message == "'eng' is not a language of this flow"
    assert d.hint == "did you mean 'en'?"


def test_missing_audio_file_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / "here.wav").write_bytes(b"RIFF")
    nodes = "a: {type: hangup, prompt: {zh: {audio: here.wav}, en: {audio: gone.wav, text: Bye}}}"
    [d] = check(nodes, file=str(tmp_path / "t.yaml"))
    assert (d.code, d.severity) == ("FL405", Severity.WARNING)
    assert d.message.startswith("audio file 'gone.wav' does not exist")


def test_switch_to_an_undeclared_language() -> None:
    found = check("a: {type: language, language: ja, next: b}\nb: {type: hangup}")
    assert [(d.code, d.message) for d in found] == [
        ("FL406", "node 'a' switches to 'ja', which this flow's prompts do not speak")
    ]


def test_switch_to_something_that_is_no_language() -> None:
    found = check("a: {type: language, language: english, next: b}\nb: {type: hangup}")
    assert [d.code for d in found] == ["FL402"]
