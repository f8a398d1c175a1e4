"""Friendly syntax errors: turn Lark's UnexpectedInput into an `ExpressionError` that teaches.

Used by parser.py only. Flow authors are business staff, often typing with a Chinese input
method, so the common slips get a message of their own: `=` for `==`, `&&`, full-width
punctuation, an unclosed string or bracket, a dangling operator, a chained comparison.
"""

from __future__ import annotations

import re

from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from ivr.flowlang.diagnostics import Span
from ivr.flowlang.expressions.errors import ExpressionError
from ivr.flowlang.expressions.positions import span_at

FULL_WIDTH = dict(
    zip(
        "（）［］｛｝，。．：；“”‘’＝＋－＊／％＜＞！｜＆０１２３４５６７８９",
        "()[]{},..:;\"\"''=+-*/%<>!|&0123456789",
        strict=True,
    )
)

OPERATORS = ("==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/", "%", ",", "(", "[")
KEYWORD_OPERATORS = ("and", "or", "not", "in", "if", "else")
OPENERS = {"(": ")", "[": "]"}
CLOSERS = {")": "(", "]": "["}

_LAST_TOKEN = re.compile(
    r"(==|!=|<=|>=|[-+*/%<>(\[\]),.]|\b(?:and|or|not|in|if|else)|[^\W\d]\w*|[0-9]+(?:\.[0-9]+)?|[\"'])$"
)

_EXPECTED = {
    "NUMBER": "a number",
    "STRING": "text in quotes",
    "NAME": "a name",
    "COMP_OP": "a comparison",
    "ADD_OP": "'+' or '-'",
    "MUL_OP": "'*', '/' or '%'",
    "RPAR": "')'",
    "RSQB": "']'",
    "COMMA": "','",
    "ELSE": "'else'",
}


def explain(error: UnexpectedInput, text: str, origin: Span) -> ExpressionError:
    """The most helpful `ExpressionError` for a Lark parse failure in `text`."""
    if isinstance(error, UnexpectedCharacters):
        return _bad_character(text, error.pos_in_stream or 0, origin)
    if isinstance(error, UnexpectedToken):
        if error.token.type == "$END":
            return _ends_early(text, origin, error.expected)
        return _bad_token(text, origin, error)
    return ExpressionError("cannot read this expression", span_at(origin, text, 0))


def _bad_character(text: str, pos: int, origin: Span) -> ExpressionError:
    char = text[pos]
    span = span_at(origin, text, pos, pos + 1)
    if char in "\"'":
        return ExpressionError("unclosed string", span, f"end the text with a matching {char}")
    if char in FULL_WIDTH:
        ascii_char = FULL_WIDTH[char]
        return ExpressionError(
            f"full-width '{char}' in an expression",
            span,
            f"type the ASCII '{ascii_char}' instead; switch the input method to English",
        )
    pair = text[pos : pos + 2]
    if char == "&":
        return ExpressionError(f"use 'and' instead of '{pair if pair == '&&' else char}'", span)
    if char == "|":
        return ExpressionError(f"use 'or' instead of '{pair if pair == '||' else char}'", span)
    if char == "!":
        return ExpressionError("use 'not' instead of '!'", span, "'!=' means 'not equal'")
    if char == "=":
        return ExpressionError("single '=' in an expression", span, "'=' is assignment; compare with '=='")
    if char in "{}":
        return ExpressionError(
            f"unexpected '{char}'", span, "braces belong in prompt templates, not in expressions"
        )
    if char in "?:":
        return ExpressionError(f"unexpected '{char}'", span, "write a choice as 'a if condition else b'")
    return ExpressionError(f"unexpected character {char!r}", span)


