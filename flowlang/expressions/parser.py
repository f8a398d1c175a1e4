"""Parse expression text into the AST of ast.py, using grammar.lark (LALR, positions kept).

First stage for expressions: the flow loader calls `parse_expression` for each expression it
finds in a YAML flow, passing the span of the text's first character so that every node and
every error points into the YAML file. templates.py calls it for each `{...}` of a prompt.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.resources
import re
from decimal import Decimal
from typing import Any

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedInput

from ivr.flowlang.diagnostics import Span
from ivr.flowlang.expressions.ast import (
    Attribute,
    Binary,
    BoolOp,
    Call,
    Compare,
    Conditional,
    Expr,
    In,
    Index,
    ListExpr,
    Literal,
    Name,
    Not,
    Unary,
)
from ivr.flowlang.expressions.errors import ExpressionError
from ivr.flowlang.expressions.positions import span_at
from ivr.flowlang.expressions.syntax_errors import explain
from ivr.flowlang.expressions.values import MAX_DEPTH

MAX_EXPRESSION = 10_000

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"'}
_ESCAPE = re.compile(r"\\([\s\S])")


@functools.cache
def _lark() -> Lark:
    grammar = importlib.resources.files(__package__).joinpath("grammar.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=False)


_RELATIVE = Span("", 1, 1)


def parse_expression(text: str, origin: Span) -> Expr:
    """The AST of `text`; `origin` is the span of its first character in the YAML file.

    Raises `ExpressionError` (code FL201) with a span and a hint when the text does not parse.
    Flows repeat the same expressions (`tries + 1`, `code`) many times: each distinct text is
    parsed once, relative to line 1 column 1, and its spans are moved to `origin`.
    """
    try:
        relative = _parse_cached(text)
    except ExpressionError:
        return _parse(text, origin)  # raises, positioned at origin
    moved: Expr = relocate(relative, origin)
    return moved


@functools.lru_cache(maxsize=8192)
def _parse_cached(text: str) -> Expr:
    return _parse(text, _RELATIVE)


def relocate(node: Any, origin: Span) -> Any:
    """`node` (parsed at line 1 column 1 of an unnamed file) with every span moved to start at
    `origin`, the way `Span.shifted` places text: only the first line's columns move."""
    changes: dict[str, object] = {}
    for field in dataclasses.fields(node):
        value = getattr(node, field.name)
        if isinstance(value, Span):
            changes[field.name] = _move(value, origin)
        elif dataclasses.is_dataclass(value):
            changes[field.name] = relocate(value, origin)
        elif isinstance(value, tuple) and value and dataclasses.is_dataclass(value[0]):
            changes[field.name] = tuple(relocate(item, origin) for item in value)
    return dataclasses.replace(node, **changes)


def _move(span: Span, origin: Span) -> Span:
    line, col = _moved(span.line, span.col, origin)
    end_line, end_col = _moved(span.end_line, span.end_col, origin)
    return Span(origin.file, line, col, end_line, end_col)


def _moved(line: int, col: int, origin: Span) -> tuple[int, int]:
    if line == 1:
        return origin.line, origin.col + col - 1
    return origin.line + line - 1, col


def _parse(text: str, origin: Span) -> Expr:
    if len(text) > MAX_EXPRESSION:
        raise ExpressionError(
            f"expression longer than {MAX_EXPRESSION:,} characters", span_at(origin, text, 0)
        )
    deep = _bracket_past_depth(text)
    if deep is not None:
        raise ExpressionError(
            f"expression nested more than {MAX_DEPTH} levels deep", span_at(origin, text, deep), "split it up"
        )
    try:
        tree = _lark().parse(text)
    except UnexpectedInput as error:
        raise explain(error, text, origin) from None
    if _depth(tree) > MAX_DEPTH:
        raise ExpressionError(
            f"expression nested more than {MAX_DEPTH} levels deep", span_at(origin, text, 0), "split it up"
        )
    result: Expr = _ToAst(text, origin).transform(tree)
    return result


