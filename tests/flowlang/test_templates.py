"""Prompt templates: parsing braces and formatters, rendering, and every formatter in zh and en."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from ivr.flowlang.diagnostics import Span
from ivr.flowlang.expressions import (
    FORMATTERS,
    EvaluationError,
    ExpressionError,
    Interpolation,
    formatters_used,
    names_used,
    parse_template,
    render_template,
    unparse,
)
from ivr.flowlang.expressions.zh_numbers import decimal_to_zh, int_to_zh, money_to_zh

ORIGIN = Span("flows/main.yaml", 7, 13)


def render(text: str, language: str = "zh", **scope: object) -> str:
    return render_template(
        parse_template(text, ORIGIN), scope, language=language, now=dt.datetime(2026, 11, 27)
    )


def template_error(text: str) -> ExpressionError:
    with pytest.raises(ExpressionError) as info:
        parse_template(text, ORIGIN)
    return info.value


def test_parts_and_spans() -> None:
    t = parse_template("余额{balance|money}元{{整}}", ORIGIN)
    assert t.parts[0] == "余额" and t.parts[2] == "元{整}"
    part = t.parts[1]
    assert isinstance(part, Interpolation)
    assert (part.formatter, part.formatter_args) == ("money", ())
    assert part.span == Span("flows/main.yaml", 7, 15, 7, 30)
    assert part.expr.span == Span("flows/main.yaml", 7, 16, 7, 23)
    assert t.span == Span("flows/main.yaml", 7, 13, 7, 36)


def test_formatter_arguments_and_quoted_braces_and_bars() -> None:
    t = parse_template('{code|digits:yao}{"a|}" if x else "b"| number : 2 }', ORIGIN)
    first, second = t.parts
    assert isinstance(first, Interpolation) and first.formatter_args == ("yao",)
    assert isinstance(second, Interpolation) and (second.formatter, second.formatter_args) == (
        "number",
        ("2",),
    )
    assert [n.name for n in names_used(t)] == ["code", "x"]
    assert [p.formatter for p in formatters_used(t)] == ["digits", "number"]


def test_plain_text_template() -> None:
    assert parse_template("", ORIGIN).parts == ()
    assert render("您好") == "您好"


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("余额{balance", "'{' is never closed", 15),
        ("余额}", "single '}' in a prompt", 15),
        ("a { } b", "empty '{}' in a prompt", 15),
        ("{x|}", "expected a formatter name after '|'", 16),
        ("{x|money:}", "empty argument for formatter 'money'", 16),
        ("{x|1abc}", "expected a formatter name after '|'", 16),
    ],
)
def test_template_errors_are_fl202(text: str, message: str, column: int) -> None:
    problem = template_error(text)
    assert (problem.code, problem.message, problem.span.col) == ("FL202", message, column)


def test_expression_errors_inside_a_template_stay_fl201_and_point_inside() -> None:
    problem = template_error("您的余额是{balance +}元")
    assert (problem.code, problem.message, problem.span.col) == ("FL201", "expected a value after '+'", 27)
    assert template_error("{a || b}").message == "use 'or' instead of '||'"


def test_render_without_formatter() -> None:
    assert render("{a}-{b}-{c}-{d}", a=Decimal("12.50"), b=None, c=True, d="x") == "12.50--true-x"


def test_render_failures_are_evaluation_errors_with_the_part_span() -> None:
    with pytest.raises(EvaluationError) as info:
        render("余额{x|money}", x="abc")
    assert info.value.message == "'abc' is not a number"
    assert info.value.span.col == 15
    with pytest.raises(EvaluationError, match="unknown formatter 'cash'"):
        render("{x|cash}", x=1)
    with pytest.raises(EvaluationError, match="takes at most 0"):
        render("{x|money:2}", x=1)
    with pytest.raises(EvaluationError, match="unknown name 'x'"):
        render("{x}")


def test_rendered_prompt_is_bounded() -> None:
    with pytest.raises(EvaluationError, match="longer than"):
        render("{s}{s}", s="x" * 60_000)


def test_unparse_round_trips_templates() -> None:
    text = '您好{{{name}}}，{x + 1|number:2}{"}"|digits:yao}'
    t = parse_template(text, ORIGIN)
    again = parse_template(unparse(t), ORIGIN)
    assert unparse(again) == unparse(t)
    assert render(unparse(t), name="张三", x=1) == "您好{张三}，二点零零"


@pytest.mark.parametrize(
    ("n", "zh"),
    [
        (0, "零"),
        (7, "七"),
        (10, "十"),
        (15, "十五"),
        (20, "二十"),
        (100, "一百"),
        (110, "一百一十"),
        (115, "一百一十五"),
        (1005, "一千零五"),
        (1050, "一千零五十"),
        (1500, "一千五百"),
        (10000, "一万"),
        (10010, "一万零一十"),
        (100000, "十万"),
        (150000, "十五万"),
        (1001000, "一百万一千"),
        (1000100, "一百万零一百"),
        (100000005, "一亿零五"),
        (100010000, "一亿零一万"),
        (110000000, "一亿一千万"),
        (1000000000, "十亿"),
        (10**12, "一万亿"),
        (12345678901234, "十二万三千四百五十六亿七千八百九十万一千二百三十四"),
        (-15, "负十五"),
    ],
)
def test_chinese_integers(n: int, zh: str) -> None:
    assert int_to_zh(n) == zh


@pytest.mark.parametrize(
    ("n", "zh", "zh_liang_hundreds"),
    [
        (2, "二", "二"),
        (22, "二十二", "二十二"),
        (200, "二百", "两百"),
        (2000, "两千", "两千"),
        (2300, "两千三百", "两千三百"),
        (2200, "两千二百", "两千两百"),
        (12000, "一万两千", "一万两千"),
        (20000, "两万", "两万"),
        (22000, "两万两千", "两万两千"),
        (220000, "二十二万", "二十二万"),
        (2000000, "二百万", "两百万"),
        (20000000, "两千万", "两千万"),
        (200000000, "两亿", "两亿"),
        (-2000, "负两千", "负两千"),
    ],
)
def test_a_lone_two_before_qian_wan_yi_is_read_liang(n: int, zh: str, zh_liang_hundreds: str) -> None:
    assert int_to_zh(n) == zh
    assert int_to_zh(n, liang_hundreds=True) == zh_liang_hundreds


@pytest.mark.parametrize(
    ("value", "zh"),
    [("12.34", "十二点三四"), ("0.5", "零点五"), ("-3", "负三"), ("-0.05", "负零点零五"), ("10.0", "十点零")],
)
def test_chinese_decimals(value: str, zh: str) -> None:
    assert decimal_to_zh(Decimal(value)) == zh


@pytest.mark.parametrize(
    ("value", "zh"),
    [
        ("1234.50", "一千二百三十四元五角"),
        ("2300", "两千三百元"),
        ("2", "两元"),
        ("2.50", "两元五角"),
        ("22", "二十二元"),
        ("12.05", "十二元零五分"),
        ("12.55", "十二元五角五分"),
        ("0.05", "五分"),
        ("0.50", "五角"),
        ("0", "零元"),
        ("100", "一百元"),
        ("10", "十元"),
        ("-3.46", "负三元四角六分"),
        ("100000000", "一亿元"),
    ],
)
def test_chinese_money(value: str, zh: str) -> None:
    assert money_to_zh(Decimal(value)) == zh


@pytest.mark.parametrize(
    ("formatter", "value", "zh", "en"),
    [
        ("money", Decimal("1234.5"), "一千二百三十四元五角", "1,234.50 yuan"),
        ("money", Decimal("1234.005"), "一千二百三十四元零一分", "1,234.01 yuan"),
        ("money", Decimal("12"), "十二元", "12 yuan"),
        ("money", Decimal("-0.5"), "负五角", "minus 0.50 yuan"),
        ("money", "88.8", "八十八元八角", "88.80 yuan"),
        ("number", Decimal("10010"), "一万零一十", "10,010"),
        ("number", Decimal("12.340"), "十二点三四", "12.34"),
        ("number", Decimal("10000.0"), "一万", "10,000"),
        ("number", Decimal("-1234567.5"), "负一百二十三万四千五百六十七点五", "-1,234,567.5"),
        ("price", Decimal("12.3"), "十二点三零", "12.30"),
        ("price", Decimal("1688"), "一千六百八十八点零零", "1,688.00"),
        ("price", Decimal("9.995"), "十点零零", "10.00"),
        ("percent", Decimal("5.23"), "百分之五点二三", "5.23 percent"),
        ("percent", Decimal("-5.23"), "负百分之五点二三", "minus 5.23 percent"),
        ("percent", Decimal("10"), "百分之十", "10 percent"),
        ("digits", "600519", "六零零五一九", "6 0 0 5 1 9"),
        ("digits", "138-0013", "幺三八零零幺三", "1 3 8 0 0 1 3"),
        ("digits", Decimal("1001"), "一零零一", "1 0 0 1"),
        ("date", "2026-11-27", "二零二六年十一月二十七日", "November 27, 2026"),
        ("date", "20260105", "二零二六年一月五日", "January 5, 2026"),
        ("date", "2026/1/5", "二零二六年一月五日", "January 5, 2026"),
        ("date", "2026-11-27T14:05:00", "二零二六年十一月二十七日", "November 27, 2026"),
        ("time", "14:05", "十四点零五分", "14:05"),
        ("time", "14:00", "十四点整", "14:00"),
        ("time", "02:30", "两点三十分", "02:30"),
        ("time", "0:00", "零点整", "00:00"),
        ("time", "093015", "九点三十分十五秒", "09:30:15"),
        ("time", "2026-11-27 22:10:00", "二十二点十分", "22:10"),
    ],
)
def test_formatters_speak_zh_and_en(formatter: str, value: object, zh: str, en: str) -> None:
    args = ("yao",) if value == "138-0013" else ()
    impl = FORMATTERS[formatter].impl
    assert impl(value, "zh", args) == zh
    assert impl(value, "zh-CN", args) == zh
    assert impl(value, "en", args) == en
    assert impl(value, "fr", args) == en


@pytest.mark.parametrize(
    ("template", "value", "expected"),
    [
        ("{x|number:1}", Decimal("2.25"), "二点三"),
        ("{x|percent:1}", Decimal("5.25"), "百分之五点三"),
        ("{x|digits:yao}", "110", "幺幺零"),
    ],
)
def test_formatter_arguments(template: str, value: object, expected: str) -> None:
    assert render(template, x=value) == expected


@pytest.mark.parametrize(
    ("template", "value", "message"),
    [
        ("{x|number:many}", Decimal(1), "'number:many': the argument is a number of decimal places, 0 to 10"),
        ("{x|digits:one}", "1", "'digits:one': the only argument is 'yao'"),
        ("{x|money}", True, "'money' needs a number, got true/false"),
        ("{x|money}", Decimal("1E+20"), "'money': 100000000000000000000 is too large to read out"),
        ("{x|date}", "2026-13-01", "'date' needs a date such as '2026-11-27', got '2026-13-01'"),
        ("{x|date}", 5, "'date' needs a date such as '2026-11-27', got a number"),
        ("{x|time}", "25:00", "'time' needs a time such as '14:05', got '25:00'"),
        ("{x|digits}", None, "'digits' needs text or a number, got null"),
    ],
)
def test_formatter_misuse_is_an_evaluation_error(template: str, value: object, message: str) -> None:
    with pytest.raises(EvaluationError) as info:
        render(template, x=value)
    assert info.value.message == message


def test_dates_from_the_engine_work() -> None:
    assert render("{d|date}", d=dt.date(2026, 1, 2)) == "二零二六年一月二日"
    assert render("{t|time}", language="en", t=dt.time(8, 5)) == "08:05"


def test_every_formatter_is_documented() -> None:
    for name, spec in FORMATTERS.items():
        assert spec.name == name and spec.doc
