"""Static checks of a parsed expression or template, mirroring what the evaluator enforces.

The flow checker runs `check_expression` with the variables and data operations a flow
declares, so a misspelt name or function is a compile-time diagnostic instead of a failed call:
FL203 unknown function, FL204 wrong arity, FL205 unknown formatter, FL206 undeclared name,
FL207 field starting with '_'.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping

from ivr.flowlang.diagnostics import Diagnostic, Severity, did_you_mean
from ivr.flowlang.expressions.ast import Attribute, Call, Expr, Interpolation, Name, Template, walk
from ivr.flowlang.expressions.formatters import FORMATTERS
from ivr.flowlang.expressions.functions import FUNCTIONS
from ivr.flowlang.expressions.signatures import SIGNATURES

_CONSTANT_SPELLINGS = {"true": "true", "false": "false", "null": "null", "none": "null", "nil": "null"}


def check_expression(
    expr: Expr | Template,
    *,
    known_names: Collection[str],
    operations: Mapping[str, int] | None = None,
) -> list[Diagnostic]:
    """Every static problem in `expr`, in source order of the nodes.

    `operations` maps each declared data operation to its number of parameters; calling one
    is valid, with exactly that many arguments.
    """
    ops = operations or {}
    found: list[Diagnostic] = []
    for node in walk(expr):
        if isinstance(node, Name):
            found.extend(_check_name(node, known_names))
        elif isinstance(node, Attribute):
            found.extend(_check_attribute(node))
        elif isinstance(node, Call):
            found.extend(_check_call(node, ops))
    if isinstance(expr, Template):
        for part in expr.parts:
            if isinstance(part, Interpolation):
                found.extend(_check_formatter(part))
    return sorted(found, key=Diagnostic.sort_key)


def _error(code: str, message: str, node: Expr | Interpolation, hint: str | None = None) -> Diagnostic:
    return Diagnostic(code, Severity.ERROR, message, node.span, hint)


def _check_name(node: Name, known_names: Collection[str]) -> Iterator[Diagnostic]:
    if node.name in known_names:
        return
    constant = _CONSTANT_SPELLINGS.get(node.name.lower())
    hint = f"write '{constant}' in lower case" if constant else did_you_mean(node.name, known_names)
    yield _error("FL206", f"undeclared name '{node.name}'", node, hint)


def _check_attribute(node: Attribute) -> Iterator[Diagnostic]:
    if node.name.startswith("_"):
        hint = "fields starting with _ are never readable: read a public field (one without the _)"
        yield _error("FL207", f"fields starting with '_' are not allowed: '{node.name}'", node, hint)


def _check_call(node: Call, operations: Mapping[str, int]) -> Iterator[Diagnostic]:
    got = len(node.args)
    spec = FUNCTIONS.get(node.function)
    if spec is not None:
        if not spec.min_args <= got <= spec.max_args:
            signature = SIGNATURES.get(spec.name)
            hint = f"write {signature.usage()}" if signature else None
            yield _error("FL204", f"{spec.name}() takes {spec.arity_text()}, got {got}", node, hint)
    elif node.function in operations:
        expected = operations[node.function]
        if got != expected:
            plural = "" if expected == 1 else "s"
            message = f"operation '{node.function}' takes {expected} argument{plural}, got {got}"
            yield _error("FL204", message, node)
    else:
        hint = did_you_mean(node.function, [*FUNCTIONS, *operations])
        yield _error("FL203", f"unknown function '{node.function}'", node, hint)


def _check_formatter(part: Interpolation) -> Iterator[Diagnostic]:
    if part.formatter is None:
        return
    spec = FORMATTERS.get(part.formatter)
    if spec is None:
        hint = did_you_mean(part.formatter, FORMATTERS) or "formatters: " + ", ".join(FORMATTERS)
        yield _error("FL205", f"unknown formatter '{part.formatter}'", part, hint)
    elif len(part.formatter_args) > spec.max_args:
        allowed = "no arguments" if spec.max_args == 0 else f"at most {spec.max_args} argument"
        yield _error("FL205", f"formatter '{spec.name}' takes {allowed}", part)
