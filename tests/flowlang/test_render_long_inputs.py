"""Rendering stays proportional to what is shown. Found by fuzzing: a flow test file of
20,000 unknown keys gave 20,000 diagnostics, and rendering each split the whole 250 KB text
again (25 s); a long line was also printed whole under every diagnostic on it."""

from __future__ import annotations

from ivr.flowlang import diagnostics
from ivr.flowlang.diagnostics import MAX_SHOWN, Diagnostic, Severity, Span, render


def _at(line: int, col: int, end_col: int) -> Diagnostic:
    return Diagnostic("FL102", Severity.ERROR, "unknown field", Span("f.yaml", line, col, line, end_col))


def test_a_long_line_is_shown_around_the_span_with_the_caret_under_it() -> None:
    line = "k: {" + ", ".join(f"f{i}: {i}" for i in range(5000)) + "}"
    col = line.index("f2500") + 1
    text = render(_at(1, col, col + 5), {"f.yaml": line})
    _, shown, caret = text.splitlines()
    assert shown.startswith("   1 | …") and shown.endswith("…")
    assert len(shown) <= len("   1 | ") + MAX_SHOWN + 2
    start = caret.index("^")
    assert caret[start:] == "^" * 5 and shown[start : start + 5] == "f2500"


def test_a_short_line_is_shown_whole() -> None:
    text = render(_at(2, 3, 5), {"f.yaml": "a: 1\nb: xy\n"})
    assert text.splitlines()[1:] == ["   2 | b: xy", "         ^^"]


def test_many_diagnostics_of_one_file_split_it_once() -> None:
    source = "".join(f"k{i}: {i}\n" for i in range(20_000))
    before = diagnostics._lines.cache_info().misses
    for i in range(1, 20_001, 7):
        render(_at(i, 1, 3), {"f.yaml": source})
    assert diagnostics._lines.cache_info().misses == before + 1
