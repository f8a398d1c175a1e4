"""The allow-list of functions an expression may call, with their arity and documentation.

Read by evaluator.py (to run a call) and checks.py (unknown function FL203, arity FL204).
Implementations take plain values and raise `ValueProblem` for a wrong kind of value; the
evaluator adds the call's span. Nothing here can reach Python objects beyond the values given.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from types import MappingProxyType

from ivr.flowlang.expressions.errors import ValueProblem
from ivr.flowlang.expressions.operators import contains
from ivr.flowlang.expressions.values import (
    DECIMAL,
    bounded,
    bounded_join,
    need_list,
    need_number,
    need_text,
    need_whole,
    parse_number,
    to_text,
    type_name,
)

VARIADIC = 50  # max_args of functions such as min() and concat()


@dataclass(frozen=True)
class FunctionSpec:
    """One allow-listed function. `impl` gets the evaluated arguments (and `now=` if it uses_clock)."""

    name: str
    min_args: int
    max_args: int
    doc: str
    impl: Callable[..., object]
    uses_clock: bool = False

    def arity_text(self) -> str:
        """'1 argument', '1 or 2 arguments', 'at least 1 argument', for messages."""
        plural = "" if self.max_args == 1 else "s"
        if self.max_args >= VARIADIC:
            return f"at least {self.min_args} argument{'' if self.min_args == 1 else 's'}"
        if self.min_args == self.max_args:
            return f"{self.min_args} argument{plural}"
        if self.max_args == self.min_args + 1:
            return f"{self.min_args} or {self.max_args} arguments"
        return f"{self.min_args} to {self.max_args} arguments"


def _len(value: object) -> object:
    if isinstance(value, str | list | tuple | Mapping):
        return Decimal(len(value))
    raise ValueProblem(f"len() needs text, a list or a record, got {type_name(value)}")


# An optional argument left out, as opposed to one given as null: `round(x, null)` is an
# error at run time as the type checker says (FL208), not `round(x)` (found by hypothesis).
_ABSENT = object()


def _substr(text: object, start: object, length: object = _ABSENT) -> object:
    s = need_text(text, "substr()")
    begin = need_whole(start, "substr() start")
    begin = max(len(s) + begin, 0) if begin < 0 else begin
    if length is _ABSENT:
        return s[begin:]
    return s[begin : begin + need_whole(length, "substr() length", 0)]


def _contains(container: object, item: object) -> object:
    return contains(item, container)


def _round(value: object, places: object = _ABSENT) -> object:
    digits = 0 if places is _ABSENT else need_whole(places, "round() places", 0, 20)
    exponent = Decimal(1).scaleb(-digits)
    return need_number(value, "round()").quantize(exponent, rounding=ROUND_HALF_UP, context=DECIMAL)


def _int(value: object) -> object:
    number = parse_number(value) if isinstance(value, str) else need_number(value, "int()")
    return number.to_integral_value(rounding=ROUND_DOWN, context=DECIMAL)


def _number(value: object) -> object:
    if isinstance(value, Decimal):
        return value
    return parse_number(need_text(value, "number()"))


def _extreme(pick: Callable[..., object], name: str, *values: object) -> object:
    items = need_list(values[0], f"{name}()") if len(values) == 1 else values
    if not items:
        raise ValueProblem(f"{name}() of an empty list")
    if all(isinstance(v, Decimal) for v in items) or all(isinstance(v, str) for v in items):
        return pick(items)
    kinds = ", ".join(sorted({type_name(v) for v in items}))
    raise ValueProblem(f"{name}() needs all numbers or all text, got {kinds}")


def _pad(text: object, width: object, fill: object = "0") -> object:
    s = text if isinstance(text, str) else to_text(text)
    filler = need_text(fill, "pad() fill")
    if len(filler) != 1:
        raise ValueProblem("pad() fill must be one character")
    return s.rjust(need_whole(width, "pad() width", 0, 1000), filler)


def _join(items: object, separator: object = "") -> object:
    return bounded_join(need_text(separator, "join() separator"), need_list(items, "join()"))


def _default(value: object, fallback: object) -> object:
    return fallback if value is None else value


def _is_digits(value: object) -> object:
    return isinstance(value, str) and value.isascii() and value.isdigit()


def _now(*, now: dt.datetime) -> object:
    return now.replace(microsecond=0, tzinfo=None).isoformat()


def _text_fn(name: str, method: Callable[[str], str]) -> Callable[[object], object]:
    return lambda value: method(need_text(value, f"{name}()"))


def _text_test(name: str, method: Callable[[str, str], bool]) -> Callable[[object, object], object]:
    return lambda text, part: method(need_text(text, f"{name}()"), need_text(part, f"{name}()"))


_SPECS = [
    FunctionSpec("len", 1, 1, "number of characters, items or fields", _len),
    FunctionSpec("upper", 1, 1, "text in upper case", _text_fn("upper", str.upper)),
    FunctionSpec("lower", 1, 1, "text in lower case", _text_fn("lower", str.lower)),
    FunctionSpec("trim", 1, 1, "text without surrounding spaces", _text_fn("trim", str.strip)),
    FunctionSpec(
        "substr", 2, 3, "substr(s, start[, length]); start counts from 0, negative from the end", _substr
    ),
    FunctionSpec(
        "startswith", 2, 2, "whether text starts with a prefix", _text_test("startswith", str.startswith)
    ),
    FunctionSpec("endswith", 2, 2, "whether text ends with a suffix", _text_test("endswith", str.endswith)),
    FunctionSpec("contains", 2, 2, "contains(container, item): same as `item in container`", _contains),
    FunctionSpec("round", 1, 2, "round(x[, places]), halves away from zero", _round),
    FunctionSpec("abs", 1, 1, "absolute value", lambda x: abs(need_number(x, "abs()"))),
    FunctionSpec(
        "min", 1, VARIADIC, "smallest of the arguments, or of one list", lambda *v: _extreme(min, "min", *v)
    ),
    FunctionSpec(
        "max", 1, VARIADIC, "largest of the arguments, or of one list", lambda *v: _extreme(max, "max", *v)
    ),
    FunctionSpec("int", 1, 1, "whole part of a number (or numeric text), towards zero", _int),
    FunctionSpec("number", 1, 1, "text such as '12.50' as a number; other text is an error", _number),
    FunctionSpec("str", 1, 1, "a value as text", to_text),
    FunctionSpec("is_digits", 1, 1, "whether a value is non-empty text of digits 0-9 only", _is_digits),
    FunctionSpec("pad", 2, 3, "pad(s, width[, fill]): left-pad to width with '0' (or fill)", _pad),
    FunctionSpec("now", 0, 0, "current date and time as 'YYYY-MM-DDTHH:MM:SS'", _now, uses_clock=True),
    FunctionSpec(
        "today", 0, 0, "current date as 'YYYY-MM-DD'", lambda *, now: now.date().isoformat(), uses_clock=True
    ),
    FunctionSpec(
        "clock", 0, 0, "current time as 'HH:MM'", lambda *, now: now.strftime("%H:%M"), uses_clock=True
    ),
    FunctionSpec(
        "weekday",
        0,
        0,
        "day of the week, Monday 1 to Sunday 7",
        lambda *, now: Decimal(now.isoweekday()),
        uses_clock=True,
    ),
    FunctionSpec("concat", 0, VARIADIC, "all arguments as text, joined", lambda *v: bounded_join("", v)),
    FunctionSpec("join", 1, 2, "join(list[, separator]): items as text, joined", _join),
    FunctionSpec("default", 2, 2, "default(x, fallback): fallback when x is null or missing", _default),
]

FUNCTIONS: Mapping[str, FunctionSpec] = MappingProxyType({spec.name: spec for spec in _SPECS})


def call_function(spec: FunctionSpec, args: tuple[object, ...], now: dt.datetime) -> object:
    """Run one allow-listed function; the result is bounded in size."""
    result = spec.impl(*args, now=now) if spec.uses_clock else spec.impl(*args)
    return bounded(result)
