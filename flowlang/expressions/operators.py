"""What the operators mean on values: arithmetic, equality, ordering and membership.

Shared by evaluator.py (for `+ - * / %`, comparisons, `in`) and functions.py (`contains`).
Equality is strict about kinds: `true == 1` is false, `'1' == 1` is false; ordering two
values of different kinds is an error rather than a guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from ivr.flowlang.expressions.errors import ValueProblem
from ivr.flowlang.expressions.values import DECIMAL, MAX_ITEMS, MAX_TEXT, coerce, type_name


def arithmetic(op: str, left: object, right: object) -> object:
    """`left op right` for `+ - * / %`; `+` also joins two texts or two lists."""
    if op == "+" and isinstance(left, str) and isinstance(right, str):
        if len(left) + len(right) > MAX_TEXT:
            raise ValueProblem(f"text longer than {MAX_TEXT:,} characters")
        return left + right
    if op == "+" and isinstance(left, list | tuple) and isinstance(right, list | tuple):
        if len(left) + len(right) > MAX_ITEMS:
            raise ValueProblem(f"list longer than {MAX_ITEMS:,} items")
        return (*left, *right)
    if not (isinstance(left, Decimal) and isinstance(right, Decimal)):
        kinds = f"{type_name(left)} and {type_name(right)}"
        if op == "+" and str in (type(left), type(right)):
            raise ValueProblem(f"'+' cannot join {kinds}; use str(x) or concat(a, b) to make text")
        raise ValueProblem(f"'{op}' needs two numbers, got {kinds}")
    if op in "/%" and right.is_zero():
        raise ValueProblem("division by zero")
    match op:
        case "+":
            return DECIMAL.add(left, right)
        case "-":
            return DECIMAL.subtract(left, right)
        case "*":
            return DECIMAL.multiply(left, right)
        case "/":
            return DECIMAL.divide(left, right)
        case "%":
            return DECIMAL.remainder(left, right)
    raise ValueProblem(f"unknown operator '{op}'")


def compare(op: str, left: object, right: object) -> bool:
    """`left op right` for `== != < <= > >=`."""
    if op == "==":
        return equal(left, right)
    if op == "!=":
        return not equal(left, right)
    order = _order(left, right)
    if order is None:
        raise ValueProblem(f"cannot compare {type_name(left)} with {type_name(right)} using '{op}'")
    match op:
        case "<":
            return order < 0
        case "<=":
            return order <= 0
        case ">":
            return order > 0
        case ">=":
            return order >= 0
    raise ValueProblem(f"unknown comparison '{op}'")


def _order(left: object, right: object) -> int | None:
    """-1, 0 or 1 for two numbers or two texts; None when they cannot be ordered."""
    if isinstance(left, Decimal) and isinstance(right, Decimal):
        return (left > right) - (left < right)
    if isinstance(left, str) and isinstance(right, str):
        return (left > right) - (left < right)
    return None


def equal(left: object, right: object) -> bool:
    """Equality that never mixes kinds: a number equals only a number, text only text."""
    left, right = coerce(left), coerce(right)
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, Decimal) and isinstance(right, Decimal):
        return left == right
    if isinstance(left, str) and isinstance(right, str):
        return left == right
    if isinstance(left, list | tuple) and isinstance(right, list | tuple):
        return len(left) == len(right) and all(equal(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        return left.keys() == right.keys() and all(equal(left[k], right[k]) for k in left)
    return left is None and right is None


def contains(item: object, container: object) -> bool:
    """`item in container`: a part of text, an item of a list, or a field name of a record."""
    if isinstance(container, str):
        if not isinstance(item, str):
            raise ValueProblem(f"'in' on text needs text to look for, got {type_name(item)}")
        return item in container
    if isinstance(container, list | tuple):
        return any(equal(item, element) for element in container)
    if isinstance(container, Mapping):
        return isinstance(item, str) and item in container
    raise ValueProblem(f"'in' needs text, a list or a record on the right, got {type_name(container)}")
