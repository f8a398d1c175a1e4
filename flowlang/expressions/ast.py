"""The expression AST: frozen dataclasses with spans, built by parser.py from grammar.lark.

Every later stage reads these nodes: checks.py (static checks), evaluator.py (run time),
templates.py (prompt rendering) and unparse.py (printing). Nodes are hashable, so the engine
can key the results of data-operation calls by their `Call` node.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from ivr.flowlang.diagnostics import Span

LiteralValue = Decimal | str | bool | None


@dataclass(frozen=True)
class Literal:
    """A number (always `Decimal`), a string, `true`/`false` or `null`."""

    value: LiteralValue
    span: Span


@dataclass(frozen=True)
class Name:
    """A variable read from the scope, e.g. `balance`."""

    name: str
    span: Span


@dataclass(frozen=True)
class Attribute:
    """`obj.name`: a field of a record (a mapping); never a Python attribute."""

    obj: Expr
    name: str
    span: Span


@dataclass(frozen=True)
class Index:
    """`obj[index]`: an item of a list or text, or a field of a record."""

    obj: Expr
    index: Expr
    span: Span


@dataclass(frozen=True)
class Unary:
    """`-x` or `+x`."""

    op: str
    operand: Expr
    span: Span


@dataclass(frozen=True)
class Binary:
    """Arithmetic: `+ - * / %`; `+` also joins two texts or two lists."""

    op: str
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True)
class Compare:
    """`== != < <= > >=`; comparisons do not chain."""

    op: str
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True)
class BoolOp:
    """`and` / `or`, short-circuiting, always giving true or false."""

    op: str
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True)
class Not:
    """`not x`."""

    operand: Expr
    span: Span


@dataclass(frozen=True)
class In:
    """`item in container` or, when `negated`, `item not in container`."""

    item: Expr
    container: Expr
    negated: bool
    span: Span


@dataclass(frozen=True)
class Call:
    """`f(a, b)`: an allow-listed function or a declared data operation."""

    function: str
    args: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True)
class ListExpr:
    """`[a, b, c]`."""

    items: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True)
class Conditional:
    """`then if condition else otherwise`."""

    condition: Expr
    then: Expr
    otherwise: Expr
    span: Span


Expr = (
    Literal
    | Name
    | Attribute
    | Index
    | Unary
    | Binary
    | Compare
    | BoolOp
    | Not
    | In
    | Call
    | ListExpr
    | Conditional
)


@dataclass(frozen=True)
class Interpolation:
    """One `{expr}` or `{expr|formatter:arg,...}` inside a prompt template."""

    expr: Expr
    formatter: str | None
    formatter_args: tuple[str, ...]
    span: Span


@dataclass(frozen=True)
class Template:
    """A prompt: literal text (braces already unescaped) and interpolations, in order."""

    parts: tuple[str | Interpolation, ...]
    span: Span


def children(node: Expr) -> tuple[Expr, ...]:
    """The direct sub-expressions of `node`, in source order."""
    match node:
        case Literal() | Name():
            return ()
        case Attribute(obj=obj):
            return (obj,)
        case Index(obj=obj, index=index):
            return (obj, index)
        case Unary(operand=operand) | Not(operand=operand):
            return (operand,)
        case (
            Binary(left=left, right=right) | Compare(left=left, right=right) | BoolOp(left=left, right=right)
        ):
            return (left, right)
        case In(item=item, container=container):
            return (item, container)
        case Call(args=args):
            return args
        case ListExpr(items=items):
            return items
        case Conditional(condition=condition, then=then, otherwise=otherwise):
            return (then, condition, otherwise)


def walk(node: Expr | Template) -> Iterator[Expr]:
    """Every expression node under `node`, children before their parent (post-order)."""
    if isinstance(node, Template):
        for part in node.parts:
            if isinstance(part, Interpolation):
                yield from walk(part.expr)
        return
    for child in children(node):
        yield from walk(child)
    yield node


def names_used(node: Expr | Template) -> Iterator[Name]:
    """The root variables read: for `quote.last_price` that is the `Name` 'quote'."""
    return (n for n in walk(node) if isinstance(n, Name))


def calls_made(node: Expr | Template) -> Iterator[Call]:
    """Every call, inner calls before the calls whose arguments they are."""
    return (n for n in walk(node) if isinstance(n, Call))


def formatters_used(t: Template) -> Iterator[Interpolation]:
    """The interpolations of `t` that name a formatter."""
    return (p for p in t.parts if isinstance(p, Interpolation) and p.formatter is not None)