def _bracket_past_depth(text: str) -> int | None:
    """Where a list, an index or a call opens deeper than `MAX_DEPTH` (outside quotes), found
    in one pass before Lark builds a tree: found by fuzzing, a 10,000-character `[[[[...]]]]`
    cost half a second to build and then refuse, and a flow could hold many. Grouping
    parentheses add no level (the tree has none for them), so only a `(` after a name counts."""
    depth, quote, escaped, previous = 0, "", False, ""
    counted: list[bool] = []  # for each open bracket, whether it added a level
    for offset, char in enumerate(text):
        if escaped:
            escaped = False
        elif quote:
            escaped = char == "\\"
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([":
            counted.append(char == "[" or previous.isalnum() or previous == "_")
            depth += counted[-1]
            if depth > MAX_DEPTH:
                return offset
        elif char in ")]" and counted:
            depth -= counted.pop()
        if not char.isspace():
            previous = char
    return None


def _depth(tree: Tree[Token]) -> int:
    """How deep `tree` nests, computed without recursion (the text may be hostile)."""
    deepest = 0
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in node.children if isinstance(child, Tree))
    return deepest


def unescape(body: str) -> str:
    """The text of a string literal body: `\\n`, `\\t`, `\\r`, `\\\\` and quotes; others kept."""
    return _ESCAPE.sub(lambda m: _ESCAPES.get(m[1], "\\" + m[1]), body)


@v_args(meta=True)
class _ToAst(Transformer[Token, Any]):
    """Lark tree -> frozen AST nodes, each with its span in the YAML file."""

    def __init__(self, text: str, origin: Span) -> None:
        super().__init__()
        self._text = text
        self._origin = origin

    def _span(self, meta: Any) -> Span:
        return span_at(self._origin, self._text, meta.start_pos, meta.end_pos)

    def number(self, meta: Any, children: list[Token]) -> Expr:
        return Literal(Decimal(str(children[0])), self._span(meta))

    def string(self, meta: Any, children: list[Token]) -> Expr:
        return Literal(unescape(str(children[0])[1:-1]), self._span(meta))

    def true(self, meta: Any, children: list[Any]) -> Expr:
        return Literal(True, self._span(meta))

    def false(self, meta: Any, children: list[Any]) -> Expr:
        return Literal(False, self._span(meta))

    def null(self, meta: Any, children: list[Any]) -> Expr:
        return Literal(None, self._span(meta))

    def name(self, meta: Any, children: list[Token]) -> Expr:
        return Name(str(children[0]), self._span(meta))

    def arguments(self, meta: Any, children: list[Expr]) -> tuple[Expr, ...]:
        return tuple(children)

    def call(self, meta: Any, children: list[Any]) -> Expr:
        args = children[1] if len(children) > 1 else ()
        return Call(str(children[0]), args, self._span(meta))

    def list_expr(self, meta: Any, children: list[Any]) -> Expr:
        return ListExpr(children[0] if children else (), self._span(meta))

    def attribute(self, meta: Any, children: list[Any]) -> Expr:
        return Attribute(children[0], str(children[1]), self._span(meta))

    def index(self, meta: Any, children: list[Any]) -> Expr:
        return Index(children[0], children[1], self._span(meta))

    def unary(self, meta: Any, children: list[Any]) -> Expr:
        op, operand = str(children[0]), children[1]
        if op == "-" and isinstance(operand, Literal) and isinstance(operand.value, Decimal):
            return Literal(-operand.value, self._span(meta))  # `-3` is a number, not an operation
        return Unary(op, operand, self._span(meta))

    def binary(self, meta: Any, children: list[Any]) -> Expr:
        return Binary(str(children[1]), children[0], children[2], self._span(meta))

    def compare(self, meta: Any, children: list[Any]) -> Expr:
        return Compare(str(children[1]), children[0], children[2], self._span(meta))

    def in_op(self, meta: Any, children: list[Any]) -> Expr:
        return In(children[0], children[1], False, self._span(meta))

    def not_in_op(self, meta: Any, children: list[Any]) -> Expr:
        return In(children[0], children[1], True, self._span(meta))

    def not_op(self, meta: Any, children: list[Any]) -> Expr:
        return Not(children[0], self._span(meta))

    def and_op(self, meta: Any, children: list[Any]) -> Expr:
        return BoolOp("and", children[0], children[1], self._span(meta))

    def or_op(self, meta: Any, children: list[Any]) -> Expr:
        return BoolOp("or", children[0], children[1], self._span(meta))

    def conditional(self, meta: Any, children: list[Any]) -> Expr:
        then, condition, otherwise = children
        return Conditional(condition, then, otherwise, self._span(meta))
