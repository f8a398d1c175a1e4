"""The compiler: YAML data to frozen IR, with the documented defaults and value forms."""

from __future__ import annotations

import textwrap
from decimal import Decimal

import pytest

from ivr.flowlang.compile import compile_flow, compile_service, parse_duration
from ivr.flowlang.expressions import Literal
from ivr.flowlang.ir import Collect, Confirm, Flow, Menu, Record, Set, Transfer
from ivr.flowlang.yamlsource import load_yaml


def compile_nodes(nodes: str, languages: str = "[en]") -> Flow:
    text = f"flow: t\nlanguages: {languages}\nstart: a\nnodes:\n"
    text += textwrap.indent(textwrap.dedent(nodes).strip("\n") + "\n", "  ")
    loaded = load_yaml(text, "t.yaml")
    flow, found = compile_flow(loaded.data, loaded.source_map, "t.yaml")
    assert flow is not None and found == [], found
    return flow


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5s", "5"), ("500ms", "0.5"), ("2m", "120"), (3, "3"), (Decimal("1.5"), "1.5"), ("1.5s", "1.5")],
)
def test_durations_are_decimal_seconds(text: object, seconds: str) -> None:
    assert parse_duration(text) == Decimal(seconds)


@pytest.mark.parametrize("text", ["5 sec", "-1", -1, True, None, "5h", ""])
def test_not_durations(text: object) -> None:
    assert parse_duration(text) is None


def test_menu_defaults() -> None:
    menu = compile_nodes("a: {type: menu, prompt: Hi, options: {1: a}}").nodes["a"]
    assert isinstance(menu, Menu)
    assert (menu.timeout, menu.max_retries, menu.barge_in) == (Decimal(5), 2, True)
    assert [(o.key, o.edge.target) for o in menu.options] == [("1", "a")]


def test_collect_defaults() -> None:
    collect = compile_nodes("a: {type: collect, prompt: Hi, into: x}").nodes["a"]
    assert isinstance(collect, Collect)
    assert (collect.min_length, collect.max_length, collect.terminator) == (1, 20, "#")
    assert (collect.first_digit_timeout, collect.inter_digit_timeout, collect.overall_timeout) == (
        Decimal(5),
        Decimal(3),
        None,
    )
    assert (collect.star_decimal, collect.valid, collect.max_retries) == (False, None, 2)


def test_collect_without_terminator() -> None:
    collect = compile_nodes("a: {type: collect, prompt: Hi, into: x, terminator: false}").nodes["a"]
    assert isinstance(collect, Collect) and collect.terminator is None


def test_confirm_offers_only_keys_with_edges() -> None:
    flow = compile_nodes(
        """
        a: {type: confirm, prompt: Ok, next: a}
        b: {type: confirm, prompt: Ok, next: a, on_reenter: a, on_cancel: a, confirm_key: 9}
        """
    )
    a, b = flow.nodes["a"], flow.nodes["b"]
    assert isinstance(a, Confirm) and isinstance(b, Confirm)
    assert (a.confirm_key, a.reenter_key, a.cancel_key, a.timeout) == ("1", None, None, Decimal(5))
    assert (b.confirm_key, b.reenter_key, b.cancel_key) == ("9", "2", "3")


def test_record_and_transfer_defaults() -> None:
    flow = compile_nodes("a: {type: record, into: r}\nb: {type: transfer, to: \"'100'\"}")
    record, transfer = flow.nodes["a"], flow.nodes["b"]
    assert isinstance(record, Record) and isinstance(transfer, Transfer)
    assert (record.max_length, record.beep, record.stop_key) == (Decimal(60), True, "#")
    assert (transfer.mode, transfer.timeout) == ("bridge", Decimal(30))


def test_yaml_numbers_and_booleans_become_literal_expressions() -> None:
    node = compile_nodes("a: {type: set, assign: {n: 0, f: true, d: 1.25, s: \"'x'\"}}").nodes["a"]
    assert isinstance(node, Set)
    values = [a.expr.value if isinstance(a.expr, Literal) else None for a in node.assignments]
    assert values == [Decimal(0), True, Decimal("1.25"), "x"]