def _ends_early(text: str, origin: Span, expected: set[str]) -> ExpressionError:
    if not text.strip():
        return ExpressionError(
            "empty expression", span_at(origin, text, 0), "write a value such as 0 or 'text'"
        )
    opener = _unclosed_bracket(text)
    if opener is not None:
        char = text[opener]
        return ExpressionError(
            f"'{char}' is never closed", span_at(origin, text, opener), f"add '{OPENERS[char]}'"
        )
    last, at = _last_token(text, len(text))
    span = span_at(origin, text, at, at + len(last))
    if last == ".":
        return ExpressionError("expected a field name after '.'", span)
    if last in OPERATORS or last in KEYWORD_OPERATORS:
        hint = f"write a value after '{last}', e.g. `{text.rstrip()} 0`" if last not in "([," else None
        return ExpressionError(f"expected a value after '{last}'", span, hint)
    if "ELSE" in expected:
        return ExpressionError("expected 'else'", span, "write a choice as 'a if condition else b'")
    return ExpressionError("the expression ends too early", span, _expected_hint(expected))


def _bad_token(text: str, origin: Span, error: UnexpectedToken) -> ExpressionError:
    token = error.token
    pos = token.start_pos or 0
    value = str(token)
    span = span_at(origin, text, pos, pos + len(value))
    last, _ = _last_token(text, pos)
    if value in CLOSERS:
        stack, stray = _brackets(text)
        if stray == pos and stack:
            opener = text[stack[-1]]
            open_col = span_at(origin, text, stack[-1]).col
            return ExpressionError(
                f"expected '{OPENERS[opener]}' before '{value}'",
                span,
                f"the '{opener}' at column {open_col} is still open",
            )
        if stray == pos:
            return ExpressionError(
                f"unmatched '{value}'", span, f"remove it or add '{CLOSERS[value]}' before it"
            )
    if last in OPERATORS or last in KEYWORD_OPERATORS:
        return ExpressionError(f"expected a value after '{last}', found '{value}'", span)
    if token.type == "COMP_OP" or (token.type in ("IN", "NOT") and "COMP_OP" not in error.expected):
        return ExpressionError(
            "comparisons cannot be chained", span, "join them with 'and', e.g. 'a < b and b < c'"
        )
    if value == "(" and _follows_dot(text, pos, last):
        return ExpressionError(
            "only functions can be called", span, f"write '{last}(x)' instead of 'x.{last}()'"
        )
    if value.lower() in (*KEYWORD_OPERATORS, "true", "false", "null") and value != value.lower():
        return ExpressionError(f"unexpected '{value}'", span, f"keywords are lower case: '{value.lower()}'")
    if token.type in ("NAME", "NUMBER", "STRING", "LPAR", "LSQB"):
        return ExpressionError(
            f"missing operator before '{value}'",
            span,
            "join values with an operator such as '+', 'and' or '=='",
        )
    return ExpressionError(f"unexpected '{value}'", span, _expected_hint(error.expected))


def _last_token(text: str, end: int) -> tuple[str, int]:
    """The token just before offset `end` and where it starts ('' when there is none)."""
    before = text[:end].rstrip()
    match = _LAST_TOKEN.search(before)
    if match is None:
        return "", max(len(before) - 1, 0)
    return match.group(1), match.start(1)


def _follows_dot(text: str, pos: int, last: str) -> bool:
    """Whether the token `last` before offset `pos` is a field name, as in `x.upper(`."""
    before = text[:pos].rstrip()
    return bool(last) and before[: len(before) - len(last)].rstrip().endswith(".")


def _expected_hint(expected: set[str]) -> str | None:
    names = sorted({_EXPECTED[name] for name in expected if name in _EXPECTED})
    return "expected " + " or ".join(names) if names else None


def _brackets(text: str) -> tuple[list[int], int | None]:
    """Offsets of brackets left open, and of the first closer with no opener, skipping strings."""
    stack: list[int] = []
    quote: str | None = None
    escaped = False
    for pos, char in enumerate(text):
        if quote is not None:
            escaped, quote = (False, quote) if escaped else (char == "\\", None if char == quote else quote)
        elif char in "\"'":
            quote = char
        elif char in OPENERS:
            stack.append(pos)
        elif char in CLOSERS:
            if not stack or text[stack[-1]] != CLOSERS[char]:
                return stack, pos
            stack.pop()
    return stack, None


def _unclosed_bracket(text: str) -> int | None:
    stack, stray = _brackets(text)
    return stack[-1] if stack and stray is None else None
