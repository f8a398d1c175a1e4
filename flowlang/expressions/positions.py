"""Source positions: map an offset inside an expression or template to a `Span` in the YAML file.

The loader gives the span of the first character of the text (its origin); parser.py,
syntax_errors.py and templates.py place every node and every error relative to it.
"""

from __future__ import annotations

from ivr.flowlang.diagnostics import Span


def span_at(origin: Span, text: str, start: int, end: int | None = None) -> Span:
    """The span of `text[start:end]` (one character when `end` is omitted or not after start)."""
    first = origin.shifted(text[:start], 1)
    if end is None or end <= start:
        return first
    last = origin.shifted(text[:end], 1)
    return Span(origin.file, first.line, first.col, last.line, last.col)
