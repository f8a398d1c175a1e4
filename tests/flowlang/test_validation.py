"""The JSON Schemas: both copies match the generator, they are valid draft-07, and schema
errors become friendly FL1xx diagnostics at the right place (code, message, hint pinned)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import jsonschema  # type: ignore[import-untyped]
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivr.flowlang.diagnostics import Diagnostic
from ivr.flowlang.ir import NODE_KINDS
from ivr.flowlang.project import load_flow_text
from ivr.flowlang.schemas import HERE, generated
from ivr.flowlang.validation import (
    _fast_validators,
    _is_valid,
    _node_validators,
    flow_schema_errors,
    jsonable,
)
from ivr.flowlang.yamlsource import load_yaml_bytes

REPO = Path(__file__).parents[2]


@pytest.mark.parametrize("name", ["flow.schema.json", "service.schema.json", "hosting.schema.json"])
def test_both_copies_are_what_the_generator_writes(name: str) -> None:
    expected = generated()[name]
    assert (HERE / name).read_text(encoding="utf-8") == expected, "run: python -m ivr.flowlang.schemas"
    assert (REPO / "schema" / name).read_text(encoding="utf-8") == expected, (
        "run: python -m ivr.flowlang.schemas"
    )


@pytest.mark.parametrize("name", ["flow.schema.json", "service.schema.json", "hosting.schema.json"])
def test_schemas_are_valid_draft_07(name: str) -> None:
    jsonschema.Draft7Validator.check_schema(json.loads(generated()[name]))


def test_every_node_kind_has_a_definition() -> None:
    definitions = json.loads(generated()["flow.schema.json"])["definitions"]
    assert {k for k in NODE_KINDS if f"node_{k}" in definitions} == set(NODE_KINDS)


def diagnose(node: str) -> list[Diagnostic]:
    text = "flow: t\nlanguages: [en]\nstart: a\nnodes:\n  a:\n" + textwrap.indent(
        textwrap.dedent(node), "    "
    )
    text += "  z: {type: hangup}\n"
    _, found = load_flow_text(text, "t.yaml")
    return [d for d in found if d.code.startswith("FL1")]


def one(node: str) -> tuple[str, str, str | None, int, int]:
    [d] = diagnose(node)
    return d.code, d.message, d.hint, d.span.line, d.span.col


def test_yaml11_boolean_is_explained() -> None:
    assert one("type: say\nprompt: Hi\nbarge_in: no\nnext: z\n") == (
        "FL103",
        "`barge_in` expects true or false, got the text 'no'",
        "YAML 1.1 'no' is text here; write false",
        8,
        15,
    )


def test_unknown_field_suggests_the_closest() -> None:
    assert one("type: say\nprompt: Hi\nnxt: z\nnext: z\n") == (
        "FL102",
        "node 'a' (say) has an unknown field 'nxt'",
        "did you mean 'next'?",
        8,
        5,
    )


def test_unknown_field_of_another_kind_says_where_it_belongs() -> None:
    code, _, hint, _, _ = one("type: say\nprompt: Hi\noptions: {1: z}\nnext: z\n")
    assert code == "FL102"
    assert hint is not None and hint.startswith("`options` belongs to menu nodes")


def test_missing_required_field() -> None:
    assert one("type: collect\nprompt: Hi\nnext: z\n")[:2] == (
        "FL101",
        "node 'a' (collect) needs the field `into`",
    )


def test_a_send_that_waits_needs_on_pending() -> None:
    assert one("type: send\nchannel: sms\nto: \"'1'\"\nmessage: Hi\nwait: 10s\nnext: z\n")[:3] == (
        "FL101",
        "node 'a' (send) needs the field `on_pending`",
        "a send that waits needs `on_pending: <node>` for when no answer came in time",
    )


def test_on_pending_without_wait_is_reported() -> None:
    code, message, _, _, _ = one(
        "type: send\nchannel: sms\nto: \"'1'\"\nmessage: Hi\non_pending: z\nnext: z\n"
    )
    assert (code, message) == ("FL101", "node 'a' (send) needs the field `wait`")


def test_unknown_node_type() -> None:
    assert one("type: menuu\n")[:3] == (
        "FL106",
        "node 'a' has an unknown type 'menuu'",
        "did you mean 'menu'?",
    )


def test_bad_duration() -> None:
    assert one("type: menu\nprompt: Hi\noptions: {1: z}\ntimeout: 5 sec\n")[:3] == (
        "FL104",
        "`timeout` expects a duration, got the text '5 sec'",
        "write 5s, 500ms, 2m or a plain number of seconds",
    )


def test_hash_starts_a_comment() -> None:
    code, message, hint, _, _ = one("type: collect\nprompt: Hi\ninto: x\nterminator: #\nnext: z\n")
    assert (code, message) == ("FL105", "`terminator` expects a telephone key, got nothing (an empty value)")
    assert hint is not None and '"#"' in hint


def test_bad_menu_key() -> None:
    assert one("type: menu\nprompt: Hi\noptions: {10: z}\n")[:2] == ("FL105", "'10' is not a telephone key")


def test_bad_enum_value_suggests() -> None:
    assert one("type: transfer\nto: \"'1'\"\nmode: bridged\n")[:3] == (
        "FL108",
        "`mode` cannot be the text 'bridged'",
        "did you mean 'bridge'?",
    )


def test_comma_in_flow_mapping_text_is_explained() -> None:
    code, _, hint, _, _ = one("type: say\nprompt: {en: Sorry, try again}\nnext: z\n")
    assert code == "FL103"
    assert hint is not None and "put the text in quotes" in hint


def test_every_problem_is_reported_not_only_the_first() -> None:
    found = diagnose(
        "type: menu\nprompt: Hi\noptions: {1: z}\ntimeout: soon\nbarge_in: off\nmax_retries: -1\n"
    )
    assert sorted(d.code for d in found) == ["FL103", "FL104", "FL110"]


def _full_errors(data: object) -> set[tuple[tuple[object, ...], str]]:
    validator = jsonschema.Draft7Validator(json.loads(generated()["flow.schema.json"]))
    return {(tuple(e.absolute_path), e.message) for e in validator.iter_errors(jsonable(data))}


CORPUS = [p for p in sorted((REPO / "tests" / "conformance").rglob("*.yaml")) if p.is_file()]


@pytest.mark.parametrize("case", CORPUS, ids=lambda p: p.stem)
def test_node_by_node_validation_matches_the_published_schema(case: Path) -> None:
    data = load_yaml_bytes(case.read_bytes(), str(case)).data
    if not isinstance(data, dict) or "flow" not in data:
        return
    fast = {((*prefix, *e.absolute_path), e.message) for e, prefix in flow_schema_errors(data)}
    assert fast == _full_errors(data)


_ALL_FIELDS = {
    name
    for kind in NODE_KINDS
    for name in json.loads(generated()["flow.schema.json"])["definitions"][f"node_{kind}"].get(
        "properties", {}
    )
} - {"type"}  # the kind picks the validator; a wrong kind is tested elsewhere


def _corpus_nodes() -> list[dict[str, object]]:
    found = []
    for case in CORPUS:
        data = jsonable(load_yaml_bytes(case.read_bytes(), str(case)).data)
        nodes = data.get("nodes") if isinstance(data, dict) else None
        if isinstance(nodes, dict):
            found += [n for n in nodes.values() if isinstance(n, dict) and n.get("type") in NODE_KINDS]
    return found


NODE_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 30),
    st.sampled_from(["5s", "soon", "#", "1", "x y", "next_node", "", "no", "12*", "zh"]),
    st.lists(st.sampled_from(["a", "1"]), max_size=2),
    st.dictionaries(
        st.sampled_from(["zh", "en", "1", "if", "next"]), st.sampled_from(["a", "b c"]), max_size=2
    ),
)


@given(st.sampled_from(_corpus_nodes()), st.sampled_from(sorted(_ALL_FIELDS)), NODE_VALUES)
def test_fast_validity_agrees_with_jsonschema(node: dict[str, object], field: str, value: object) -> None:
    """The compiled fast path may only skip jsonschema when jsonschema finds nothing."""
    mutated = {**node, field: value}
    kind = mutated["type"]
    _, kinds = _node_validators()
    _, fast = _fast_validators()
    assert _is_valid(fast[kind], mutated) == (not list(kinds[kind].iter_errors(mutated)))


def test_a_comma_inside_prompt_text_names_the_quoted_text() -> None:
    from ivr.flowlang.project import load_flow_text

    text = "flow: f\nlanguages: [zh, en]\nstart: a\nnodes:\n"
    text += "  a: {type: hangup, prompt: {zh: 你好, en: Hello, world}}\n"
    _, found = load_flow_text(text, "f.yaml")
    [d] = [d for d in found if d.code == "FL103"]
    assert 'en: "Hello, world"' in (d.hint or "")


def test_numbers_in_words_get_their_digits() -> None:
    from ivr.flowlang.project import load_flow_text

    text = (
        "flow: f\nlanguages: [en]\nvariables: {c: {type: string}}\nstart: a\nnodes:\n"
        "  a: {type: collect, prompt: Code, into: c, max_length: six, next: b}\n"
        "  b: {type: hangup, prompt: '{c}'}\n"
    )
    _, found = load_flow_text(text, "f.yaml")
    [d] = [d for d in found if d.code == "FL103"]
    assert d.hint == "write the number in digits: 6"


def test_a_value_in_other_case_is_suggested() -> None:
    from ivr.flowlang.diagnostics import did_you_mean

    assert did_you_mean("BLIND", ["bridge", "blind"]) == "did you mean 'blind'?"
