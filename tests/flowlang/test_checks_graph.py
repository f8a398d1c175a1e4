"""Graph checks (FL3xx): pinned code, message and hint for each verdict."""

from __future__ import annotations

import textwrap

from ivr.flowlang.diagnostics import Diagnostic, Severity
from ivr.flowlang.project import load_flow_text

BYE = "goodbye:\n  type: hangup\n"


def check(nodes: str, start: str = "a", variables: str = "") -> list[Diagnostic]:
    text = f"flow: t\nlanguages: [en]\n{variables}start: {start}\nnodes:\n"
    text += textwrap.indent(textwrap.dedent(nodes).strip("\n") + "\n" + BYE, "  ")
    flow, found = load_flow_text(text, "t.yaml")
    assert flow is not None
    return found


def codes(found: list[Diagnostic]) -> list[str]:
    return [d.code for d in found]


def test_a_clean_flow_has_no_diagnostics() -> None:
    assert check("a: {type: say, prompt: Hi, next: goodbye}") == []


def test_undefined_target_suggests_the_closest_node() -> None:
    [d] = check("a: {type: say, prompt: Hi, next: goodby}\n")[:1]
    assert (d.code, d.severity) == ("FL301", Severity.ERROR)
    assert d.message == "node 'a' goes to 'goodby' (next), which is not a node of this flow"
    assert d.hint == "did you mean 'goodbye'?"
    assert (d.span.line, d.span.col) == (5, 36)


def test_missing_start_node() -> None:
    found = check("a: {type: say, prompt: Hi, next: goodbye}", start="b")
    assert codes(found)[0] == "FL302"
    assert found[0].message == "the start node 'b' is not a node of this flow"


def test_unreachable_node_is_a_warning() -> None:
    found = check("a: {type: hangup}\nb: {type: say, prompt: Hi, next: goodbye}")
    assert [(d.code, d.severity, d.node_id) for d in found] == [
        ("FL303", Severity.WARNING, "b"),
        ("FL303", Severity.WARNING, "goodbye"),
    ]
    assert found[0].message == "node 'b' can never be reached from the start node 'a'"


def test_dead_end_names_the_missing_edge() -> None:
    [d] = [d for d in check("a: {type: say, prompt: Hi}") if d.code == "FL304"]
    assert d.message == "say node 'a' has no `next`: the call would stop after it"
    assert d.is_error


def test_schedule_needs_open_and_closed() -> None:
    found = check("a: {type: schedule, calendar: c, open: goodbye}")
    [d] = [d for d in found if d.code == "FL304"]
    assert d.message == "schedule node 'a' has no `closed`: the call would stop outside opening hours"


def test_terminal_nodes_need_no_next() -> None:
    found = check("a: {type: transfer, to: \"'100'\"}\nb: {type: return}\nc: {type: enqueue, queue: q}")
    assert "FL304" not in codes(found)


def test_a_loop_with_no_way_out_traps_the_caller() -> None:
    found = check(
        """
        a: {type: menu, prompt: Hi, options: {1: b}, on_no_input: a, on_no_match: a}
        b: {type: say, prompt: Again, next: a}
        """
    )
    [d] = [d for d in found if d.code == "FL305"]
    assert d.message == "a caller who reaches nodes 'a', 'b' can never leave: no edge leads out of the loop"
    assert d.is_error


def test_a_loop_with_an_exit_is_fine() -> None:
    found = check("a: {type: menu, prompt: Hi, options: {1: a, 2: goodbye}}")
    assert [c for c in codes(found) if c.startswith("FL30")] == []


def test_a_loop_without_input_nodes_is_a_warning() -> None:
    found = check(
        """
        a: {type: set, assign: {n: n + 1}, next: b}
        b: {type: branch, cases: [{if: n > 3, next: goodbye}], else: a}
        """,
        variables="variables: {n: {type: number, initial: 0}}\n",
    )
    [d] = [d for d in found if d.code == "FL306"]
    assert d.severity is Severity.WARNING
    assert d.message == "nodes 'a', 'b' can loop forever without waiting for the caller"


def test_a_loop_through_a_menu_is_not_an_instant_loop() -> None:
    found = check(
        """
        a: {type: menu, prompt: Hi, options: {1: b, 2: goodbye}}
        b: {type: log, message: again, next: a}
        """
    )
    assert "FL306" not in codes(found)


def test_confirm_keys_must_differ() -> None:
    found = check("a: {type: confirm, prompt: Ok, cancel_key: '1', next: goodbye, on_cancel: goodbye}")
    [d] = [d for d in found if d.code == "FL307"]
    assert d.message == "confirm node 'a' uses key '1' for both confirm and cancel"


def test_reenter_key_without_its_edge_is_not_offered() -> None:
    found = check("a: {type: confirm, prompt: Ok, reenter_key: '1', next: goodbye}")
    assert "FL307" not in codes(found)


def test_branch_without_else_is_a_warning() -> None:
    found = check("a: {type: branch, cases: [{if: 'true', next: goodbye}]}")
    assert [(d.code, d.severity) for d in found] == [("FL309", Severity.WARNING)]


def test_edges_into_a_broken_node_are_not_reported_again() -> None:
    found = check("a: {type: say, prompt: Hi, next: b}\nb: {type: sya, prompt: Hi}")
    assert codes(found) == ["FL106"]
