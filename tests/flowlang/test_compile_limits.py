"""Compiling is bounded: the expression and template text one document makes the parser
read is limited (FL013), since parsing costs some thirty times what reading YAML does.
Found by fuzzing: a 1 MB flow of a hundred 10,000-character expressions took 90 s to check."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.flowlang.compile import reader
from ivr.flowlang.project import load_flow_text, load_project
from ivr.flowlang.validation import MAX_SHAPE_PROBLEMS

HEAD = "flow: f\nlanguages: [en]\nvariables:\n  x: {type: number, initial: 0}\nstart: n0\nnodes:\n"


def branches(conditions: list[str]) -> str:
    lines = []
    for i, condition in enumerate(conditions):
        after = f"n{i + 1}" if i + 1 < len(conditions) else "bye"
        lines += [f"  n{i}:", "    type: branch", "    cases:", f'      - if: "{condition}"']
        lines += [f"        next: {after}", f"    else: {after}"]
    return HEAD + "\n".join(lines) + "\n  bye: {type: hangup}\n"


def test_expression_text_past_the_budget_is_refused_once_where_it_passes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(reader, "MAX_EXPRESSION_TEXT", 500)
    hostile = "[" * 101 + "]" * 101  # 202 characters that do not parse (nested too deeply)
    flow, found = load_flow_text(branches([hostile] * 6), "f.yaml")
    assert flow is not None
    # a text that fails is parsed twice (to place its error) and costs twice: 404 fit, the
    # second passes 500; the rest are left out
    assert [d.code for d in found if d.is_error] == ["FL201", "FL013"]
    [limit] = [d for d in found if d.code == "FL013"]
    assert (limit.span.line, limit.span.col) == (10 + 6 * 1, 13)  # the second node's `if`
    assert "pass 500 characters" in limit.message


def test_a_repeated_text_that_parses_counts_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reader, "MAX_EXPRESSION_TEXT", 250)
    condition = " and ".join(["x > 1"] * 20)  # 190 characters
    _, found = load_flow_text(branches([condition] * 30), "f.yaml")
    assert [d.code for d in found if d.is_error] == []


def test_the_default_budget_leaves_room_for_large_flows() -> None:
    conditions = [f"x > {i} and x < {i + 1000}" for i in range(2000)]  # ~46,000 characters
    _, found = load_flow_text(branches(conditions), "f.yaml")
    assert [d.code for d in found if d.is_error] == []


def test_past_500_shape_problems_the_rest_are_counted_as_one(tmp_path: Path) -> None:
    """Found by fuzzing: a service file of 20,000 unknown keys took 15 s to check, mostly
    looking for a "did you mean" for each key."""
    (tmp_path / "service.yaml").write_text("service: s\n" + "".join(f"k{i}: {i}\n" for i in range(20_000)))
    _, found = load_project([tmp_path / "service.yaml"])
    codes = [d.code for d in found]
    assert codes.count("FL102") == MAX_SHAPE_PROBLEMS and codes.count("FL013") == 1
    [limit] = [d for d in found if d.code == "FL013"]
    assert "more than 500 problems of shape" in limit.message
    assert limit.span.line == MAX_SHAPE_PROBLEMS + 2  # the first key not listed
