"""The expression type checker: infer each expression's type and report what must fail.

The evaluator (evaluator.py) raises at run time when an operator or function meets a kind
of value it cannot take; this module finds the same failures before any call, from the
types of the names an expression reads (`Scope`: declared variables, `call`, a lookup's
`result`, a subflow's outputs) and the signatures of functions and formatters. It is
sound for the dynamic corners: a problem is reported only when *every* kind the operands
may have (null aside) fails, so an unknown record field never causes an error. Codes:
FL208 a value of the wrong kind (error), FL209 a comparison that can never be true
(warning), FL211 a field `call` does not have (error).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import assert_never

from ivr.flowlang.diagnostics import Diagnostic, Severity, Span, did_you_mean
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
from ivr.flowlang.expressions.signatures import FORMATTER_KINDS, SIGNATURES
from ivr.flowlang.expressions.types import (
    BOOL,
    NUMBER,
    TEXT,
    UNKNOWN,
    Kind,
    Kinds,
    Type,
    describe,
    of_kinds,
    of_value,
    union,
)
from ivr.flowlang.expressions.unparse import unparse
from ivr.flowlang.expressions.values import truthy

TYPE_ERROR = "FL208"
NEVER_TRUE = "FL209"
NO_SUCH_FIELD = "FL211"


@dataclass(frozen=True)
class Scope:
    """The types of the names an expression may read, and what operations give back."""

    names: Mapping[str, Type]
    operations: Mapping[str, Type] = field(default_factory=dict)


def check_types(expr: Expr | Template, scope: Scope) -> tuple[Type, list[Diagnostic]]:
    """The type of `expr` and every type problem in it (a template's type is text)."""
    if isinstance(expr, Template):
        parts = [part for part in expr.parts if isinstance(part, Interpolation)]
        if not parts:
            return TEXT, []
        checker = _Checker(scope)
        for part in parts:
            checker.interpolation(part)
        return TEXT, checker.found
    checker = _Checker(scope)
    return checker.infer(expr), checker.found


def source_text(expr: Expr) -> str:
    """`expr` as a flow author writes it in YAML (text in single quotes), shortened."""
    return _text(expr)


def _text(expr: Expr) -> str:
    """`expr` as the author would write it inside a YAML value: text in single quotes."""
    text = _DOUBLE_QUOTED.sub(lambda m: f"'{m.group(1)}'", unparse(expr))
    return text if len(text) <= 40 else text[:37] + "..."


_DOUBLE_QUOTED = re.compile(r"\"([^\"'\\]*)\"")


class _Checker:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.found: list[Diagnostic] = []

    def report(self, message: str, span: Span, hint: str | None = None, code: str = TYPE_ERROR) -> None:
        severity = Severity.WARNING if code == NEVER_TRUE else Severity.ERROR
        self.found.append(Diagnostic(code, severity, message, span, hint))

    def interpolation(self, part: Interpolation) -> None:
        value = self.infer(part.expr)
        accepted = FORMATTER_KINDS.get(part.formatter or "")
        if accepted is None or value.allows(accepted) or value.is_unknown:
            return
        hint = "the date and time formatters read text such as '2026-11-27' or '14:05'"
        if accepted & Kind.NUMBER:
            hint = f"give it a number, e.g. {{number({_text(part.expr)})|{part.formatter}}}"
        shown = _text(part.expr)
        message = f"formatter '{part.formatter}' reads {describe(accepted)}, and `{shown}` is {value.words()}"
        self.report(message, part.span, hint)

    def infer(self, node: Expr) -> Type:
        match node:
            case Literal(value=value):
                return of_value(value)
            case Name(name=name):
                return self.scope.names.get(name, UNKNOWN)
            case Attribute():
                return self._attribute(node)
            case Index():
                return self._index(node)
            case Unary(operand=operand):
                self._need(operand, self.infer(operand), Kind.NUMBER, f"'{node.op}'")
                return NUMBER
            case Binary():
                return self._binary(node)
            case Compare():
                self._compare(node)
                return BOOL
            case BoolOp(left=left, right=right):
                self.infer(left)
                self.infer(right)
                self._constant_operand(node)
                return BOOL
            case Not(operand=operand):
                self.infer(operand)
                return BOOL
            case In():
                self._in(node)
                return BOOL
            case Call():
                return self._call(node)
            case ListExpr(items=items):
                item_types = [self.infer(item) for item in items]
                return Type(Kind.LIST, item=union(*item_types) if item_types else None)
            case Conditional(condition=condition, then=then, otherwise=otherwise):
                self.infer(condition)
                return union(self.infer(then), self.infer(otherwise))
            case _:
                assert_never(node)

    def _need(self, expr: Expr, value: Type, kinds: Kinds, what: str, hint: str | None = None) -> bool:
        """Report when `value` can never be of `kinds`; True when it may be."""
        if value.allows(kinds) or value.is_unknown:
            return True
        message = f"{what} needs {describe(kinds)}, and `{_text(expr)}` is {value.words()}"
        self.report(message, expr.span, hint or _conversion_hint(expr, value, kinds))
        return False

    def _attribute(self, node: Attribute) -> Type:
        record = self.infer(node.obj)
        if record.fields is not None and record.definite == Kind.RECORD:
            found = record.fields.get(node.name)
            if found is not None:
                return found
            owner = _text(node.obj)
            hint = did_you_mean(node.name, record.fields) or f"its fields: {', '.join(record.fields)}"
            self.report(f"`{owner}` has no field '{node.name}'", node.span, hint, NO_SUCH_FIELD)
            return UNKNOWN
        self._need(node.obj, record, Kind.RECORD, f"'.{node.name}'", "only records (maps) have fields")
        return UNKNOWN

    def _index(self, node: Index) -> Type:
        container, index = self.infer(node.obj), self.infer(node.index)
        if not self._need(node.obj, container, Kind.LIST | Kind.TEXT | Kind.RECORD, "'[...]'"):
            return UNKNOWN
        wanted = 0
        if container.allows(Kind.LIST | Kind.TEXT) or container.is_unknown:
            wanted |= Kind.NUMBER
        if container.allows(Kind.RECORD) or container.is_unknown:
            wanted |= Kind.TEXT
        self._need(node.index, index, wanted, f"'[...]' on {container.words()}")
        if container.definite == Kind.TEXT:
            return TEXT
        if container.definite == Kind.LIST and container.item is not None:
            return container.item
        return UNKNOWN

    def _binary(self, node: Binary) -> Type:
        left, right = self.infer(node.left), self.infer(node.right)
        if node.op != "+":
            for side, value in ((node.left, left), (node.right, right)):
                self._need(side, value, Kind.NUMBER, f"'{node.op}'")
            return NUMBER
        joinable = Kind.NUMBER | Kind.TEXT | Kind.LIST
        if left.is_unknown or right.is_unknown:
            known = right if left.is_unknown else left
            kinds = known.definite & joinable
            if not known.is_unknown and not kinds:
                self._need(node.left if known is left else node.right, known, joinable, "'+'")
            return of_kinds(kinds) if kinds and not known.is_unknown else UNKNOWN
        kinds = 0
        for kind in (Kind.NUMBER, Kind.TEXT, Kind.LIST):
            if left.allows(kind) and right.allows(kind):
                kinds |= kind
        if kinds:
            return of_kinds(kinds)
        message = f"'+' cannot join {left.words()} and {right.words()}"
        self.report(message, node.span, _plus_hint(node, left, right))
        return UNKNOWN

    def _compare(self, node: Compare) -> None:
        left, right = self.infer(node.left), self.infer(node.right)
        if node.op in ("==", "!="):
            if not (left.is_unknown or right.is_unknown):
                self._equality(node, left, right)
            return
        ordered = Kind.NUMBER | Kind.TEXT
        sides = ((node.left, left), (node.right, right))
        if not all(self._need(side, value, ordered, f"'{node.op}'") for side, value in sides):
            return
        if left.is_unknown or right.is_unknown:
            return
        if (left.allows(Kind.NUMBER) and right.allows(Kind.NUMBER)) or (
            left.allows(Kind.TEXT) and right.allows(Kind.TEXT)
        ):
            return
        message = f"cannot compare {left.words()} with {right.words()} using '{node.op}'"
        self.report(message, node.span, _compare_hint(node, left, right))

    def _equality(self, node: Compare, left: Type, right: Type) -> None:
        if left.definite & right.definite:
            return
        if left.kinds & Kind.NULL and right.kinds & Kind.NULL:
            return  # both may still be null, and null == null
        verdict = "never true" if node.op == "==" else "always true"
        message = (
            f"`{_text(node)}` is {verdict}: {left.words()} never equals {right.words()}"
            f" (`{_text(node.left)}` is {left.words()})"
        )
        self.report(message, node.span, _compare_hint(node, left, right), NEVER_TRUE)

    def _constant_operand(self, node: BoolOp) -> None:
        """`code == '600519' or '000001'`: a literal operand decides `or` (true text) or `and`
        (null, false, 0, empty text) on its own, whatever the other side is."""
        for side in (node.left, node.right):
            if not isinstance(side, Literal):
                continue
            decides = truthy(side.value) if node.op == "or" else not truthy(side.value)
            if decides:
                verdict = "always true" if node.op == "or" else "always false"
                alone = "true" if truthy(side.value) else "false"
                message = f"`{_text(node)}` is {verdict}: `{_text(side)}` alone counts as {alone}"
                self.report(message, node.span, _repeat_hint(node, side), NEVER_TRUE)
                return

    def _in(self, node: In) -> None:
        item, container = self.infer(node.item), self.infer(node.container)
        if container.is_unknown or item.is_unknown:
            return
        if not self._need(node.container, container, Kind.TEXT | Kind.LIST | Kind.RECORD, "'in'"):
            return
        if container.definite == Kind.TEXT:
            self._need(node.item, item, Kind.TEXT, "'in' on text")
        elif container.definite == Kind.LIST and container.item is not None:
            members = container.item
            if not members.is_unknown and not item.definite & members.definite:
                holds = f"the list holds {members.words()}, not {item.words()}"
                hint = _conversion_hint(node.item, item, members.definite)
                self.report(f"`{_text(node)}` is never true: {holds}", node.span, hint, NEVER_TRUE)

    def _call(self, node: Call) -> Type:
        args = [self.infer(arg) for arg in node.args]
        signature = SIGNATURES.get(node.function)
        if signature is None:
            return self.scope.operations.get(node.function, UNKNOWN)
        if signature.name == "default" and len(args) == 2:
            value, fallback = args
            if value.definite == Kind.NULL:
                return fallback
            return of_kinds((value.kinds & ~Kind.NULL) | fallback.kinds)
        for position, (arg, value) in enumerate(zip(node.args, args, strict=True)):
            accepted = signature.accepts(position)
            what = f"{signature.name}()"
            if len(signature.params) > 1 and not signature.variadic:
                what = f"the `{signature.parameter(position)}` of {signature.name}()"
            self._need(arg, value, accepted, what)
        if signature.name in ("min", "max") and len(args) > 1:
            return union(*args) if all(not a.is_unknown for a in args) else of_kinds(signature.result)
        return of_kinds(signature.result)


def _numeric_text(expr: Expr) -> bool:
    if isinstance(expr, Literal) and isinstance(expr.value, str):
        try:
            Decimal(expr.value.replace(",", ""))
        except ArithmeticError:
            return False
        return bool(expr.value.strip())
    return False


def _conversion_hint(expr: Expr, value: Type, wanted: Kinds) -> str | None:
    """How to turn `expr` into a value of `wanted` kind, in the language's words."""
    text = _text(expr)
    if wanted & Kind.NUMBER and value.definite == Kind.TEXT:
        if _numeric_text(expr) and isinstance(expr, Literal):
            return f"write the number without quotes: {expr.value}"
        return f"convert it: number({text})"
    if wanted & Kind.TEXT and value.definite & (Kind.NUMBER | Kind.BOOL):
        if isinstance(expr, Literal) and isinstance(expr.value, Decimal):
            return f"write the text in quotes: '{expr.value}'"
        return f"convert it: str({text})"
    return None


def _plus_hint(node: Binary, left: Type, right: Type) -> str:
    a, b = _text(node.left), _text(node.right)
    if left.definite == Kind.TEXT and right.allows(Kind.NUMBER):
        if isinstance(node.left, Literal) and _numeric_text(node.left):
            return f"write the number without quotes: {node.left.value} + {b}"
        if not isinstance(node.left, Literal) and isinstance(node.right, Literal):
            return f"to add, convert the text: number({a}) + {b}; to join, write {a} + str({b})"
        return f"'+' joins text to text: write {a} + str({b}), or concat({a}, {b})"
    if right.definite == Kind.TEXT and left.allows(Kind.NUMBER):
        if isinstance(node.right, Literal) and _numeric_text(node.right):
            return f"write the number without quotes: {a} + {node.right.value}"
        if not isinstance(node.right, Literal) and isinstance(node.left, Literal):
            return f"to add, convert the text: {a} + number({b}); to join, write str({a}) + {b}"
        return f"'+' joins text to text: write str({a}) + {b}, or concat({a}, {b})"
    return "'+' adds two numbers, or joins two texts or two lists; use str(x) to make text"


def _repeat_hint(node: BoolOp, literal: Expr) -> str:
    other = node.right if literal is node.left else node.left
    if isinstance(other, Compare) and other.op == "==":
        subject = _text(other.left)
        return (
            f"compare again: `{_text(other)} {node.op} {subject} == {_text(literal)}`, "
            f"or `{subject} in [{_text(other.right)}, {_text(literal)}]`"
        )
    return f"each side of '{node.op}' is a condition of its own: compare the value again"


def _compare_hint(node: Compare, left: Type, right: Type) -> str | None:
    """Equality of text with a number literal: quote the number (`code == '600519'`);
    ordering: compare numbers (`number(price_text) > 0`)."""
    equality = node.op in ("==", "!=")
    for side, other_type in ((node.left, right), (node.right, left)):
        if isinstance(side, Literal) and other_type.allows(Kind.NUMBER) and _numeric_text(side):
            return f"write the number without quotes: {side.value}"
        number = isinstance(side, Literal) and isinstance(side.value, Decimal)
        if number and equality and other_type.definite == Kind.TEXT:
            return f"write the text in quotes: '{_text(side)}'"
    for side, value, other_type in ((node.left, left, right), (node.right, right, left)):
        if value.definite == Kind.TEXT and other_type.allows(Kind.NUMBER):
            return f"compare numbers: number({_text(side)})"
    if left.definite == Kind.BOOL or right.definite == Kind.BOOL:
        words = {"yes": "true", "no": "false", "true": "true", "false": "false", "on": "true", "off": "false"}
        for side in (node.left, node.right):
            if isinstance(side, Literal) and isinstance(side.value, str) and side.value.lower() in words:
                return f"write {words[side.value.lower()]} without quotes"
        return "true/false equals only true or false; a condition can read it alone: `if: vip`"
    return None
