"""Evaluating expressions: Decimal arithmetic, strict equality, functions, bounded work, errors."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from ivr.flowlang.diagnostics import Span
from ivr.flowlang.expressions import (
    FUNCTIONS,
    Call,
    EvaluationError,
    MissingValueError,
    Name,
    calls_made,
    evaluate,
    parse_expression,
    truthy,
)

ORIGIN = Span("flows/main.yaml", 3, 5)
CLOCK = dt.datetime(2026, 11, 27, 14, 5, 9)  # a Friday
SCOPE: dict[str, object] = {
    "balance": Decimal("1234.50"),
    "count": 3,
    "ratio": 0.1,
    "code": "600519",
    "quote": {"last_price": Decimal("12.50"), "name": "茅台", "_secret": "x", "extra": None},
    "positions": [{"qty": 100}, {"qty": 2000}],
    "flag": True,
    "nothing": None,
    "when": dt.date(2026, 11, 27),
}


def run(text: str, **scope: object) -> object:
    return evaluate(parse_expression(text, ORIGIN), {**SCOPE, **scope}, now=CLOCK)


def fails(text: str, **scope: object) -> EvaluationError:
    with pytest.raises(EvaluationError) as info:
        run(text, **scope)
    return info.value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("balance * 2", Decimal("2469.00")),
        ("0.1 + 0.2 == 0.3", True),
        ("count + 1", Decimal(4)),
        ("ratio * 3", Decimal("0.3")),
        ("10 / 4", Decimal("2.5")),
        ("-7 % 3", Decimal(-1)),
        ("-balance", Decimal("-1234.50")),
        ("+count", Decimal(3)),
        ('"a" + "b"', "ab"),
        ("[1] + [2]", (Decimal(1), Decimal(2))),
        ("quote.name", "茅台"),
        ('quote["name"]', "茅台"),
        ("positions[1].qty", Decimal(2000)),
        ("positions[-1].qty", Decimal(2000)),
        ("code[0]", "6"),
        ("when", "2026-11-27"),
        ('"b" > "a"', True),
        ("2 >= 2", True),
        ("1 != 2", True),
        ("true == 1", False),
        ('"1" == 1', False),
        ("null == null", True),
        ("nothing == 0", False),
        ("[1, [2]] == [1, [2]]", True),
        ("quote == quote", True),
        ("flag and count", True),
        ("nothing or 0", False),
        ("nothing or 'x'", True),
        ("not ''", True),
        ('"60" in code', True),
        ("2 in [1, 2]", True),
        ("'2' in [1, 2]", False),
        ('"name" in quote', True),
        ("3 not in [1, 2]", True),
        ("'yes' if flag else 'no'", "yes"),
        ("1 if nothing else 2", Decimal(2)),
    ],
)
def test_expression_values(text: str, expected: object) -> None:
    assert run(text) == expected
    assert type(run(text)) is type(expected)


def test_and_or_short_circuit() -> None:
    assert run("false and missing.x") is False
    assert run("true or 1 / 0") is True
    assert run("1 if true else 1 / 0") == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("len(code)", Decimal(6)),
        ("len(positions)", Decimal(2)),
        ("len(quote)", Decimal(4)),
        ("upper('ab')", "AB"),
        ("lower('AB')", "ab"),
        ("trim('  a ')", "a"),
        ("substr(code, 1, 2)", "00"),
        ("substr(code, -2)", "19"),
        ("substr(code, 10)", ""),
        ("startswith(code, '60')", True),
        ("endswith(code, '9')", True),
        ("contains(code, '05')", True),
        ("contains(positions, 1)", False),
        ("round(2.5)", Decimal(3)),
        ("round(-2.5)", Decimal(-3)),
        ("round(1.005, 2)", Decimal("1.01")),
        ("round(balance, 1)", Decimal("1234.5")),
        ("abs(-2)", Decimal(2)),
        ("min(3, 1, 2)", Decimal(1)),
        ("max([3, 1, 2])", Decimal(3)),
        ("max('a', 'b')", "b"),
        ("int(3.9)", Decimal(3)),
        ("int(-3.9)", Decimal(-3)),
        ("int('42.7')", Decimal(42)),
        ("number('12.50')", Decimal("12.50")),
        ("number(' -1,234 ')", Decimal(-1234)),
        ("number(5)", Decimal(5)),
        ("str(12.50)", "12.50"),
        ("str(null)", ""),
        ("str(true)", "true"),
        ("str([1, 'a'])", "1, a"),
        ("is_digits(code)", True),
        ("is_digits('12a')", False),
        ("is_digits('')", False),
        ("is_digits('１２')", False),
        ("is_digits(12)", False),
        ("pad('7', 3)", "007"),
        ("pad(7, 3, ' ')", "  7"),
        ("pad('1234', 2)", "1234"),
        ("now()", "2026-11-27T14:05:09"),
        ("today()", "2026-11-27"),
        ("clock()", "14:05"),
        ("weekday()", Decimal(5)),
        ("concat('a', 1, null, true)", "a1true"),
        ("join([1, 'b'], '-')", "1-b"),
        ("join(['a', 'b'])", "ab"),
        ("default(nothing, 1)", Decimal(1)),
        ("default(quote.extra, 'x')", "x"),
        ("default(quote.missing.deeper, 'x')", "x"),
        ("default(positions[9], 'x')", "x"),
        ("default(undeclared, 'x')", "x"),
        ("default(0, 'x')", Decimal(0)),
    ],
)
def test_functions(text: str, expected: object) -> None:
    assert run(text) == expected
    assert type(run(text)) is type(expected)


def test_function_table_is_documented_and_sane() -> None:
    for name, spec in FUNCTIONS.items():
        assert spec.name == name and spec.doc and 0 <= spec.min_args <= spec.max_args


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1 / 0", "division by zero"),
        ("1 % 0", "division by zero"),
        ("'a' + 1", "'+' cannot join text and a number; use str(x) or concat(a, b) to make text"),
        ("true * 2", "'*' needs two numbers, got true/false and a number"),
        ("-code", "'-' needs a number, got text"),
        ("'a' < 1", "cannot compare text with a number using '<'"),
        ("1 in 2", "'in' needs text, a list or a record on the right, got a number"),
        ("1 in code", "'in' on text needs text to look for, got a number"),
        ("code.x", "'.x' needs a record, got text"),
        ("quote.nme", "no field 'nme'; did you mean 'name'?"),
        ("quote._secret", "fields starting with '_' are not allowed: '_secret'"),
        ("nothing.x", "cannot read field 'x' of null"),
        ("positions[2]", "item 2 is out of range (length 2)"),
        ("positions[0.5]", "'[...]' needs a whole number, got 0.5"),
        ("positions['a']", "'[...]' needs a number, got text"),
        ("quote[1]", "a record is indexed by text, got a number"),
        ("count[0]", "'[...]' needs a list, text or a record, got a number"),
        ("undeclared", "unknown name 'undeclared'"),
        ("len(1)", "len() needs text, a list or a record, got a number"),
        ("len()", "len() takes 1 argument, got 0"),
        ("round(1, 2, 3)", "round() takes 1 or 2 arguments, got 3"),
        ("round(1, 99)", "round() places needs a number from 0 to 20, got 99"),
        ("now(1)", "now() takes 0 arguments, got 1"),
        ("upper(1)", "upper() needs text, got a number"),
        ("number('12a')", "'12a' is not a number"),
        ("number('')", "'' is not a number"),
        ("min([])", "min() of an empty list"),
        ("min(1, 'a')", "min() needs all numbers or all text, got a number, text"),
        ("pad('1', 3, 'ab')", "pad() fill must be one character"),
        ("quote_of(code)", "no result for 'quote_of()': not a function, and the operation was not run"),
    ],
)
def test_runtime_errors_are_evaluation_errors(text: str, message: str) -> None:
    assert fails(text).message == message


def test_error_points_at_the_failing_node() -> None:
    problem = fails("1 + 2 / 0")
    assert problem.span == Span("flows/main.yaml", 3, 9, 3, 14)


def test_missing_values_are_a_distinct_kind() -> None:
    assert isinstance(fails("quote.nope"), MissingValueError)
    assert not isinstance(fails("1 / 0"), MissingValueError)


def test_default_does_not_hide_real_errors() -> None:
    assert fails("default(1 / 0, 2)").message == "division by zero"


def test_numbers_from_the_engine_are_decimal_never_float() -> None:
    assert run("ratio") == Decimal("0.1")
    assert isinstance(run("count"), Decimal)
    assert fails("x", x=float("nan")).message == "NaN is not a number an expression can use"


def test_operation_results_are_supplied_by_the_engine() -> None:
    expr = parse_expression("quote_of(upper(code)).price * 2", ORIGIN)
    (inner, call) = list(calls_made(expr))
    assert inner.function == "upper" and call.function == "quote_of"
    value = evaluate(expr, SCOPE, call_results={call: {"price": 3}})
    assert value == Decimal(6)


def test_call_results_are_keyed_by_node_so_two_calls_differ() -> None:
    expr = parse_expression("f(1) + f(1)", ORIGIN)
    first, second = calls_made(expr)
    assert first != second
    assert evaluate(expr, {}, call_results={first: 1, second: 2}) == Decimal(3)


def test_work_is_bounded() -> None:
    big = "x" * 60_000
    assert "longer than" in fails("s + s", s=big).message
    assert "longer than" in fails("join([s, s], '')", s=big).message
    assert fails("pad('1', 5000)").message == "pad() width needs a number from 0 to 1000, got 5000"
    assert "too deeply" in evaluate_deep().message


def evaluate_deep() -> EvaluationError:
    node: object = Name("x", ORIGIN)
    for _ in range(1000):
        node = Call("abs", (node,), ORIGIN)  # type: ignore[arg-type]
    with pytest.raises(EvaluationError) as info:
        evaluate(node, {"x": 1})  # type: ignore[arg-type]
    return info.value


def test_huge_numbers_overflow_into_an_error() -> None:
    assert "arithmetic failed" in fails("x * x", x=Decimal("9E+999990")).message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, False),
        (False, False),
        (Decimal(0), False),
        (0, False),
        ("", False),
        ([], False),
        ({}, False),
        (True, True),
        (Decimal("0.01"), True),
        ("0", True),
        ([0], True),
        ({"a": 1}, True),
    ],
)
def test_truthy(value: object, expected: bool) -> None:
    assert truthy(value) is expected


def test_no_python_attribute_reaches_the_expression() -> None:
    class Account:
        balance = 5

    assert (
        fails("acct.balance", acct=Account()).message == "'.balance' needs a record, got an unsupported value"
    )
    assert fails("x.__class__", x={"a": 1}).message.startswith("fields starting with '_'")


def test_clock_defaults_to_wall_time() -> None:
    assert isinstance(evaluate(parse_expression("today()", ORIGIN), {}), str)


def test_call_node_is_hashable_for_results() -> None:
    call = parse_expression("f(x, [1, 'a'], -2)", ORIGIN)
    assert isinstance(call, Call) and {call: 1}[call] == 1


@pytest.mark.parametrize("text", ["round(2.5, null)", "substr('abc', 1, null)"])
def test_an_optional_argument_given_as_null_is_an_error_as_the_checker_says(text: str) -> None:
    expr = parse_expression(text, Span("f.yaml", 1, 1))
    with pytest.raises(EvaluationError, match="needs a number, got null"):
        evaluate(expr, {})
