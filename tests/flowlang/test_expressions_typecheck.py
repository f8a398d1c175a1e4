"""The expression type checker: positioned errors with hints, never-true comparisons, and
soundness (what it reports as an error fails at run time for every value of those types)."""

from __future__ import annotations

import contextlib
import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.flowlang.diagnostics import Span
from ivr.flowlang.expressions import (
    FUNCTIONS,
    Binary,
    Call,
    Compare,
    EvaluationError,
    Expr,
    In,
    Index,
    ListExpr,
    Literal,
    Name,
    Not,
    Unary,
    evaluate,
    parse_expression,
    parse_template,
    unparse,
)
from ivr.flowlang.expressions.signatures import SIGNATURES
from ivr.flowlang.expressions.typecheck import Scope, check_types
from ivr.flowlang.expressions.types import CALL, UNKNOWN, Kind, Kinds, Type, declared, of_value

pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")
ORIGIN = Span("f.yaml", 3, 10)
CLOCK = dt.datetime(2026, 11, 27, 14, 5)
SCOPE = Scope(
    {
        "tries": declared("number"),
        "code": declared("string"),
        "vip": declared("boolean"),
        "quote": declared("map"),
        "items": declared("list"),
        "anything": declared("any"),
        "call": CALL,
    },
    {"quote_of": Type(Kind.RECORD | Kind.NULL)},
)


def problems(text: str, template: bool = False) -> list[tuple[str, str, int, str | None]]:
    parsed = parse_template(text, ORIGIN) if template else parse_expression(text, ORIGIN)
    _, found = check_types(parsed, SCOPE)
    return [(d.code, d.message, d.span.col, d.hint) for d in found]


def infer(text: str) -> Type:
    return check_types(parse_expression(text, ORIGIN), SCOPE)[0]


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        ("'代码' + tries", "'+' cannot join text and a number", "'代码' + str(tries)"),
        ("tries + '1'", "'+' cannot join a number and text", "tries + 1"),
        ("code + 1", "'+' cannot join text and a number", "number(code) + 1"),
        ("tries - code", "'-' needs a number, and `code` is text", "number(code)"),
        ("-code", "'-' needs a number, and `code` is text", "number(code)"),
        ("tries > '3'", "cannot compare a number with text using '>'", "without quotes: 3"),
        ("code < 10", "cannot compare text with a number using '<'", "number(code)"),
        ("vip > 1", "'>' needs a number or text, and `vip` is true/false", None),
        ("upper(tries)", "upper() needs text, and `tries` is a number", "str(tries)"),
        (
            "substr(code, '1')",
            "the `start` of substr() needs a number, and `'1'` is text",
            "without quotes: 1",
        ),
        ("len(tries)", "len() needs text, a list or a record, and `tries` is a number", None),
        ("code.name", "'.name' needs a record, and `code` is text", "only records (maps) have fields"),
        ("tries[0]", "'[...]' needs text, a list or a record, and `tries` is a number", None),
        ("code['x']", "'[...]' on text needs a number, and `'x'` is text", None),
        ("1 in code", "'in' on text needs text, and `1` is a number", "'1'"),
        ("tries in 5", "'in' needs text, a list or a record, and `5` is a number", None),
    ],
)
def test_a_kind_that_always_fails_is_an_error_with_a_hint(text: str, message: str, hint: str | None) -> None:
    [(code, got, _, got_hint)] = problems(text)
    assert code == "FL208"
    assert got.startswith(message), got
    if hint is not None:
        assert hint in (got_hint or ""), got_hint


def test_the_error_points_at_the_failing_part() -> None:
    [(_, _, col, _)] = problems("tries > 0 and upper(tries) == 'A'")
    assert col == ORIGIN.col + len("tries > 0 and upper(")


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("code == 600519", "'600519'"),
        ("tries == '3'", "without quotes: 3"),
        ("vip == 'yes'", "write true without quotes"),
        ("vip != 'no'", "write false without quotes"),
        ("call.caller == 95500", "'95500'"),
        ("'a' in [1, 2]", None),
    ],
)
def test_a_comparison_of_kinds_that_never_equal_is_a_warning(text: str, hint: str | None) -> None:
    [(code, message, _, got_hint)] = problems(text)
    assert code == "FL209"
    assert "never true" in message or "always true" in message
    if hint is not None:
        assert hint in (got_hint or "")


@pytest.mark.parametrize(
    "text",
    [
        "quote.anything + 1 > quote.other",  # a map of unknown shape is unknown, not an error
        "anything + 1",
        "default(quote.name, '') + '先生'",
        "tries + 1 > 3 and len(code) == 6",
        "code == null or tries != null",
        "number(code) > 0",
        "str(tries) + '股'",
        "concat(code, tries, vip)",
        "max(tries, 3) + 1",
        "items[0].code == code",
        "'600' in code and 'x' in quote and 3 in items",
        "quote_of(code).name",
        "(tries if vip else 0) + 1",
        "pad(tries, 6)",
        "call.language == 'zh'",
        "weekday() <= 5 and clock() >= '09:30'",
        "upper(default(code, 'x'))",
    ],
)
def test_sound_for_the_dynamic_corners(text: str) -> None:
    assert problems(text) == []


def test_reading_a_field_call_does_not_have_suggests_one() -> None:
    [(code, message, _, hint)] = problems("call.callr == '1'")
    assert (code, message, hint) == ("FL211", "`call` has no field 'callr'", "did you mean 'caller'?")


