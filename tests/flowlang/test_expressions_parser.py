"""Parsing expressions: the AST shape, spans into the YAML file, and friendly syntax errors."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ivr.flowlang.diagnostics import Span
from ivr.flowlang.expressions import (
    Attribute,
    Binary,
    BoolOp,
    Call,
    Compare,
    Conditional,
    Expr,
    ExpressionError,
    In,
    Index,
    ListExpr,
    Literal,
    Name,
    Not,
    Unary,
    parse_expression,
    unparse,
)

ORIGIN = Span("flows/main.yaml", 14, 12)


def parse(text: str) -> Expr:
    return parse_expression(text, ORIGIN)


def error(text: str) -> ExpressionError:
    with pytest.raises(ExpressionError) as info:
        parse(text)
    assert info.value.code == "FL201"
    return info.value


def test_numbers_are_decimals_and_keep_their_places() -> None:
    node = parse("12.50")
    assert node == Literal(Decimal("12.50"), Span("flows/main.yaml", 14, 12, 14, 17))
    assert str(parse("12.50").value) == "12.50"


def test_negative_number_is_a_literal() -> None:
    node = parse("-3")
    assert isinstance(node, Literal) and node.value == Decimal(-3)


def test_strings_in_either_quote_with_escapes() -> None:
    assert parse('"a\\"b\\n"').value == 'a"b\n'
    assert parse("'it\\'s'").value == "it's"
    assert parse("'\\q'").value == "\\q"


def test_constants() -> None:
    assert [parse(t).value for t in ("true", "false", "null")] == [True, False, None]


def test_dotted_access_and_indexing() -> None:
    node = parse("positions[0].qty")
    assert isinstance(node, Attribute) and node.name == "qty"
    assert isinstance(node.obj, Index) and node.obj.obj == Name(
        "positions", Span("flows/main.yaml", 14, 12, 14, 21)
    )


def test_chinese_names_are_allowed() -> None:
    assert isinstance(parse("余额 >= 100"), Compare)


def test_precedence_follows_python() -> None:
    node = parse("a + b * c")
    assert isinstance(node, Binary) and node.op == "+" and isinstance(node.right, Binary)
    node = parse("not a == b and c or d")
    assert isinstance(node, BoolOp) and node.op == "or"
    assert isinstance(node.left, BoolOp) and isinstance(node.left.left, Not)
    assert isinstance(node.left.left.operand, Compare)
    assert isinstance(parse("-x * 2").left, Unary)


def test_in_and_not_in() -> None:
    assert parse("a not in [1, 2]") == In(
        Name("a", Span("flows/main.yaml", 14, 12, 14, 13)),
        ListExpr(
            (
                Literal(Decimal(1), Span("flows/main.yaml", 14, 22, 14, 23)),
                Literal(Decimal(2), Span("flows/main.yaml", 14, 25, 14, 26)),
            ),
            Span("flows/main.yaml", 14, 21, 14, 27),
        ),
        True,
        Span("flows/main.yaml", 14, 12, 14, 27),
    )


def test_calls_and_conditional() -> None:
    node = parse("'vip' if len(name, ) > 0 else 'guest'")
    assert isinstance(node, Conditional)
    assert isinstance(node.condition, Compare) and isinstance(node.condition.left, Call)
    assert node.condition.left.function == "len" and len(node.condition.left.args) == 1
    assert parse("today()") == Call("today", (), Span("flows/main.yaml", 14, 12, 14, 19))


def test_spans_cover_the_node_in_the_yaml_file() -> None:
    node = parse("balance + quote.price")
    assert isinstance(node, Binary)
    assert node.span == Span("flows/main.yaml", 14, 12, 14, 33)
    assert node.right.span == Span("flows/main.yaml", 14, 22, 14, 33)


def test_spans_follow_line_breaks_of_folded_text() -> None:
    node = parse("a and\nbb")
    assert isinstance(node, BoolOp)
    assert node.right.span == Span("flows/main.yaml", 15, 1, 15, 3)


@pytest.mark.parametrize(
    ("text", "message", "column", "hint"),
    [
        ("a = 1", "single '=' in an expression", 14, "'=' is assignment; compare with '=='"),
        ("a && b", "use 'and' instead of '&&'", 14, None),
        ("a || b", "use 'or' instead of '||'", 14, None),
        ("!a", "use 'not' instead of '!'", 12, "'!=' means 'not equal'"),
        ('x == "abc', "unclosed string", 17, 'end the text with a matching "'),
        ("1 +", "expected a value after '+'", 14, "write a value after '+', e.g. `1 + 0`"),
        ("1 + * 2", "expected a value after '+', found '*'", 16, None),
        ("a < b < c", "comparisons cannot be chained", 18, "join them with 'and', e.g. 'a < b and b < c'"),
        ("x.upper()", "only functions can be called", 19, "write 'upper(x)' instead of 'x.upper()'"),
        ("len(x", "'(' is never closed", 15, "add ')'"),
        ("[1, (2]", "expected ')' before ']'", 18, "the '(' at column 16 is still open"),
        ("a)", "unmatched ')'", 13, "remove it or add '(' before it"),
        ("a if b", "expected 'else'", 17, "write a choice as 'a if condition else b'"),
        ("a ? b : c", "unexpected '?'", 14, "write a choice as 'a if condition else b'"),
        ("a b", "missing operator before 'b'", 14, "join values with an operator such as '+', 'and' or '=='"),
        ("a AND b", "unexpected 'AND'", 14, "keywords are lower case: 'and'"),
        ("x.", "expected a field name after '.'", 13, None),
        ("", "empty expression", 12, "write a value such as 0 or 'text'"),
        (
            "len（x）",
            "full-width '（' in an expression",
            15,
            "type the ASCII '(' instead; switch the input method to English",
        ),
        ("{x}", "unexpected '{'", 12, "braces belong in prompt templates, not in expressions"),
        ("a # b", "unexpected character '#'", 14, None),
    ],
)
def test_syntax_errors_teach(text: str, message: str, column: int, hint: str | None) -> None:
    problem = error(text)
    assert (problem.message, problem.span.line, problem.span.col, problem.hint) == (message, 14, column, hint)


def test_error_on_a_later_line_points_there() -> None:
    problem = error("1 +\n  * 2")
    assert (problem.span.line, problem.span.col) == (15, 3)


def test_error_becomes_a_diagnostic() -> None:
    diagnostic = error("a = 1").to_diagnostic()
    assert diagnostic.code == "FL201" and diagnostic.is_error and diagnostic.hint


def test_hostile_nesting_is_a_syntax_error_not_a_crash() -> None:
    assert unparse(parse("(" * 500 + "1" + ")" * 500)) == "1"
    assert "nested" in error("[" * 500 + "]" * 500).message
    assert "nested" in error("+".join(["a"] * 500)).message
    assert "nested" in error("-" * 500 + "a").message


def test_overlong_expression_is_refused() -> None:
    assert "longer than" in error("1" * 20_000).message


def test_unparse_prints_canonical_text() -> None:
    text = "(a + b) * -c if not x in [1, 'q\"'] else f(y.z[0], -2) or true"
    assert unparse(parse(text)) == '(a + b) * -c if not x in [1, "q\\""] else f(y.z[0], -2) or true'


def test_brackets_nested_past_the_limit_are_refused_before_parsing_where_they_pass_it() -> None:
    """Found by fuzzing: `[[[[...]]]]` of 10,000 characters took half a second to build and
    then refuse; the brackets are now counted first (quotes skipped)."""
    text = "'[[[' + " + "[" * 101 + "]" * 101
    with pytest.raises(ExpressionError) as raised:
        parse_expression(text, Span("f.yaml", 3, 10))
    assert raised.value.message == "expression nested more than 100 levels deep"
    assert (raised.value.span.line, raised.value.span.col) == (3, 10 + text.index("[", 8) + 100)
    assert parse_expression("[" * 40 + "]" * 40, Span("f.yaml", 1, 1)) is not None
