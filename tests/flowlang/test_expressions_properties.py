"""Property tests: parsers only raise ExpressionError, the evaluator only EvaluationError,
printing and parsing agree, and Chinese numerals read back to the number they came from."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.flowlang.diagnostics import Span
from ivr.flowlang.expressions import (
    FORMATTERS,
    FUNCTIONS,
    Attribute,
    Binary,
    BoolOp,
    Call,
    Compare,
    Conditional,
    EvaluationError,
    Expr,
    ExpressionError,
    In,
    Index,
    Interpolation,
    ListExpr,
    Literal,
    Name,
    Not,
    Template,
    Unary,
    check_expression,
    evaluate,
    parse_expression,
    parse_template,
    render_template,
    unparse,
)
from ivr.flowlang.expressions.zh_numbers import decimal_to_zh, int_to_zh

pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")
ORIGIN = Span("flows/fuzz.yaml", 2, 7)
CLOCK = dt.datetime(2026, 11, 27, 14, 5)
FIELDS = ["name", "price", "qty", "_p", "x"]
NAMES = ["a", "b", "quote", "xs", "s", "missing"]
TOKENS = [*list("ab1.2 +-*/%()[]{}\"'\\=!<>&|,:?#\n"), "and", "or", "not", "in", "if", "else", "true", "null"]
TOKENS += ["（", "）", "len(", "x.y", "12.50", "|money", "{{", "}}", "余额"]

source_text = st.one_of(st.text(max_size=40), st.lists(st.sampled_from(TOKENS), max_size=25).map("".join))


@settings(max_examples=400, deadline=None)
@given(source_text)
def test_parse_expression_raises_only_expression_errors(text: str) -> None:
    try:
        parse_expression(text, ORIGIN)
    except ExpressionError as error:
        assert error.code == "FL201" and error.message and error.span.file == ORIGIN.file


@settings(max_examples=400, deadline=None)
@given(source_text)
def test_parse_template_raises_only_expression_errors(text: str) -> None:
    try:
        parse_template(text, ORIGIN)
    except ExpressionError as error:
        assert error.code in ("FL201", "FL202") and error.message


# -- random ASTs -------------------------------------------------------------------------------

small_decimals = st.decimals(
    allow_nan=False, allow_infinity=False, places=3, min_value=-(10**6), max_value=10**6
)
any_decimals = st.decimals(allow_nan=False, allow_infinity=False)
spans = st.just(ORIGIN)


def _is_folded(node: Unary) -> bool:
    """`-3` parses as Literal(-3), never as Unary('-', Literal(3))."""
    return node.op == "-" and isinstance(node.operand, Literal) and isinstance(node.operand.value, Decimal)


def expressions(numbers: st.SearchStrategy[Decimal]) -> st.SearchStrategy[Expr]:
    literals = st.one_of(numbers, st.text(max_size=6), st.booleans(), st.none())
    leaves = st.one_of(
        st.builds(Literal, literals, spans),
        st.builds(Name, st.sampled_from(NAMES), spans),
        st.builds(Call, st.sampled_from(["now", "today", "clock", "weekday"]), st.just(()), spans),
    )

    def branches(kids: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
        few = st.lists(kids, max_size=3).map(tuple)
        return st.one_of(
            st.builds(Attribute, kids, st.sampled_from(FIELDS), spans),
            st.builds(Index, kids, kids, spans),
            st.builds(Unary, st.sampled_from("-+"), kids, spans).filter(lambda u: not _is_folded(u)),
            st.builds(Binary, st.sampled_from("+-*/%"), kids, kids, spans),
            st.builds(Compare, st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), kids, kids, spans),
            st.builds(BoolOp, st.sampled_from(["and", "or"]), kids, kids, spans),
            st.builds(Not, kids, spans),
            st.builds(In, kids, kids, st.booleans(), spans),
            st.builds(Call, st.sampled_from([*FUNCTIONS, "quote_of"]), few, spans),
            st.builds(ListExpr, few, spans),
            st.builds(Conditional, kids, kids, kids, spans),
        )

    return st.recursive(leaves, branches, max_leaves=16)


ANY_EXPRESSIONS = expressions(any_decimals)
SMALL_EXPRESSIONS = expressions(small_decimals)  # printable exactly, for round trips

values = st.recursive(
    st.one_of(any_decimals, st.integers(), st.text(max_size=6), st.booleans(), st.none()),
    lambda kids: st.one_of(
        st.lists(kids, max_size=3), st.dictionaries(st.sampled_from(FIELDS), kids, max_size=3)
    ),
    max_leaves=8,
)
scopes = st.dictionaries(st.sampled_from(NAMES[:-1]), values)


@settings(max_examples=600, deadline=None)
@given(ANY_EXPRESSIONS, scopes)
def test_evaluate_raises_only_evaluation_errors(expr: Expr, scope: dict[str, object]) -> None:
    try:
        evaluate(expr, scope, now=CLOCK)
    except EvaluationError as error:
        assert error.message and isinstance(error.span, Span)


@settings(max_examples=300, deadline=None)
@given(SMALL_EXPRESSIONS, scopes, st.sampled_from([None, *FORMATTERS]), st.sampled_from(["zh", "en"]))
def test_render_raises_only_evaluation_errors(
    expr: Expr, scope: dict[str, object], formatter: str | None, language: str
) -> None:
    template = Template(("说", Interpolation(expr, formatter, (), ORIGIN)), ORIGIN)
    try:
        assert isinstance(render_template(template, scope, language=language, now=CLOCK), str)
    except EvaluationError as error:
        assert error.message


def strip_spans(node: object) -> object:
    if isinstance(node, tuple):
        return tuple(strip_spans(item) for item in node)
    if dataclasses.is_dataclass(node) and not isinstance(node, type | Span):
        changes = {
            f.name: strip_spans(getattr(node, f.name)) for f in dataclasses.fields(node) if f.name != "span"
        }
        return dataclasses.replace(node, **changes, span=ORIGIN)  # type: ignore[arg-type]
    return node


@settings(max_examples=500, deadline=None)
@given(SMALL_EXPRESSIONS)
def test_unparse_then_parse_gives_the_same_tree(expr: Expr) -> None:
    text = unparse(expr)
    assert strip_spans(parse_expression(text, ORIGIN)) == strip_spans(expr), text


@settings(max_examples=300, deadline=None)
@given(SMALL_EXPRESSIONS)
def test_checks_never_crash(expr: Expr) -> None:
    found = check_expression(expr, known_names={"a", "b"}, operations={"quote_of": 1})
    assert all(d.code in ("FL203", "FL204", "FL206", "FL207") for d in found)


def _merge(parts: list[str | Interpolation]) -> tuple[str | Interpolation, ...]:
    merged: list[str | Interpolation] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        elif part != "":
            merged.append(part)
    return tuple(merged)


interpolations = st.builds(
    Interpolation,
    SMALL_EXPRESSIONS,
    st.sampled_from([None, *FORMATTERS]),
    st.sampled_from([(), ("yao",), ("2",)]),
    spans,
).filter(lambda i: i.formatter is not None or not i.formatter_args)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=8), interpolations), max_size=5))
def test_template_unparse_round_trips(parts: list[str | Interpolation]) -> None:
    template = Template(_merge(parts), ORIGIN)
    assert strip_spans(parse_template(unparse(template), ORIGIN)) == strip_spans(template)


# -- Chinese numerals --------------------------------------------------------------------------

_DIGIT = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"两": 2}
_SMALL_UNIT = {"十": 10, "百": 100, "千": 1000}


def zh_to_int(text: str) -> int:
    """A small independent reader of Chinese numerals, for checking int_to_zh."""
    if text.startswith("负"):
        return -zh_to_int(text[1:])
    done = wan = section = number = 0
    for char in text:
        if char in _DIGIT:
            number = _DIGIT[char]
        elif char in _SMALL_UNIT:
            section += (number or 1) * _SMALL_UNIT[char]
            number = 0
        elif char == "万":
            wan, section, number = (section + number) * 10**4, 0, 0
        elif char == "亿":
            done, wan, section, number = (done + wan + section + number) * 10**8, 0, 0, 0
        else:
            raise ValueError(char)
    return done + wan + section + number


@settings(max_examples=1000, deadline=None)
@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_chinese_numerals_read_back(n: int) -> None:
    text = int_to_zh(n)
    assert zh_to_int(text) == n
    assert zh_to_int(int_to_zh(n, liang_hundreds=True)) == n
    assert "两十" not in text and not text.endswith("两") and "两百" not in text
    assert "零零" not in text and not text.startswith("一十")
    assert n % 10 == 0 or not text.endswith("零") or n == 0


@given(st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-(10**9), max_value=10**9))
def test_chinese_decimals_read_back(number: Decimal) -> None:
    text = decimal_to_zh(number)
    whole, _, fraction = text.partition("点")
    digits = "".join(str(_DIGIT[c]) for c in fraction)
    sign = -1 if whole.startswith("负") else 1
    assert sign * (abs(zh_to_int(whole)) + Decimal(f"0.{digits or 0}")) == number