def test_formatters_check_what_they_read() -> None:
    [(code, message, _, _)] = problems("{tries|date} {code|money} {quote.x|time}", template=True)
    assert code == "FL208"
    assert message == "formatter 'date' reads text, and `tries` is a number"


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("tries + 1", Kind.NUMBER),
        ("code + 'x'", Kind.TEXT),
        ("[1] + items", Kind.LIST),
        ("tries > 1", Kind.BOOL),
        ("len(code)", Kind.NUMBER),
        ("code[0]", Kind.TEXT),
        ("call.id", Kind.TEXT),
        ("default(code, 0)", Kind.TEXT | Kind.NUMBER),
        ("1 if vip else 'x'", Kind.NUMBER | Kind.TEXT),
    ],
)
def test_types_are_inferred(text: str, kinds: Kinds) -> None:
    assert infer(text).definite == kinds


def test_every_function_has_a_signature_with_its_arity() -> None:
    assert set(SIGNATURES) == set(FUNCTIONS)
    for name, spec in FUNCTIONS.items():
        signature = SIGNATURES[name]
        assert len(signature.params) - signature.optional == spec.min_args, name
        assert signature.variadic == (spec.max_args >= 50) or len(signature.params) == spec.max_args, name


def test_usage_shows_optional_parameters() -> None:
    assert SIGNATURES["substr"].usage() == "substr(s, start[, length])"
    assert SIGNATURES["len"].usage() == "len(x)"
    assert SIGNATURES["now"].usage() == "now()"


# -- soundness ---------------------------------------------------------------------------------
# Expressions without short-circuits (no and/or, no `a if c else b`, no default()), so that
# evaluating one evaluates every part: then an error the checker reports for any part must
# make evaluation fail, whatever the values (their types are what the checker is told).

NAMES = ["a", "b", "c", "d"]
FIELDS = ["x", "y"]
EAGER_FUNCTIONS = [f for f in FUNCTIONS if f not in ("default", "now", "today", "clock", "weekday")]
numbers = st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-1000, max_value=1000)
literals = st.one_of(numbers, st.sampled_from(["", "12", "a", "600519", "x"]), st.booleans(), st.none())


def eager_expressions() -> st.SearchStrategy[Expr]:
    leaves = st.one_of(
        st.builds(Literal, literals, st.just(ORIGIN)),
        st.builds(Name, st.sampled_from(NAMES), st.just(ORIGIN)),
    )

    def branches(kids: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
        few = st.lists(kids, min_size=1, max_size=3).map(tuple)
        return st.one_of(
            st.builds(Index, kids, kids, st.just(ORIGIN)),
            st.builds(Unary, st.just("+"), kids, st.just(ORIGIN)),
            st.builds(Binary, st.sampled_from("+-*/%"), kids, kids, st.just(ORIGIN)),
            st.builds(Compare, st.sampled_from(["==", "!=", "<", ">="]), kids, kids, st.just(ORIGIN)),
            st.builds(Not, kids, st.just(ORIGIN)),
            st.builds(In, kids, kids, st.booleans(), st.just(ORIGIN)),
            st.builds(Call, st.sampled_from(EAGER_FUNCTIONS), few, st.just(ORIGIN)),
            st.builds(ListExpr, few, st.just(ORIGIN)),
        )

    return st.recursive(leaves, branches, max_leaves=10)


values = st.recursive(
    st.one_of(numbers, st.sampled_from(["", "12", "abc", "09:30"]), st.booleans(), st.none()),
    lambda kids: st.one_of(
        st.lists(kids, max_size=3), st.dictionaries(st.sampled_from(FIELDS), kids, max_size=2)
    ),
    max_leaves=6,
)


def scope_types(scope: dict[str, object]) -> Scope:
    return Scope({name: of_value(value) for name, value in scope.items()})


@settings(max_examples=1500, deadline=None)
@given(eager_expressions(), st.fixed_dictionaries({name: values for name in NAMES}))
def test_a_reported_error_always_fails_at_run_time(expr: Expr, scope: dict[str, object]) -> None:
    inferred, found = check_types(expr, scope_types(scope))
    try:
        result = evaluate(expr, scope, now=CLOCK)
    except EvaluationError:
        return
    assert not [d for d in found if d.is_error], (unparse(expr), scope, found)
    if not inferred.is_unknown:
        assert of_value(result).kinds & inferred.kinds, (unparse(expr), result, inferred)


@settings(max_examples=800, deadline=None)
@given(eager_expressions(), eager_expressions(), st.fixed_dictionaries({name: values for name in NAMES}))
def test_a_comparison_reported_never_true_is_never_true(
    left: Expr, right: Expr, scope: dict[str, object]
) -> None:
    expr = Compare("==", left, right, ORIGIN)
    _, found = check_types(expr, scope_types(scope))
    top = f"`{unparse(expr)}`".replace('"', "'")
    if not any(d.code == "FL209" and d.message.startswith(top) for d in found):
        return
    with contextlib.suppress(EvaluationError):
        assert evaluate(expr, scope, now=CLOCK) is False


def test_of_value_matches_the_evaluator_kinds() -> None:
    assert of_value(Decimal(1)).kinds == Kind.NUMBER
    assert of_value(True).kinds == Kind.BOOL
    assert UNKNOWN.is_unknown


@pytest.mark.parametrize(
    ("text", "verdict", "hint"),
    [
        ("code == '600519' or '000001'", "always true", "code == '600519' or code == '000001'"),
        ("tries > 3 or 1", "always true", "compare the value again"),
        ("vip and ''", "always false", None),
        ("vip and null", "always false", None),
    ],
)
def test_a_literal_that_decides_and_or_on_its_own_is_a_warning(
    text: str, verdict: str, hint: str | None
) -> None:
    [(code, message, _, got_hint)] = problems(text)
    assert code == "FL209"
    assert verdict in message
    if hint is not None:
        assert hint in (got_hint or "")


def test_literals_that_do_not_decide_are_fine() -> None:
    assert problems("vip or false") == []
    assert problems("vip and true") == []
