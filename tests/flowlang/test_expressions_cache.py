"""The parse cache: a repeated expression text is parsed once and its spans moved to where
it stands, giving exactly what a fresh parse at that place gives."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivr.flowlang.diagnostics import Span
from ivr.flowlang.expressions import ExpressionError, parse_expression
from ivr.flowlang.expressions.parser import _parse

TEXTS = [
    "tries + 1",
    "len(code) == 6 and not locked",
    "quote.last * 100 if found else 0",
    "[1, 'a', null][0]",
    "a in ['x', 'y']",
    "default(result.name,\n  '未知')",
    "-3",
]


@given(
    st.sampled_from(TEXTS),
    st.integers(min_value=1, max_value=500),
    st.integers(min_value=1, max_value=200),
)
def test_cached_parse_equals_fresh_parse_at_any_place(text: str, line: int, col: int) -> None:
    origin = Span("flows/x.yaml", line, col)
    assert parse_expression(text, origin) == _parse(text, origin)


def test_errors_are_positioned_at_the_place_not_the_cache() -> None:
    for line in (3, 40):
        with pytest.raises(ExpressionError) as info:
            parse_expression("a +", Span("f.yaml", line, 9))
        assert (info.value.span.file, info.value.span.line) == ("f.yaml", line)
