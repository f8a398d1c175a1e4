"""What a data operation may answer: checked before a flow reads it.

Place: `ServiceOperations.invoke` passes every answer through `check_answer`. A back end
that answers something a call cannot use is a failing back end: the lookup takes its
`on_error` edge (an `OperationError`), instead of the call failing later in a prompt or a
record write. Malformed means: not a record (or a list of records) when the operation
declares `returns`; text that is not valid Unicode (a lone surrogate cannot be spoken or
stored) or longer than `MAX_VALUE_TEXT`; a number that is not finite; more than
`MAX_VALUE_ITEMS` values or `MAX_VALUE_DEPTH` levels of nesting in all.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from ivr.flowlang.ir import OperationDecl
from ivr.runtime.ports import OperationError

MAX_VALUE_TEXT = 10_000  # characters in one text value: far more than any prompt says
MAX_VALUE_ITEMS = 10_000
MAX_VALUE_DEPTH = 20


def check_answer(decl: OperationDecl, answer: object) -> object:
    """`answer` unchanged, or `OperationError` saying what is wrong with it."""
    if decl.returns and not _records(answer):
        raise OperationError(
            f"operation {decl.name!r} answered {_kind(answer)}, not a record with {list(decl.returns)}"
        )
    problem = _problem(answer, depth=0, budget=[MAX_VALUE_ITEMS])
    if problem:
        raise OperationError(f"operation {decl.name!r} answered malformed data: {problem}")
    return answer


def _records(answer: object) -> bool:
    """A record, a list of records, or nothing (a look-up that found none)."""
    if answer is None or isinstance(answer, Mapping):
        return True
    return isinstance(answer, list | tuple) and all(isinstance(a, Mapping) for a in answer)


def _problem(value: object, *, depth: int, budget: list[int]) -> str | None:
    budget[0] -= 1
    if budget[0] < 0:
        return f"more than {MAX_VALUE_ITEMS:,} values"
    if depth > MAX_VALUE_DEPTH:
        return f"nested deeper than {MAX_VALUE_DEPTH} levels"
    if isinstance(value, str):
        return _text_problem(value)
    if isinstance(value, float) and not math.isfinite(value):
        return f"the number {value} is not finite"
    children: Sequence[object] = ()
    if isinstance(value, Mapping):
        children = [*value.keys(), *value.values()]
    elif isinstance(value, list | tuple):
        children = value
    for child in children:
        problem = _problem(child, depth=depth + 1, budget=budget)
        if problem:
            return problem
    return None


def _text_problem(text: str) -> str | None:
    if len(text) > MAX_VALUE_TEXT:
        return f"a text of {len(text):,} characters (at most {MAX_VALUE_TEXT:,})"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "a text that is not valid Unicode"
    return None


def _kind(answer: object) -> str:
    return "nothing" if answer is None else f"a {type(answer).__name__}"
