"""YAML mistakes flow authors make, each explained at the right character with what to type."""

from __future__ import annotations

import pytest

from ivr.flowlang.diagnostics import Diagnostic
from ivr.flowlang.yamlsource import load_yaml


def only(text: str) -> Diagnostic:
    [diagnostic] = load_yaml(text, "f.yaml").diagnostics
    return diagnostic


@pytest.mark.parametrize(
    ("name", "text", "code", "line", "col", "fix"),
    [
        ("tab indentation", "nodes:\n  m:\n\ttype: say\n", "FL001", 3, 1, "spaces"),
        ("tab inside a mapping", "a:\n  b: 1\n\tc: 2\n", "FL001", 3, 1, "spaces"),
        ("unclosed double quote", 'p: {zh: "你好, en: Hi}\nq: 1\n', "FL001", 1, 9, 'end the text with "'),
        ("unclosed single quote", "a: 'hello\nb: 1\n", "FL001", 1, 4, "end the text with '"),
        ("quote inside single quotes", "a: 'it's fine'\nb: 1\n", "FL001", 1, 7, "twice"),
        ("bare star key", "options:\n  *: back\n  1: x\n", "FL001", 2, 3, '"*": <node>'),
        ("bare star value", "cancel_key: *\nnext: x\n", "FL001", 1, 13, '"*"'),
        ("star key in braces", "options: {*: back}\n", "FL001", 1, 11, '"*"'),
        ("full-width colon", "m:\n  type： say\n  next: x\n", "FL011", 2, 7, "type: "),
        ("full-width colon last", "m:\n  next: x\n  type： say\n", "FL011", 3, 7, "type: "),
        ("full-width colon at the top", "flow： c\nstart: x\n", "FL011", 1, 5, "flow: "),
        ("missing space", "nodes:\n  m:\n    type:say\n    next: x\n", "FL012", 3, 9, "type: say"),
        ("missing space on the last key", "m:\n  next: x\n  type:say\n", "FL012", 3, 7, "type: say"),
        ("colon inside text", "prompt:\n  en: Note: the market is closed\n", "FL001", 2, 11, "quotes"),
        ("colon inside text in braces", "prompt: {en: Note: closed, zh: x}\n", "FL001", 1, 18, "quotes"),
        ("brace inside text in braces", "prompt: {en: Welcome {name}}\n", "FL001", 1, 22, '"Welcome {name}"'),
        ("unclosed bracket", "a: [1, 2\nb: 3\n", "FL001", 1, 4, "add ']'"),
        ("unclosed brace", "a: {x: 1\nb: 3\n", "FL001", 1, 4, "add '}'"),
        ("list item among keys", "m:\n  type: say\n  - next: x\n", "FL001", 3, 3, "remove the '- '"),
        ("indented too far", "m:\n  type: say\n   next: x\n", "FL001", 3, 4, "same number of spaces"),
        ("value starting with @", "to: @home\n", "FL001", 1, 5, '"@home"'),
        ("non-ASCII tag", "x: !注意 请\n", "FL010", 1, 4, '"!注意 请"'),
    ],
)
def test_yaml_mistake_is_explained_where_it_is(
    name: str, text: str, code: str, line: int, col: int, fix: str
) -> None:
    d = only(text)
    assert (d.code, d.span.line, d.span.col) == (code, line, col), d
    assert fix in (d.hint or ""), d.hint
    assert "while scanning" not in d.message and "in this context" not in d.message


def test_a_tag_is_reported_and_its_value_left_out() -> None:
    loaded = load_yaml("if: !ok\n", "f.yaml")
    [d] = loaded.diagnostics
    assert (d.code, d.span.col, d.yaml_path) == ("FL010", 5, ("if",))
    assert "not ok" in (d.hint or "")
    assert loaded.data == {"if": None}


def test_run_together_key_in_braces_is_reported_and_read_as_meant() -> None:
    loaded = load_yaml("p: {zh:你好, en: Hi}\n", "f.yaml")
    [d] = loaded.diagnostics
    assert (d.code, d.span.line, d.span.col) == ("FL012", 1, 7)
    assert "zh: 你好" in (d.hint or "")
    assert loaded.data == {"p": {"zh": "你好", "en": "Hi"}}
    assert loaded.source_map.value(("p", "zh")).col == 8


def test_full_width_colon_in_braces_is_reported_and_read_as_meant() -> None:
    loaded = load_yaml("p: {zh：你好, en: Hi}\n", "f.yaml")
    [d] = loaded.diagnostics
    assert (d.code, d.span.col) == ("FL011", 7)
    assert loaded.data == {"p": {"zh": "你好", "en": "Hi"}}


def test_urls_and_sip_addresses_are_not_run_together_keys() -> None:
    text = "to: sip:expert@127.0.0.1\nurl: http://x/y\nf: a.b:c\np: {en: 'a:b'}\n"
    assert load_yaml(text, "f.yaml").diagnostics == []


def test_unrecognised_syntax_errors_keep_a_generic_hint() -> None:
    d = only("%x: 1\n")
    assert d.code == "FL001"
    assert d.hint


def test_a_full_width_comma_between_entries_is_explained_at_the_comma() -> None:
    d = only("p: {zh: 你好，en: Hello}\n")
    assert (d.code, d.span.col) == ("FL011", 11)
    assert "`, en:`" in (d.hint or "")


def test_a_full_width_comma_in_a_list_is_reported_and_read_as_two_items() -> None:
    loaded = load_yaml("languages: [zh，en]\n", "f.yaml")
    [d] = loaded.diagnostics
    assert (d.code, d.span.col, d.hint) == (
        "FL011",
        15,
        "type [zh, en] with ASCII commas (switch the input method to English)",
    )
    assert loaded.data == {"languages": ["zh", "en"]}


def test_chinese_text_with_its_own_commas_is_left_alone() -> None:
    loaded = load_yaml("p: {zh: 你好，欢迎, en: Hello}\nl: [a、b c]\n", "f.yaml")
    assert loaded.diagnostics == []


def test_a_quote_that_runs_on_to_a_later_line_is_blamed_where_it_opens() -> None:
    d = only('a:\n  prompt: {zh: "你好, en: Hi}\n  next: x\n  b: {en: "y"}\n')
    assert (d.code, d.span.line, d.span.col) == ("FL001", 2, 16)
    assert "not closed on its line" in d.message


def test_a_quoted_text_over_several_lines_on_purpose_is_not_blamed() -> None:
    d = only('a:\n  en: "The market\n    is closed."\n  next: x\n  c: {d: 1\n  e: 2\n')
    assert (d.span.line, d.message) == (5, "the '{' opened here is never closed")


def test_braces_inside_unquoted_prompt_text_are_explained() -> None:
    d = only("prompt: {en: {name} welcome}\n")
    assert (d.span.col, d.hint) == (14, 'put the text in quotes: `{en: "Welcome {name}"}`')
