"""Values inside nodes: durations, keys, edges, expressions, templates and prompts.

Expressions are parsed with `ivr.flowlang.expressions`, whose spans start at the first
character of the YAML scalar (inside the quotes), so an expression error points at the
exact character. YAML numbers and booleans where an expression is expected become literal
expressions. A parse error is reported once and the value left out; the flow is then
marked incomplete so later checks do not guess about what is missing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import TypeVar

from ivr.flowlang.compile.reader import Context, Reader
from ivr.flowlang.compile.unquoted import looks_like_text, non_ascii_name, text_error
from ivr.flowlang.diagnostics import Span
from ivr.flowlang.expressions import Expr, ExpressionError, Template, parse_expression, parse_template
from ivr.flowlang.ir import DTMF_KEYS, Argument, Assignment, Edge, Prompt, PromptText
from ivr.flowlang.yamlsource import YamlPath

T = TypeVar("T")

_DURATION = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(ms|s|m)$")
_UNITS = {"ms": Decimal("0.001"), "s": Decimal(1), "m": Decimal(60)}


def parse_duration(value: object) -> Decimal | None:
    """Seconds as a Decimal for `5s`, `500ms`, `2m` or a plain number; None if not a duration."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, Decimal)):
        seconds = Decimal(value)
        return seconds if seconds.is_finite() and seconds >= 0 else None
    if isinstance(value, str):
        match = _DURATION.match(value.strip())
        if match:
            try:
                return Decimal(match.group(1)) * _UNITS[match.group(2)]
            except InvalidOperation:
                return None
    return None


def duration(r: Reader, name: str, default: Decimal) -> Decimal:
    found = parse_duration(r.get(name))
    return default if found is None else found


def optional_duration(r: Reader, name: str) -> Decimal | None:
    return parse_duration(r.get(name))


def key(r: Reader, name: str, default: str | None) -> str | None:
    """A DTMF key ("1", "#"), or None when the author wrote `false` for "no key"."""
    value = r.get(name)
    if value is False:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 9:
        return str(value)
    if isinstance(value, str) and len(value) == 1 and value in DTMF_KEYS:
        return value
    return default


def edge(r: Reader, name: str, label: str | None = None) -> Edge | None:
    value = r.get(name)
    if not isinstance(value, str) or not value:
        return None
    return Edge(label or name, value, r.span(name))


def expression(ctx: Context, value: object, path: YamlPath) -> Expr | None:
    """Parse the expression at `path`; literals for YAML numbers and booleans."""
    if isinstance(value, bool):
        text, origin = ("true" if value else "false"), ctx.value_span(path)
    elif isinstance(value, (int, Decimal)):
        text, origin = str(value), ctx.value_span(path)
    elif isinstance(value, str):
        text, origin = value, ctx.source_map.content_start(path)
    else:
        return None
    return _parse(ctx, path, text, lambda: _expression_or_text(text, origin, path))


def _expression_or_text(text: str, origin: Span, path: YamlPath) -> Expr:
    """The parsed expression; unquoted text (`张三`, `sip:a@b`) is reported as such."""
    key = path[-1] if path else ""
    try:
        expr = parse_expression(text, origin)
    except ExpressionError:
        if looks_like_text(text):
            raise text_error(text, key, origin) from None
        raise
    if not text.isascii() and non_ascii_name(expr) is not None and looks_like_text(text):
        raise text_error(text, key, origin)
    return expr


def template(ctx: Context, value: object, path: YamlPath) -> Template | None:
    if not isinstance(value, str):
        return None
    origin = ctx.source_map.content_start(path)
    return _parse(ctx, path, value, lambda: parse_template(value, origin))


def _parse(ctx: Context, path: YamlPath, text: str, parse: Callable[[], T]) -> T | None:
    if not ctx.admit_expression(text, path):
        return None
    try:
        parsed = parse()
    except ExpressionError as error:
        ctx.report(error.code, error.message, error.span, error.hint, path)
        ctx.incomplete = True
        ctx.expression_chars += len(text)  # a failed text is parsed twice (to place its error)
        return None
    ctx.parsed(text)
    return parsed


def field_expression(r: Reader, name: str) -> Expr | None:
    return expression(r.ctx, r.get(name), r.at(name))


def arguments(r: Reader, name: str) -> tuple[Argument, ...]:
    """`name: expression` pairs (operation args, subflow inputs, data, metadata)."""
    out = []
    for arg, value, path in r.mapping(name):
        expr = expression(r.ctx, value, path)
        if expr is not None:
            out.append(Argument(arg, expr, r.ctx.entry_span(path)))
    return tuple(out)


def assignments(r: Reader, name: str) -> tuple[Assignment, ...]:
    """`variable: expression` pairs, in the order written."""
    return tuple(Assignment(a.name, a.expr, a.span) for a in arguments(r, name))


def prompt(r: Reader, name: str) -> Prompt | None:
    """A prompt per declared language. Plain text is fine when the flow has one language;
    with several it is reported (FL403) and used for every language so checks go on."""
    value, path, ctx = r.get(name), r.at(name), r.ctx
    if isinstance(value, str):
        return _plain_prompt(ctx, value, path)
    if not isinstance(value, dict):
        return None
    texts = {}
    for language, item in value.items():
        texts[language] = _prompt_text(ctx, item, (*path, language))
    return Prompt(texts, ctx.value_span(path))


def _plain_prompt(ctx: Context, value: str, path: YamlPath) -> Prompt:
    languages = ctx.languages
    if len(languages) > 1:
        example = ", ".join(f"{lang}: ..." for lang in languages)
        ctx.report(
            "FL403",
            f"this prompt has no language, but the flow speaks {' and '.join(languages)}",
            ctx.value_span(path),
            f"give the text per language: `{{{example}}}`",
            path,
        )
    text = PromptText(template(ctx, value, path), None, ctx.value_span(path))
    return Prompt({lang: text for lang in languages}, ctx.value_span(path))


def _prompt_text(ctx: Context, item: object, path: YamlPath) -> PromptText:
    span = ctx.entry_span(path)
    if isinstance(item, dict):
        audio = item.get("audio")
        text = template(ctx, item.get("text"), (*path, "text"))
        chat = template(ctx, item.get("chat"), (*path, "chat")) if "chat" in item else None
        return PromptText(text, audio if isinstance(audio, str) else None, span, chat)
    return PromptText(template(ctx, item, path), None, span)
