"""Expressions and prompt templates: the small language flow authors write inside YAML flows.

Stages, one module each: grammar.lark + parser.py (text -> frozen AST of ast.py, friendly
errors from syntax_errors.py), templates.py (prompts with `{expr|formatter}`), checks.py
(static checks for the flow checker), evaluator.py with functions.py and operators.py (run
time, pure and bounded), formatters.py with zh_numbers.py (how values are spoken), and
unparse.py (back to text). Never `eval`; numbers are always `Decimal`.
"""

from __future__ import annotations

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
    calls_made,
    formatters_used,
    names_used,
    walk,
)
from ivr.flowlang.expressions.checks import check_expression
from ivr.flowlang.expressions.errors import EvaluationError, ExpressionError, MissingValueError
from ivr.flowlang.expressions.evaluator import evaluate
from ivr.flowlang.expressions.formatters import FORMATTERS, FormatterSpec
from ivr.flowlang.expressions.functions import FUNCTIONS, FunctionSpec
from ivr.flowlang.expressions.parser import parse_expression
from ivr.flowlang.expressions.templates import parse_template, render_template
from ivr.flowlang.expressions.unparse import unparse
from ivr.flowlang.expressions.values import Value, truthy

__all__ = [
    "FORMATTERS",
    "FUNCTIONS",
    "Attribute",
    "Binary",
    "BoolOp",
    "Call",
    "Compare",
    "Conditional",
    "EvaluationError",
    "Expr",
    "ExpressionError",
    "FormatterSpec",
    "FunctionSpec",
    "In",
    "Index",
    "Interpolation",
    "ListExpr",
    "Literal",
    "MissingValueError",
    "Name",
    "Not",
    "Template",
    "Unary",
    "Value",
    "calls_made",
    "check_expression",
    "evaluate",
    "formatters_used",
    "names_used",
    "parse_expression",
    "parse_template",
    "render_template",
    "truthy",
    "unparse",
    "walk",
]
