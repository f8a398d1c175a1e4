"""One error per mistake: what follows from a mistake already reported is not reported again,
and suggestions follow the meaning of a word, not only its spelling."""

from __future__ import annotations

import textwrap

import pytest

from ivr.flowlang.diagnostics import Diagnostic, Severity, Span
from ivr.flowlang.followons import suppress_follow_ons
from ivr.flowlang.project import load_flow_text
from ivr.flowlang.suggestions import field_hint, label_hint, node_type_hint, target_hint

HEAD = "flow: t\nlanguages: [en]\n"


def check(body: str) -> list[tuple[str, int]]:
    _, found = load_flow_text(HEAD + textwrap.dedent(body), "t.yaml")
    return [(d.code, d.span.line) for d in found]


def test_a_broken_condition_does_not_make_its_target_unreachable() -> None:
    found = check(
        """\
        variables: {tries: {type: number, initial: 0}}
        start: route
        nodes:
          route:
            type: branch
            cases:
              - if: tries ==
                next: again
            else: bye
          again: {type: say, prompt: Again, next: bye}
          bye: {type: hangup}
        """
    )
    assert found == [("FL201", 9)]


def test_a_tag_for_not_is_one_error() -> None:
    found = check(
        """\
        variables: {ok: {type: boolean, initial: false}}
        start: route
        nodes:
          route:
            type: branch
            cases:
              - if: !ok
                next: yes_node
            else: bye
          yes_node: {type: say, prompt: Yes, next: bye}
          bye: {type: hangup}
        """
    )
    assert found == [("FL010", 9)]


def test_a_misnamed_edge_is_not_also_a_dead_end_nor_its_target_unreachable() -> None:
    found = check(
        """\
        start: hello
        nodes:
          hello: {type: say, prompt: Hi, nxt: bye}
          bye: {type: hangup}
        """
    )
    assert found == [("FL102", 5)]


def test_an_edge_to_a_misspelt_node_does_not_make_the_meant_node_unreachable() -> None:
    found = check(
        """\
        start: hello
        nodes:
          hello: {type: say, prompt: Hi, next: goodby}
          goodbye: {type: hangup}
        """
    )
    assert found == [("FL301", 5)]


def test_a_misspelt_read_does_not_make_the_variable_unused() -> None:
    found = check(
        """\
        variables: {quote: {type: map}}
        start: hello
        nodes:
          hello: {type: say, prompt: "{qoute.name}", next: bye}
          bye: {type: hangup}
        """
    )
    assert found == [("FL206", 6)]


def test_a_list_of_nodes_is_one_error() -> None:
    found = check(
        """\
        start: hello
        nodes:
          - hello: {type: hangup}
        """
    )
    assert found == [("FL103", 5)]


def test_a_later_stage_error_on_the_same_character_is_dropped() -> None:
    span = Span("f.yaml", 3, 5)
    yaml_error = Diagnostic("FL011", Severity.ERROR, "full-width colon", span, yaml_path=("a",))
    schema = Diagnostic("FL103", Severity.ERROR, "wrong type", span, yaml_path=("a",))
    elsewhere = Diagnostic("FL206", Severity.ERROR, "undeclared", Span("f.yaml", 4, 1))
    under = Diagnostic("FL201", Severity.ERROR, "syntax", Span("f.yaml", 3, 9), yaml_path=("a", "b"))
    assert suppress_follow_ons([schema, yaml_error, elsewhere, under]) == [yaml_error, elsewhere]


@pytest.mark.parametrize(
    ("name", "kind", "allowed", "hint"),
    [
        ("on_no_match", "collect", ["on_invalid", "next"], "in a collect node this is `on_invalid`"),
        ("on_invalid", "menu", ["on_no_match", "options"], "in a menu node this is `on_no_match`"),
        ("timeout", "collect", ["first_digit_timeout"], "in a collect node this is `first_digit_timeout`"),
        ("on_error", "transfer", ["on_failed"], "in a transfer node this is `on_failed`"),
        ("terminator", "record", ["stop_key"], "in a record node this is `stop_key`"),
        ("message", "say", ["prompt"], "in a say node this is `prompt`"),
        ("inputs", "lookup", ["args"], "in a lookup node this is `args`"),
        ("options", "confirm", ["confirm_key"], "a confirm has three keys"),
        ("goto", "say", ["next", "prompt"], "did you mean `next`?"),
        ("otherwise", "branch", ["cases", "else"], "did you mean `else`?"),
        ("nxt", "say", ["next", "prompt"], "did you mean 'next'?"),
    ],
)
def test_a_field_of_another_kind_suggests_the_field_with_the_same_meaning(
    name: str, kind: str, allowed: list[str], hint: str
) -> None:
    assert hint in (field_hint(name, kind, allowed) or "")


def test_node_types_from_other_tools_suggest_the_kind() -> None:
    kinds = ["say", "collect", "transfer", "hangup", "branch"]
    assert node_type_hint("gather", kinds) == "did you mean 'collect'?"
    assert node_type_hint("dial", kinds) == "did you mean 'transfer'?"
    assert node_type_hint("sayy", kinds) == "did you mean 'say'?"


def test_edges_by_meaning_name_the_node_that_does_it() -> None:
    nodes = {"welcome": "say", "goodbye": "hangup", "queue_vip": "enqueue", "main_menu": "menu"}
    assert target_hint("end", nodes) == "the hangup node of this flow is 'goodbye'"
    assert target_hint("agent", nodes) == "the enqueue node of this flow is 'queue_vip'"
    assert target_hint("welcom", nodes) == "did you mean 'welcome'?"
    assert target_hint("nowhere", nodes) is None


def test_outcomes_by_meaning() -> None:
    assert label_hint("success", ["ok", "locked"]) == "did you mean 'ok'? (it means the same)"
    assert label_hint("lockd", ["ok", "locked"]) == "did you mean 'locked'?"
