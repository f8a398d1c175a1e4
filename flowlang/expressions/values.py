"""Run-time values: what the evaluator, the functions and the formatters agree on.

Numbers are always `Decimal` (money is never a float); text is `str`; lists are tuples or lists;
records are mappings. `coerce` brings values from the engine's scope into that shape, and the
`need_*` helpers give friendly `ValueProblem`s when a function gets the wrong kind of value.
Limits here keep every expression's work bounded.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

from ivr.flowlang.expressions.errors import ValueProblem

Value = Decimal | str | bool | None | tuple["Value", ...] | list["Value"] | Mapping[str, "Value"]

MAX_TEXT = 100_000
MAX_ITEMS = 10_000
MAX_DEPTH = 100
MAX_NUMBER_DIGITS = 40

# Arithmetic context: 28 significant digits, every anomaly trapped so it surfaces as an error.
DECIMAL = decimal.Context(
    prec=28,
    rounding=decimal.ROUND_HALF_EVEN,
    Emax=999_999,
    Emin=-999_999,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)


def coerce(value: object) -> object:
    """A scope value in expression form: ints and floats become Decimal, dates ISO text."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueProblem(f"{value} is not a number an expression can use")
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return coerce(Decimal(repr(value)))
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return value


def type_name(value: object) -> str:
    """How a flow author would call the kind of `value`, for error messages."""
    if isinstance(value, bool):
        return "true/false"
    if value is None:
        return "null"
    if isinstance(value, Decimal | int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, Mapping):
        return "a record"
    if isinstance(value, list | tuple):
        return "a list"
    return "an unsupported value"


def truthy(value: object) -> bool:
    """Whether `value` counts as true: null, false, 0, empty text/list/record do not."""
    value = coerce(value)
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, Decimal):
        return not value.is_zero()
    if isinstance(value, str | list | tuple | Mapping):
        return len(value) > 0
    return True


def need_number(value: object, what: str) -> Decimal:
    if isinstance(value, Decimal):
        return value
    raise ValueProblem(f"{what} needs a number, got {type_name(value)}")


def need_text(value: object, what: str) -> str:
    if isinstance(value, str):
        return value
    raise ValueProblem(f"{what} needs text, got {type_name(value)}")


def need_whole(value: object, what: str, low: int = -MAX_TEXT, high: int = MAX_TEXT) -> int:
    """A whole number within [low, high], as an int (for positions, widths, places)."""
    number = need_number(value, what)
    if number != number.to_integral_value():
        raise ValueProblem(f"{what} needs a whole number, got {number}")
    if not low <= number <= high:
        raise ValueProblem(f"{what} needs a number from {low} to {high}, got {number}")
    return int(number)


def need_list(value: object, what: str) -> Sequence[object]:
    if isinstance(value, list | tuple):
        return value
    raise ValueProblem(f"{what} needs a list, got {type_name(value)}")


def bounded(value: object) -> object:
    """`value` unchanged, unless it is text or a list larger than an expression may build."""
    if isinstance(value, str) and len(value) > MAX_TEXT:
        raise ValueProblem(f"text longer than {MAX_TEXT:,} characters")
    if isinstance(value, list | tuple) and len(value) > MAX_ITEMS:
        raise ValueProblem(f"list longer than {MAX_ITEMS:,} items")
    return value


def plain_number(number: Decimal) -> str:
    """A Decimal written out without exponent: `12.50`, `-3`, `100`."""
    if abs(number.adjusted()) > MAX_NUMBER_DIGITS:
        return str(number)
    return format(number, "f")


def to_text(value: object) -> str:
    """The text form used by `str()`, `concat()` and a template part without formatter."""
    value = coerce(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return plain_number(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return bounded_join(", ", value)
    if isinstance(value, Mapping):
        return bounded_join(", ", (f"{k}: {to_text(v)}" for k, v in value.items()))
    raise ValueProblem(f"cannot turn {type_name(value)} into text")


def bounded_join(separator: str, items: Iterable[object]) -> str:
    """Join items as text, stopping with a `ValueProblem` once the result grows too large."""
    out: list[str] = []
    size = 0
    for item in items:
        text = item if isinstance(item, str) else to_text(item)
        size += len(text) + len(separator)
        if size > MAX_TEXT + len(separator):
            raise ValueProblem(f"text longer than {MAX_TEXT:,} characters")
        out.append(text)
    return separator.join(out)


def parse_number(text: str) -> Decimal:
    """Digits with optional sign, decimal point and thousands commas, as a Decimal."""
    cleaned = text.strip().replace(",", "")
    if not _NUMBER.fullmatch(cleaned):
        raise ValueProblem(f"{text[:40]!r} is not a number")
    return Decimal(cleaned)


_NUMBER = re.compile(r"[+-]?[0-9]{1,40}(\.[0-9]{1,40})?")
