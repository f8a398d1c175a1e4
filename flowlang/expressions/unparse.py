"""Print an AST back as expression or template text that parses to the same tree.

Used by the editor and error messages to show an expression in canonical form, and by the
tests to check that parsing and printing agree (parse(unparse(x)) == x, spans aside).
"""

from __future__ import annotations

from decimal import Decimal
from typing import assert_never

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
    Interpolation,
    ListExpr,
    Literal,
    Name,
    Not,
    Template,
    Unary,
)

# Binding strength, loosest first; mirrors the precedence comment in grammar.lark.
CONDITIONAL, OR, AND, NOT, COMPARE, SUM, PRODUCT, UNARY, POSTFIX, ATOM = range(10)

_STRING_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def unparse(node: Expr | Template) -> str:
    """Canonical text for an expression or a template."""
    if isinstance(node, Template):
        return "".join(_part(part) for part in node.parts)
    return _text(node, CONDITIONAL)


def _part(part: str | Interpolation) -> str:
    if isinstance(part, str):
        return part.replace("{", "{{").replace("}", "}}")
    formatter = "" if part.formatter is None else "|" + part.formatter
    if part.formatter_args:
        formatter += ":" + ",".join(part.formatter_args)
    return "{" + _text(part.expr, CONDITIONAL) + formatter + "}"


def _text(node: Expr, loosest: int) -> str:
    text, strength = _render(node)
    return f"({text})" if strength < loosest else text


def quote(value: str) -> str:
    """A string literal for `value`, in double quotes."""
    return '"' + "".join(_STRING_ESCAPES.get(c, c) for c in value) + '"'


def _literal(value: Decimal | str | bool | None) -> tuple[str, int]:
    if isinstance(value, bool):
        return ("true" if value else "false"), ATOM
    if value is None:
        return "null", ATOM
    if isinstance(value, str):
        return quote(value), ATOM
    text = format(value, "f")
    return text, (UNARY if text.startswith("-") else ATOM)


def _render(node: Expr) -> tuple[str, int]:
    match node:
        case Literal(value=value):
            return _literal(value)
        case Name(name=name):
            return name, ATOM
        case Attribute(obj=obj, name=name):
            return f"{_text(obj, POSTFIX)}.{name}", POSTFIX
        case Index(obj=obj, index=index):
            return f"{_text(obj, POSTFIX)}[{_text(index, CONDITIONAL)}]", POSTFIX
        case Call(function=function, args=args):
            return f"{function}({', '.join(_text(a, CONDITIONAL) for a in args)})", ATOM
        case ListExpr(items=items):
            return f"[{', '.join(_text(i, CONDITIONAL) for i in items)}]", ATOM
        case Unary(op=op, operand=operand):
            return f"{op}{_text(operand, UNARY)}", UNARY
        case Binary(op=op, left=left, right=right):
            level = SUM if op in "+-" else PRODUCT
            return f"{_text(left, level)} {op} {_text(right, level + 1)}", level
        case Compare(op=op, left=left, right=right):
            return f"{_text(left, SUM)} {op} {_text(right, SUM)}", COMPARE
        case In(item=item, container=container, negated=negated):
            keyword = "not in" if negated else "in"
            return f"{_text(item, SUM)} {keyword} {_text(container, SUM)}", COMPARE
        case Not(operand=operand):
            return f"not {_text(operand, NOT)}", NOT
        case BoolOp(op=op, left=left, right=right):
            level = OR if op == "or" else AND
            return f"{_text(left, level)} {op} {_text(right, level + 1)}", level
        case Conditional(condition=condition, then=then, otherwise=otherwise):
            parts = (_text(then, OR), _text(condition, OR), _text(otherwise, CONDITIONAL))
            return "{} if {} else {}".format(*parts), CONDITIONAL
        case _:
            assert_never(node)
