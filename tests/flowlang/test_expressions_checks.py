"""Static checks: the checker reports what the evaluator would refuse, before a call runs."""

from __future__ import annotations

from ivr.flowlang.diagnostics import Span, render
from ivr.flowlang.expressions import check_expression, parse_expression, parse_template

ORIGIN = Span("flows/main.yaml", 9, 11)
KNOWN = {"balance", "quote", "positions", "input"}


def check(text: str, template: bool = False, **operations: int) -> list[tuple[str, str, str | None]]:
    node = parse_template(text, ORIGIN) if template else parse_expression(text, ORIGIN)
    return [
        (d.code, d.message, d.hint) for d in check_expression(node, known_names=KNOWN, operations=operations)
    ]


def test_clean_expression_has_no_diagnostics() -> None:
    assert check("round(balance, 2) > 0 and len(input) == 6 and quote.price >= 1") == []


def test_unknown_function_suggests_a_close_one() -> None:
    assert check("lenght(input)") == [("FL203", "unknown function 'lenght'", "did you mean 'len'?")]
    assert check("qoute_of(input)", quote_of=1) == [
        ("FL203", "unknown function 'qoute_of'", "did you mean 'quote_of'?")
    ]


def test_wrong_arity_says_what_is_expected() -> None:
    assert check("round(1, 2, 3)") == [
        ("FL204", "round() takes 1 or 2 arguments, got 3", "write round(x[, places])")
    ]
    assert check("len()") == [("FL204", "len() takes 1 argument, got 0", "write len(x)")]
    assert check("substr(input)") == [
        ("FL204", "substr() takes 2 or 3 arguments, got 1", "write substr(s, start[, length])")
    ]
    assert check("min()") == [("FL204", "min() takes at least 1 argument, got 0", "write min(values, ...)")]
    assert check("quote_of(input, 2)", quote_of=1) == [
        ("FL204", "operation 'quote_of' takes 1 argument, got 2", None)
    ]


def test_declared_operation_calls_are_valid() -> None:
    assert check("quote_of(input).price > 0", quote_of=1) == []
    assert check("now_price()", now_price=0) == []


def test_undeclared_names_suggest_a_close_one() -> None:
    assert check("balnce > 0") == [("FL206", "undeclared name 'balnce'", "did you mean 'balance'?")]
    assert check("True") == [("FL206", "undeclared name 'True'", "write 'true' in lower case")]
    assert check("None") == [("FL206", "undeclared name 'None'", "write 'null' in lower case")]


def test_dotted_access_reports_only_the_root_name() -> None:
    assert check("customer.name.first") == [("FL206", "undeclared name 'customer'", None)]


def test_private_fields_are_refused() -> None:
    assert check("quote.__class__") == [
        (
            "FL207",
            "fields starting with '_' are not allowed: '__class__'",
            "fields starting with _ are never readable: read a public field (one without the _)",
        )
    ]


def test_templates_are_checked_including_formatters() -> None:
    found = check("{balance|mony}{input|digits:yao}{qty|money:2}", template=True)
    assert found == [
        ("FL205", "unknown formatter 'mony'", "did you mean 'money'?"),
        ("FL205", "formatter 'money' takes no arguments", None),
        ("FL206", "undeclared name 'qty'", None),
    ]


def test_all_problems_are_collected_in_source_order() -> None:
    node = parse_expression("foo(x) + y.z._w", ORIGIN)
    found = check_expression(node, known_names=())
    assert [(d.code, d.span.col) for d in found] == [
        ("FL203", 11),
        ("FL206", 15),
        ("FL206", 20),
        ("FL207", 20),
    ]


def test_diagnostics_render_like_a_compiler() -> None:
    source = "\n" * 8 + "  when: balnce > 0\n"
    origin = Span("flows/main.yaml", 9, 9)
    (diagnostic,) = check_expression(parse_expression("balnce > 0", origin), known_names=KNOWN)
    assert render(diagnostic, {"flows/main.yaml": source}) == (
        "flows/main.yaml:9:9: error[FL206]: undeclared name 'balnce'\n"
        "   9 |   when: balnce > 0\n"
        "               ^^^^^^\n"
        "  hint: did you mean 'balance'?"
    )
