"""Prompt templates: literal text with `{expr}` / `{expr|formatter:arg}` parts.

The flow loader calls `parse_template` for every prompt in a YAML flow; the runtime calls
`render_template` to get the text for the TTS voice. `{{` and `}}` stand for literal braces.
Brace and formatter mistakes are FL202; mistakes inside an expression keep FL201.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Mapping

from ivr.flowlang.diagnostics import Span
from ivr.flowlang.expressions.ast import Call, Interpolation, Template
from ivr.flowlang.expressions.errors import TEMPLATE_ERROR, EvaluationError, ExpressionError, ValueProblem
from ivr.flowlang.expressions.evaluator import evaluate
from ivr.flowlang.expressions.formatters import FORMATTERS
from ivr.flowlang.expressions.parser import parse_expression
from ivr.flowlang.expressions.positions import span_at
from ivr.flowlang.expressions.values import MAX_TEXT, to_text

_FORMATTER = re.compile(r"\s*([A-Za-z_]\w*)\s*(?::(.*))?")


def parse_template(text: str, origin: Span) -> Template:
    """The parts of a prompt; `origin` is the span of its first character in the YAML file."""
    if len(text) > MAX_TEXT:
        raise _error(f"prompt longer than {MAX_TEXT:,} characters", text, 0, origin)
    parts: list[str | Interpolation] = []
    literal: list[str] = []
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char in "{}" and text.startswith(char * 2, pos):
            literal.append(char)
            pos += 2
        elif char == "}":
            raise _error("single '}' in a prompt", text, pos, origin, "write '}}' for a literal brace")
        elif char == "{":
            end = _closing_brace(text, pos, origin)
            if literal:
                parts.append("".join(literal))
                literal.clear()
            parts.append(_interpolation(text, pos, end, origin))
            pos = end + 1
        else:
            literal.append(char)
            pos += 1
    if literal:
        parts.append("".join(literal))
    return Template(tuple(parts), span_at(origin, text, 0, len(text)))


def _error(message: str, text: str, pos: int, origin: Span, hint: str | None = None) -> ExpressionError:
    return ExpressionError(message, span_at(origin, text, pos), hint, code=TEMPLATE_ERROR)


def _top_level(text: str, start: int, stops: str) -> int | None:
    """Offset of the first character of `stops` after `start` outside quotes, or None."""
    quote: str | None = None
    pos = start
    while pos < len(text):
        char = text[pos]
        if quote is not None:
            if char == "\\":
                pos += 1
            elif char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char in stops:
            return pos
        pos += 1
    return None


def _closing_brace(text: str, start: int, origin: Span) -> int:
    end = _top_level(text, start + 1, "}")
    if end is None:
        raise _error("'{' is never closed", text, start, origin, "add '}', or write '{{' for a literal brace")
    return end


def _interpolation(text: str, start: int, end: int, origin: Span) -> Interpolation:
    bar = _top_level(text[:end], start + 1, "|")
    if bar is not None and text.startswith("||", bar):
        bar = None  # `a || b`: let the expression parser explain that `or` is meant
    expr_end = end if bar is None else bar
    if not text[start + 1 : expr_end].strip():
        raise _error(
            "empty '{}' in a prompt", text, start, origin, "put an expression inside, or write '{{}}'"
        )
    expr = parse_expression(text[start + 1 : expr_end], span_at(origin, text, start + 1))
    formatter: str | None = None
    args: tuple[str, ...] = ()
    if bar is not None:
        formatter, args = _formatter(text, bar + 1, end, origin)
    return Interpolation(expr, formatter, args, span_at(origin, text, start, end + 1))


def _formatter(text: str, start: int, end: int, origin: Span) -> tuple[str, tuple[str, ...]]:
    match = _FORMATTER.fullmatch(text[start:end])
    if match is None:
        raise _error(
            "expected a formatter name after '|'", text, start, origin, "e.g. {amount|money} or {code|digits}"
        )
    args = () if match[2] is None else tuple(arg.strip() for arg in match[2].split(","))
    if any(not arg for arg in args):
        raise _error(f"empty argument for formatter '{match[1]}'", text, start, origin)
    return match[1], args


def render_template(
    t: Template,
    scope: Mapping[str, object],
    *,
    language: str,
    call_results: Mapping[Call, object] | None = None,
    now: dt.datetime | None = None,
) -> str:
    """The text to speak: every interpolation evaluated and formatted for `language`.

    Raises `EvaluationError` (with the span of the failing part) like `evaluate` does.
    """
    clock = now or dt.datetime.now()
    out: list[str] = []
    size = 0
    for part in t.parts:
        text = part if isinstance(part, str) else _render(part, scope, language, call_results, clock)
        size += len(text)
        if size > MAX_TEXT:
            raise EvaluationError(f"prompt longer than {MAX_TEXT:,} characters", t.span)
        out.append(text)
    return "".join(out)


def _render(
    part: Interpolation,
    scope: Mapping[str, object],
    language: str,
    call_results: Mapping[Call, object] | None,
    now: dt.datetime,
) -> str:
    value = evaluate(part.expr, scope, call_results=call_results, now=now)
    try:
        if part.formatter is None:
            return to_text(value)
        spec = FORMATTERS.get(part.formatter)
        if spec is None:
            raise ValueProblem(f"unknown formatter '{part.formatter}'")
        if len(part.formatter_args) > spec.max_args:
            raise ValueProblem(f"formatter '{spec.name}' takes at most {spec.max_args} argument(s)")
        return spec.impl(value, language, part.formatter_args)
    except ValueProblem as problem:
        raise EvaluationError(problem.message, part.span) from None
    except decimal.DecimalException as error:
        raise EvaluationError(f"cannot format this number ({type(error).__name__})", part.span) from None
