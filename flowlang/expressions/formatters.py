"""Formatters for prompt templates: how `{value|money}` and friends are spoken in zh and en.

templates.py applies them when rendering a prompt; checks.py reports unknown ones (FL205).
Each turns a value into text for the TTS voice of the call's language: "zh" (any zh-*) gets
Chinese readings from zh_numbers.py, every other language code the English forms.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType

from ivr.flowlang.expressions import zh_numbers
from ivr.flowlang.expressions.errors import ValueProblem
from ivr.flowlang.expressions.values import parse_number, plain_number, type_name


@dataclass(frozen=True)
class FormatterSpec:
    """One formatter: `impl(value, language, args)` returns the spoken text."""

    name: str
    doc: str
    impl: Callable[[object, str, tuple[str, ...]], str]
    max_args: int = 0


MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_DATE = re.compile(r"(\d{4})(?:([-/.])(\d{1,2})\2(\d{1,2})|(\d{2})(\d{2}))(?![\d])")
_TIME = re.compile(r"(?:^|[T\s])(\d{1,2}):(\d{2})(?::(\d{2}))?|^(\d{2})(\d{2})(\d{2})?$")


def is_zh(language: str) -> bool:
    return language.lower().startswith("zh")


def _number(value: object, formatter: str) -> Decimal:
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, str):
        number = parse_number(value)
    else:
        raise ValueProblem(f"'{formatter}' needs a number, got {type_name(value)}")
    if abs(number) >= zh_numbers.LIMIT:
        raise ValueProblem(f"'{formatter}': {plain_number(number)} is too large to read out")
    return number


def _places(args: tuple[str, ...], formatter: str) -> int | None:
    if not args:
        return None
    if not (args[0].isascii() and args[0].isdigit() and int(args[0]) <= 10):
        raise ValueProblem(f"'{formatter}:{args[0]}': the argument is a number of decimal places, 0 to 10")
    return int(args[0])


def _rounded(number: Decimal, places: int | None) -> Decimal:
    """`number` to `places` decimals; without places, trailing zeros of the fraction dropped."""
    if places is None:
        whole = number == number.to_integral_value()
        return number.quantize(Decimal(1)) if whole else number.normalize()
    return number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _en(number: Decimal) -> str:
    return f"{number:,f}"


def money(value: object, language: str, args: tuple[str, ...]) -> str:
    """zh 一千二百三十四元五角; en '1,234.50 yuan' ('12 yuan' when there are no fen)."""
    amount = _rounded(_number(value, "money"), 2)
    if is_zh(language):
        return zh_numbers.money_to_zh(amount)
    whole = amount == amount.to_integral_value()
    text = f"{abs(amount):,.0f}" if whole else f"{abs(amount):,.2f}"
    return ("minus " if amount < 0 else "") + text + " yuan"


def number(value: object, language: str, args: tuple[str, ...]) -> str:
    """zh 一万零一十 / 十二点三四; en '10,010' / '12.34'. Optional places: {x|number:1}."""
    amount = _rounded(_number(value, "number"), _places(args, "number"))
    return zh_numbers.decimal_to_zh(amount) if is_zh(language) else _en(amount)


def price(value: object, language: str, args: tuple[str, ...]) -> str:
    """A number with exactly two decimals: zh 十二点三零; en '12.30'."""
    amount = _rounded(_number(value, "price"), 2)
    return zh_numbers.decimal_to_zh(amount) if is_zh(language) else _en(amount)


def percent(value: object, language: str, args: tuple[str, ...]) -> str:
    """A value already in percent: 5.23 -> zh 百分之五点二三, en '5.23 percent'; negatives say so."""
    amount = _rounded(_number(value, "percent"), _places(args, "percent"))
    if is_zh(language):
        return ("负" if amount < 0 else "") + "百分之" + zh_numbers.decimal_to_zh(abs(amount))
    return ("minus " if amount < 0 else "") + _en(abs(amount)) + " percent"


def digits(value: object, language: str, args: tuple[str, ...]) -> str:
    """Read digit by digit: zh 六零零五一九 ({x|digits:yao} says 幺 for 1); en '6 0 0 5 1 9'."""
    if args and args != ("yao",):
        raise ValueProblem(f"'digits:{','.join(args)}': the only argument is 'yao'")
    if isinstance(value, Decimal):
        text = plain_number(value)
    elif isinstance(value, str):
        text = value
    else:
        raise ValueProblem(f"'digits' needs text or a number, got {type_name(value)}")
    kept = [c for c in text if c.isascii() and c.isalnum()]
    if is_zh(language):
        return zh_numbers.digits_to_zh("".join(kept), yao=bool(args))
    return " ".join(kept)


def date(value: object, language: str, args: tuple[str, ...]) -> str:
    """'2026-11-27' or '20261127' -> zh 二零二六年十一月二十七日, en 'November 27, 2026'."""
    day = _parse_date(value)
    if is_zh(language):
        return (
            zh_numbers.digits_to_zh(str(day.year))
            + "年"
            + zh_numbers.int_to_zh(day.month)
            + "月"
            + zh_numbers.int_to_zh(day.day)
            + "日"
        )
    return f"{MONTHS[day.month - 1]} {day.day}, {day.year}"


def _parse_date(value: object) -> dt.date:
    if not isinstance(value, str):
        raise ValueProblem(f"'date' needs a date such as '2026-11-27', got {type_name(value)}")
    match = _DATE.match(value.strip())
    try:
        if match is None:
            raise ValueError
        year, month, day = match[1], match[3] or match[5], match[4] or match[6]
        return dt.date(int(year), int(month), int(day))
    except ValueError:
        raise ValueProblem(f"'date' needs a date such as '2026-11-27', got {value[:40]!r}") from None


def time(value: object, language: str, args: tuple[str, ...]) -> str:
    """'14:05' -> zh 十四点零五分 (14:00 -> 十四点整, 2:00 -> 两点整), en '14:05'."""
    hour, minute, second = _parse_time(value)
    if not is_zh(language):
        return f"{hour:02d}:{minute:02d}" + (f":{second:02d}" if second else "")
    text = ("两" if hour == 2 else zh_numbers.int_to_zh(hour)) + "点"
    if minute == 0 and not second:
        return text + "整"
    text += ("零" if minute < 10 else "") + zh_numbers.int_to_zh(minute) + "分"
    return text + (zh_numbers.int_to_zh(second) + "秒" if second else "")


def _parse_time(value: object) -> tuple[int, int, int]:
    if not isinstance(value, str):
        raise ValueProblem(f"'time' needs a time such as '14:05', got {type_name(value)}")
    match = _TIME.search(value.strip())
    if match is not None:
        hour, minute, second = (
            int(g) if g else 0 for g in (match[1] or match[4], match[2] or match[5], match[3] or match[6])
        )
        if hour < 24 and minute < 60 and second < 60:
            return hour, minute, second
    raise ValueProblem(f"'time' needs a time such as '14:05', got {value[:40]!r}")


_SPECS = [
    FormatterSpec("money", "an amount in yuan: 一千二百三十四元五角 / '1,234.50 yuan'", money),
    FormatterSpec("number", "a number: 一万零一十 / '10,010'; optional decimal places", number, max_args=1),
    FormatterSpec("price", "a number with two decimals: 十二点三零 / '12.30'", price),
    FormatterSpec("percent", "a value in percent: 百分之五点二三 / '5.23 percent'", percent, max_args=1),
    FormatterSpec(
        "digits", "digit by digit: 六零零五一九 / '6 0 0 5 1 9'; 'yao' says 幺 for 1", digits, max_args=1
    ),
    FormatterSpec("date", "a date: 二零二六年十一月二十七日 / 'November 27, 2026'", date),
    FormatterSpec("time", "a time of day: 十四点零五分 / '14:05'", time),
]

FORMATTERS: Mapping[str, FormatterSpec] = MappingProxyType({spec.name: spec for spec in _SPECS})
