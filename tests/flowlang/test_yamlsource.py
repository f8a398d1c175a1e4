"""The YAML stage: source map positions, YAML 1.1 traps closed, problems as diagnostics."""

from __future__ import annotations

import re
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from ivr.flowlang.diagnostics import Diagnostic, Severity, Span, render
from ivr.flowlang.yamlsource import load_yaml, load_yaml_bytes

TEXT = """\
flow: demo
nodes:
  main:
    type: menu
    barge_in: no
    options:
      1: quotes
      "#": back
    price: 12.50
"""


def test_digit_keys_become_strings_and_no_stays_text() -> None:
    loaded = load_yaml(TEXT, "demo.yaml")
    assert loaded.diagnostics == []
    assert isinstance(loaded.data, dict)
    main = loaded.data["nodes"]["main"]
    assert main["options"] == {"1": "quotes", "#": "back"}
    assert main["barge_in"] == "no"
    assert main["price"] == Decimal("12.50")


def test_source_map_points_at_keys_and_values() -> None:
    loaded = load_yaml(TEXT, "demo.yaml")
    assert loaded.source_map.key(("nodes", "main", "options", "1")) == Span("demo.yaml", 7, 7, 7, 8)
    value = loaded.source_map.value(("nodes", "main", "options", "1"))
    assert (value.line, value.col) == (7, 10)
    # an unknown path falls back to its nearest known ancestor
    assert loaded.source_map.value(("nodes", "main", "nope")).line == 4


def test_quoted_scalar_content_starts_after_the_quote() -> None:
    loaded = load_yaml('a: "x + 1"\n', "f.yaml")
    assert loaded.data == {"a": "x + 1"}
    assert loaded.source_map.content_start(("a",)).col == 5


def test_duplicate_key_is_an_error_naming_the_first() -> None:
    loaded = load_yaml("options:\n  1: a\n  1: b\n", "f.yaml")
    [diag] = loaded.diagnostics
    assert diag.code == "FL003"
    assert "first at line 2" in diag.message
    assert diag.span.line == 3


def test_syntax_error_is_positioned_with_hint() -> None:
    loaded = load_yaml("a: [1, 2\nb: 3\n", "f.yaml")
    [diag] = loaded.diagnostics
    assert diag.code == "FL001"
    assert diag.severity is Severity.ERROR
    assert loaded.data is None
    assert diag.hint


def test_leading_zero_numbers_stay_text() -> None:
    assert load_yaml("account: 00123\n", "f.yaml").data == {"account": "00123"}


def test_render_puts_caret_under_cjk_text() -> None:
    source = "prompt: 请输入代码 {cod}\n"
    diag = Diagnostic(
        "FL206", Severity.ERROR, "undeclared 'cod'", Span("f.yaml", 1, 15, 1, 18), "did you mean 'code'?"
    )
    text = render(diag, {"f.yaml": source})
    lines = text.splitlines()
    assert lines[0] == "f.yaml:1:15: error[FL206]: undeclared 'cod'"
    caret_line = lines[2]
    # 8 ASCII columns + 5 CJK characters (2 columns each) + a space before the span
    assert caret_line.index("^") - len("   1 | ") == 8 + 10 + 1
    assert caret_line.count("^") == 3
    assert lines[3] == "  hint: did you mean 'code'?"


@given(st.text(max_size=200))
def test_any_text_gives_data_or_positioned_diagnostics_never_an_exception(text: str) -> None:
    loaded = load_yaml(text, "f.yaml")
    line_count = len(re.split("\r\n|[\r\n\x85\u2028\u2029]", text))  # YAML's line breaks
    for diag in loaded.diagnostics:
        assert diag.code in {"FL001", "FL002", "FL003", "FL010", "FL011", "FL012"}
        assert 1 <= diag.span.line <= line_count + 1
    if any(d.code == "FL001" for d in loaded.diagnostics):
        assert loaded.data is None


def test_control_character_is_positioned() -> None:
    [diag] = load_yaml("a: 1\nbb: x\x01\n", "f.yaml").diagnostics
    assert (diag.code, diag.span.line, diag.span.col) == ("FL001", 2, 6)


def test_deep_nesting_is_a_diagnostic() -> None:
    [diag] = load_yaml("[" * 20000, "f.yaml").diagnostics
    assert diag.code in {"FL001", "FL002"}
    assert "nest" in diag.message


def test_bad_encoding_points_at_the_byte() -> None:
    loaded = load_yaml_bytes(b"a: 1\nb: \xff\n", "f.yaml")
    [diag] = loaded.diagnostics
    assert (diag.code, diag.span.line, diag.span.col) == ("FL004", 2, 4)
    assert "UTF-8" in (diag.hint or "")


def test_bom_is_accepted() -> None:
    assert load_yaml_bytes("\ufeffa: 是\n".encode(), "f.yaml").data == {"a": "是"}


def test_oversized_file_is_refused_before_parsing() -> None:
    [diag] = load_yaml_bytes(b"#" * 5_000_001, "f.yaml").diagnostics
    assert diag.code == "FL004"


def test_python_tags_are_never_constructed() -> None:
    assert load_yaml("a: !!python/object/apply:os.system [echo hi]\n", "f.yaml").data == {"a": ["echo hi"]}


@given(st.binary(max_size=300))
def test_any_bytes_give_data_or_diagnostics(data: bytes) -> None:
    loaded = load_yaml_bytes(data, "f.yaml")
    assert all(d.code.startswith(("FL00", "FL01")) for d in loaded.diagnostics)


MERGED = """\
nodes:
  first: &menu_defaults
    type: menu
    timeout: 5s
    max_retries: 2
  second:
    <<: *menu_defaults
    timeout: 8s
"""


def test_a_key_overriding_a_merged_key_is_not_a_duplicate() -> None:
    loaded = load_yaml(MERGED, "f.yaml")
    assert loaded.diagnostics == []
    assert isinstance(loaded.data, dict)
    assert loaded.data["nodes"]["second"] == {"type": "menu", "timeout": "8s", "max_retries": 2}


def test_merged_values_point_at_where_the_anchor_defines_them() -> None:
    loaded = load_yaml(MERGED, "f.yaml")
    assert loaded.source_map.value(("nodes", "second", "max_retries")).line == 5
    assert loaded.source_map.value(("nodes", "second", "timeout")).line == 8


def test_a_key_written_twice_next_to_a_merge_is_still_a_duplicate() -> None:
    [diag] = load_yaml(MERGED + "    timeout: 9s\n", "f.yaml").diagnostics
    assert (diag.code, diag.span.line) == ("FL003", 9)


def test_an_earlier_merge_wins_over_a_later_one() -> None:
    text = "a: &a {x: 1}\nb: &b {x: 2, y: 3}\nc:\n  <<: [*a, *b]\n"
    loaded = load_yaml(text, "f.yaml")
    assert isinstance(loaded.data, dict)
    assert loaded.data["c"] == {"x": 1, "y": 3}
