"""A data operation's answer is checked before a flow reads it: malformed data is an
`OperationError` (the lookup's on_error), not a failure later in a prompt or a record."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from adapters_support import op
from hypothesis import given
from hypothesis import strategies as st

from ivr.adapters.data.answers import MAX_VALUE_TEXT, check_answer
from ivr.adapters.storage.codec import decode_detail, encode_detail, storable_text
from ivr.runtime.ports import OperationError


def _nested(levels: int) -> object:
    value: object = 1
    for _ in range(levels):
        value = [value]
    return value


ACCOUNT = replace(op("account", "python"), returns=("name", "balance"))


@pytest.mark.parametrize(
    "answer",
    [{"name": "Li Na", "balance": Decimal("1000.00")}, None, [{"name": "a"}, {"name": "b"}], {"name": None}],
)
def test_records_lists_of_records_and_nothing_pass_unchanged(answer: object) -> None:
    assert check_answer(ACCOUNT, answer) is answer


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        ("garbage", "answered a str, not a record"),
        (42, "answered a int, not a record"),
        (["Li Na", "1000"], "answered a list, not a record"),
        ({"name": "\ud800"}, "not valid Unicode"),
        ({"name": "x" * (MAX_VALUE_TEXT + 1)}, "characters \\(at most"),
        ({"balance": float("nan")}, "not finite"),
        ({"deep": _nested(25)}, "nested deeper"),
        ({"many": list(range(20_000))}, "more than 10,000 values"),
    ],
)
def test_malformed_answers_are_operation_errors_that_say_why(answer: object, says: str) -> None:
    with pytest.raises(OperationError, match=says):
        check_answer(ACCOUNT, answer)


def test_an_operation_without_returns_may_answer_a_plain_value() -> None:
    assert check_answer(op("count", "python"), 3) == 3


@given(st.text())
def test_any_text_from_the_wire_can_be_stored_in_a_record(text: str) -> None:
    storable_text(text).encode("utf-8")  # raises if SQLite could not take it
    detail = decode_detail(encode_detail({"caller": text}))
    assert detail == {"caller": text}  # JSON escapes keep even a lone surrogate