def test_expression_spans_point_into_the_yaml() -> None:
    node = compile_nodes('a: {type: set, assign: {n: "n + 1"}}').nodes["a"]
    assert isinstance(node, Set)
    span = node.assignments[0].expr.span
    assert (span.line, span.col) == (5, 31)  # just inside the quote


def test_prompt_forms() -> None:
    flow = compile_nodes(
        "a: {type: say, prompt: {zh: {audio: a.wav, text: 你好}, en: {audio: b.wav}}}", languages="[zh, en]"
    )
    prompt = next(flow.nodes["a"].prompts())
    assert prompt.by_language["zh"].audio == "a.wav" and prompt.by_language["zh"].template is not None
    assert prompt.by_language["en"].audio == "b.wav" and prompt.by_language["en"].template is None


def test_plain_prompt_with_one_language() -> None:
    prompt = next(compile_nodes("a: {type: say, prompt: Hi}").nodes["a"].prompts())
    assert list(prompt.by_language) == ["en"]


def test_branch_edges_are_labelled_by_condition() -> None:
    flow = compile_nodes("a: {type: branch, cases: [{if: 'call.id == 1', next: a}], else: a}")
    assert [(e.label, e.target) for e in flow.nodes["a"].edges()] == [("call.id == 1", "a"), ("else", "a")]


def test_a_broken_node_is_left_out_but_the_flow_is_kept() -> None:
    text = "flow: t\nlanguages: [en]\nstart: a\nnodes:\n  a: {type: say, next: b}\n  b: {type: hangup}\n"
    loaded = load_yaml(text, "t.yaml")
    flow, found = compile_flow(loaded.data, loaded.source_map, "t.yaml")
    assert flow is not None and list(flow.nodes) == ["b"]
    assert [d.code for d in found] == ["FL101"]


def test_not_a_mapping_is_no_flow() -> None:
    loaded = load_yaml("- a\n- b\n", "t.yaml")
    flow, found = compile_flow(loaded.data, loaded.source_map, "t.yaml")
    assert flow is None and [d.code for d in found] == ["FL103"]


def test_compile_service() -> None:
    text = """
    service: s
    languages: [zh]
    numbers: {95500: main}
    operations:
      q: {backend: sql, query: "SELECT :a AS b", params: [a], returns: [b], timeout: 500ms}
    calendars: {c: {timezone: UTC, hours: {mon: [["09:00", "17:00"]]}, holidays: ["2026-01-01"]}}
    channels: {m: {kind: email}}
    queues: {g: {skills: [x]}}
    """
    loaded = load_yaml(textwrap.dedent(text), "s.yaml")
    service, found = compile_service(loaded.data, loaded.source_map, "s.yaml")
    assert found == [] and service is not None
    op = service.operations["q"]
    assert (op.backend, op.params, op.returns, op.timeout, op.retries) == (
        "sql",
        ("a",),
        ("b",),
        Decimal("0.5"),
        0,
    )
    assert op.config == {"query": "SELECT :a AS b"}
    assert service.calendars["c"].hours == {"mon": (("09:00", "17:00"),)}
    assert [(n.number, n.flow) for n in service.numbers] == [("95500", "main")]
    assert (service.channels["m"].kind, service.queues["g"].skills, service.languages) == (
        "email",
        ("x",),
        ("zh",),
    )


def test_service_backend_needs_its_config() -> None:
    loaded = load_yaml("service: s\noperations:\n  q: {backend: http}\n", "s.yaml")
    _, found = compile_service(loaded.data, loaded.source_map, "s.yaml")
    assert [(d.code, d.message) for d in found] == [("FL101", "operation 'q' needs the field `url`")]


def test_service_clock_times_have_a_format() -> None:
    loaded = load_yaml(
        'service: s\ncalendars:\n  c: {timezone: UTC, hours: {mon: [["9:30", "11:30"]]}}\n', "s.yaml"
    )
    _, found = compile_service(loaded.data, loaded.source_map, "s.yaml")
    assert [(d.code, d.message, d.hint) for d in found] == [
        ("FL112", "the text '9:30' is not a valid `mon`", 'times are "HH:MM" (24-hour), e.g. "09:30"')
    ]
