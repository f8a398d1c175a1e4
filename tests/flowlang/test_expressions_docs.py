"""Every example in docs/expressions.md is true: expressions, templates and error messages."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import yaml

from ivr.flowlang.diagnostics import Span
from ivr.flowlang.expressions import (
    EvaluationError,
    ExpressionError,
    evaluate,
    parse_expression,
    parse_template,
    render_template,
)
from ivr.flowlang.expressions.operators import equal
from ivr.flowlang.expressions.typecheck import Scope, check_types
from ivr.flowlang.expressions.types import CALL, declared

DOC = Path(__file__).parents[2] / "docs" / "expressions.md"
CLOCK = dt.datetime(2026, 11, 27, 14, 5)
ORIGIN = Span("docs/expressions.md", 1, 1)


def _blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def _examples() -> list[str]:
    return [line for block in _blocks("text") for line in block.splitlines() if " => " in line]


SCOPE = yaml.safe_load(_blocks("yaml")[0])


def _run(source: str) -> object:
    if source[:4] in ("zh: ", "en: "):
        template = parse_template(source[4:], ORIGIN)
        return render_template(template, SCOPE, language=source[:2], now=CLOCK)
    return evaluate(parse_expression(source, ORIGIN), SCOPE, now=CLOCK)


def test_docs_have_examples() -> None:
    assert len(_examples()) > 50


@pytest.mark.parametrize("line", _examples())
def test_doc_example_holds(line: str) -> None:
    source, expected = line.split(" => ", 1)
    if expected.startswith("error: "):
        with pytest.raises((ExpressionError, EvaluationError)) as info:
            _run(source)
        assert info.value.message.startswith(expected.removeprefix("error: "))
        return
    result = _run(source)
    if source[:4] in ("zh: ", "en: "):
        assert result == expected
    else:
        wanted = evaluate(parse_expression(expected, ORIGIN), {})
        assert equal(result, wanted), f"{source} gave {result!r}"


def _type_examples() -> list[str]:
    return [line for block in _blocks("types") for line in block.splitlines() if " => " in line]


TYPE_DECLARATIONS = yaml.safe_load(_blocks("yaml")[1])
TYPE_SCOPE = Scope({name: declared(d["type"]) for name, d in TYPE_DECLARATIONS.items()} | {"call": CALL})


def test_docs_have_type_examples() -> None:
    assert len(_type_examples()) >= 10


@pytest.mark.parametrize("line", _type_examples())
def test_doc_type_example_holds(line: str) -> None:
    source, expected = line.split(" => ", 1)
    _, found = check_types(parse_expression(source, ORIGIN), TYPE_SCOPE)
    if expected == "ok":
        assert found == []
        return
    wanted, _, hint = expected.partition("; hint: ")
    code, message = wanted.split(" ", 1)
    [d] = found
    assert (d.code, d.message[: len(message)]) == (code, message)
    assert hint in (d.hint or "")
