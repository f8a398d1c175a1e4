"""Evaluate an expression AST against a scope: pure, bounded, and never Python's `eval`.

The runtime calls `evaluate` for conditions, assignments and arguments; templates.py calls it
for each `{...}` of a prompt. Calls to data operations are not run here: the engine awaits
them first (see `calls_made`) and passes their results in `call_results`, keyed by `Call` node.
Every failure is an `EvaluationError` carrying the span of the node that failed.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Mapping
from typing import assert_never

from ivr.flowlang.diagnostics import Span, did_you_mean
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
from ivr.flowlang.expressions.errors import EvaluationError, MissingValueError, ValueProblem
from ivr.flowlang.expressions.functions import FUNCTIONS, call_function
from ivr.flowlang.expressions.operators import arithmetic, compare, contains
from ivr.flowlang.expressions.values import (
    DECIMAL,
    MAX_DEPTH,
    coerce,
    need_number,
    need_whole,
    truthy,
    type_name,
)


def evaluate(
    expr: Expr,
    scope: Mapping[str, object],
    *,
    call_results: Mapping[Call, object] | None = None,
    now: dt.datetime | None = None,
) -> object:
    """The value of `expr`; numbers come back as `Decimal`.

    `now` feeds now(), today(), clock() and weekday(); without it the local wall clock is used.
    Raises `EvaluationError` for a type mismatch, division by zero, a missing name or field,
    a wrong number of arguments or an operation whose result was not supplied.
    """
    return _Evaluator(scope, call_results or {}, now or dt.datetime.now()).eval(expr, 0)


class _Evaluator:
    def __init__(self, scope: Mapping[str, object], results: Mapping[Call, object], now: dt.datetime) -> None:
        self.scope = scope
        self.results = results
        self.now = now

    def eval(self, node: Expr, depth: int) -> object:
        if depth > 2 * MAX_DEPTH:
            raise EvaluationError("expression nested too deeply", node.span)
        try:
            return self._eval(node, depth + 1)
        except ValueProblem as problem:
            raise EvaluationError(problem.message, node.span) from None
        except decimal.DecimalException as error:
            raise EvaluationError(f"arithmetic failed ({type(error).__name__})", node.span) from None

    def _eval(self, node: Expr, depth: int) -> object:
        match node:
            case Literal(value=value):
                return value
            case Name(name=name, span=span):
                if name not in self.scope:
                    raise MissingValueError(f"unknown name '{name}'", span)
                return coerce(self.scope[name])
            case Attribute(obj=obj, name=name, span=span):
                return _field(self.eval(obj, depth), name, span)
            case Index(obj=obj, index=index, span=span):
                return _item(self.eval(obj, depth), self.eval(index, depth), span)
            case Unary(op=op, operand=operand):
                number = need_number(self.eval(operand, depth), f"'{op}'")
                return DECIMAL.minus(number) if op == "-" else number
            case Binary(op=op, left=left, right=right):
                return arithmetic(op, self.eval(left, depth), self.eval(right, depth))
            case Compare(op=op, left=left, right=right):
                return compare(op, self.eval(left, depth), self.eval(right, depth))
            case BoolOp(op=op, left=left, right=right):
                first = truthy(self.eval(left, depth))
                if first == (op == "or"):
                    return first
                return truthy(self.eval(right, depth))
            case Not(operand=operand):
                return not truthy(self.eval(operand, depth))
            case In(item=item, container=container, negated=negated):
                return contains(self.eval(item, depth), self.eval(container, depth)) != negated
            case Call():
                return self._call(node, depth)
            case ListExpr(items=items):
                return tuple(self.eval(item, depth) for item in items)
            case Conditional(condition=condition, then=then, otherwise=otherwise):
                return self.eval(then if truthy(self.eval(condition, depth)) else otherwise, depth)
            case _:
                assert_never(node)

    def _call(self, node: Call, depth: int) -> object:
        spec = FUNCTIONS.get(node.function)
        if spec is None:
            if node not in self.results:
                raise EvaluationError(
                    f"no result for '{node.function}()': not a function, and the operation was not run",
                    node.span,
                )
            return coerce(self.results[node])
        if not spec.min_args <= len(node.args) <= spec.max_args:
            raise EvaluationError(f"{spec.name}() takes {spec.arity_text()}, got {len(node.args)}", node.span)
        if spec.name == "default":
            return self._default(node, depth)
        args = tuple(self.eval(arg, depth) for arg in node.args)
        return call_function(spec, args, self.now)

    def _default(self, node: Call, depth: int) -> object:
        """default(x, fallback) is lazy: a missing or null x gives the fallback."""
        try:
            value = self.eval(node.args[0], depth)
        except MissingValueError:
            value = None
        return self.eval(node.args[1], depth) if value is None else value


def _field(record: object, name: str, span: Span) -> object:
    if name.startswith("_"):
        raise EvaluationError(f"fields starting with '_' are not allowed: '{name}'", span)
    if record is None:
        raise MissingValueError(f"cannot read field '{name}' of null", span)
    if not isinstance(record, Mapping):
        raise EvaluationError(f"'.{name}' needs a record, got {type_name(record)}", span)
    if name not in record:
        hint = did_you_mean(name, [k for k in record if isinstance(k, str)])
        raise MissingValueError(f"no field '{name}'" + (f"; {hint}" if hint else ""), span)
    return coerce(record[name])


def _item(container: object, index: object, span: Span) -> object:
    if container is None:
        raise MissingValueError("cannot take an item of null", span)
    if isinstance(container, Mapping):
        if not isinstance(index, str):
            raise ValueProblem(f"a record is indexed by text, got {type_name(index)}")
        if index not in container:
            raise MissingValueError(f"no field '{index}'", span)
        return coerce(container[index])
    if not isinstance(container, str | list | tuple):
        raise ValueProblem(f"'[...]' needs a list, text or a record, got {type_name(container)}")
    position = need_whole(index, "'[...]'")
    if not -len(container) <= position < len(container):
        raise MissingValueError(f"item {position} is out of range (length {len(container)})", span)
    return coerce(container[position])
