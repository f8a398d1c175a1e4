"""Type checks of flows: expressions against declarations, stored values against declared
types (FL210), `initial:` values (FL103), and the types lookups and subflows bring in."""

from __future__ import annotations

import textwrap
from pathlib import Path

from ivr.flowlang.diagnostics import Diagnostic
from ivr.flowlang.project import load_flow_text, load_project

HEAD = "flow: t\nlanguages: [en]\n"


def check(nodes: str, declarations: str = "") -> list[Diagnostic]:
    text = HEAD + textwrap.dedent(declarations).strip("\n") + "\nstart: a\nnodes:\n"
    text += textwrap.indent(textwrap.dedent(nodes).strip("\n") + "\nz:\n  type: hangup\n", "  ")
    flow, found = load_flow_text(text, "t.yaml")
    assert flow is not None, found
    return [d for d in found if d.code != "FL502"]


def test_collecting_into_a_number_variable_is_a_mismatch_with_the_way_out() -> None:
    found = check(
        "a: {type: collect, prompt: Qty, into: qty, next: b}\nb: {type: say, prompt: '{qty}', next: z}",
        "variables: {qty: {type: number}}",
    )
    [d] = found
    assert (d.code, d.span.line, d.node_id) == ("FL210", 6, "a")
    assert d.message == "'qty' is declared a number, but node 'a' collects text"
    assert "number(qty_text)" in (d.hint or "")


def test_a_set_value_of_another_kind_is_a_mismatch() -> None:
    [d] = check("a: {type: set, assign: {tries: \"'3'\"}, next: z}", "variables: {tries: {type: number}}")
    assert d.code == "FL210"
    assert d.hint == "convert it: number('3')"


def test_a_value_of_unknown_kind_fits_any_declaration() -> None:
    nodes = """
    a: {type: lookup, operation: op, args: {}, assign: {tries: result.count, name: result}, next: z}
    """
    found = check(nodes, "variables: {tries: {type: number}, name: {type: string}}")
    assert [d.code for d in found] == ["FL601"]


def test_initial_no_for_a_boolean_is_reported_like_a_node_field() -> None:
    found = check(
        "a: {type: say, prompt: '{vip}', next: z}", "variables: {vip: {type: boolean, initial: no}}"
    )
    [d] = found
    assert (d.code, d.span.line, d.span.col) == ("FL103", 3, 43)
    assert d.hint == "YAML 1.1 'no' is text here; write false"


def test_initial_values_must_have_the_declared_type() -> None:
    declarations = """
    variables:
      n: {type: number, initial: "5"}
      s: {type: string, initial: 600519}
      m: {type: map, initial: {}}
      l: {type: list, initial: []}
      a: {type: any, initial: 3}
      e: {type: string, initial: ""}
      b: {type: boolean, initial: true}
    """
    found = check("a: {type: say, prompt: '{n}{s}{m}{l}{a}{e}{b}', next: z}", declarations)
    assert [(d.code, d.span.line, d.hint) for d in found] == [
        ("FL103", 4, "write the number without quotes"),
        ("FL103", 5, 'put it in quotes: "600519"'),
    ]


def test_expression_type_errors_are_positioned_in_the_file() -> None:
    declarations = "variables: {tries: {type: number}, label: {type: string}}"
    [d] = check("a: {type: set, assign: {label: \"'代码' + tries\"}, next: z}", declarations)
    assert (d.code, d.span.line, d.span.col, d.node_id) == ("FL208", 6, 35, "a")


def test_subflow_inputs_and_outputs_are_checked_against_both_flows(tmp_path: Path) -> None:
    (tmp_path / "callee.yaml").write_text(
        textwrap.dedent(
            """\
            flow: callee
            languages: [en]
            inputs: {count: {type: number}}
            outputs: {name: {type: string}}
            start: done
            nodes:
              done: {type: return, outputs: {name: count}}
            """
        ),
        encoding="utf-8",
    )
    (tmp_path / "caller.yaml").write_text(
        textwrap.dedent(
            """\
            flow: caller
            languages: [en]
            variables: {total: {type: number}, label: {type: string}}
            start: call_it
            nodes:
              call_it:
                type: subflow
                flow: callee
                inputs: {count: "'seven'"}
                outputs: {total: name}
                next: bye
              bye: {type: hangup, prompt: "{total}{label}"}
            """
        ),
        encoding="utf-8",
    )
    _, found = load_project([tmp_path])
    errors = [(Path(d.span.file).name, d.code, d.span.line, d.message) for d in found if d.is_error]
    assert errors == [
        ("callee.yaml", "FL210", 7, "'name' is declared text, but node 'done' stores a number (`count`)"),
        (
            "caller.yaml",
            "FL210",
            9,
            "input 'count' of flow 'callee' is declared a number, but node 'call_it' stores text (`'seven'`)",
        ),
        ("caller.yaml", "FL210", 10, "'total' is declared a number, but node 'call_it' stores text (`name`)"),
    ]


def test_the_service_flows_type_check_cleanly() -> None:
    root = Path(__file__).parents[2]
    _, found = load_project([root / "flows"])
    assert [d for d in found if d.code in ("FL208", "FL209", "FL210", "FL211")] == []
