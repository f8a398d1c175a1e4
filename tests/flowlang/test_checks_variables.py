"""Variable checks (FL2xx through expressions, FL50x) and secret checks (FL51x)."""

from __future__ import annotations

import textwrap

from ivr.flowlang.diagnostics import Diagnostic, Severity
from ivr.flowlang.project import load_flow_text

HEAD = "flow: t\nlanguages: [en]\n"


def check(nodes: str, declarations: str = "") -> list[Diagnostic]:
    text = HEAD + textwrap.dedent(declarations).strip("\n") + "\nstart: a\nnodes:\n"
    text += textwrap.indent(textwrap.dedent(nodes).strip("\n") + "\nz:\n  type: hangup\n", "  ")
    flow, found = load_flow_text(text, "t.yaml")
    assert flow is not None, found
    return found


def test_reading_an_undeclared_name_suggests_a_declared_one() -> None:
    found = check("a: {type: say, prompt: '{cods}', next: z}", "variables: {code: {type: string}}")
    [d] = [d for d in found if d.is_error]
    assert (d.code, d.message, d.hint) == ("FL206", "undeclared name 'cods'", "did you mean 'code'?")
    assert d.node_id == "a"


def test_call_and_result_are_built_in() -> None:
    nodes = """
    a: {type: lookup, operation: op, assign: {x: result.v}, next: b}
    b: {type: say, prompt: '{call.caller} {x}', next: z}
    """
    found = check(nodes, "variables: {x: {type: any}}")
    assert [d.code for d in found] == ["FL601"]


def test_result_outside_a_lookup_is_undeclared() -> None:
    found = check("a: {type: say, prompt: '{result}', next: z}")
    assert [d.code for d in found] == ["FL206"]


def test_assigning_an_undeclared_variable() -> None:
    [d] = check("a: {type: set, assign: {cnt: 1}, next: z}", "variables: {count: {type: number}}")[:1]
    assert (d.code, d.message) == ("FL501", "node 'a' assigns 'cnt', which is not declared")
    assert d.hint == "did you mean 'count'?"


def test_assigning_call_is_refused() -> None:
    [d] = check("a: {type: set, assign: {call: 1}, next: z}")
    assert (d.code, d.message) == ("FL501", "node 'a' assigns 'call', which is built in and read-only")


def test_assigning_an_input_is_allowed() -> None:
    found = check("a: {type: set, assign: {n: n + 1}, next: z}", "inputs: {n: {type: number}}")
    assert found == []


def test_unused_and_write_only_variables_are_warnings() -> None:
    found = check(
        "a: {type: set, assign: {w: 1}, next: z}",
        "variables: {w: {type: number}, u: {type: string}}",
    )
    assert [(d.code, d.severity, d.message) for d in found] == [
        ("FL502", Severity.WARNING, "variable 'w' is set but never read"),
        ("FL502", Severity.WARNING, "variable 'u' is never used"),
    ]


def test_return_of_an_undeclared_output() -> None:
    found = check("a: {type: return, outputs: {acount: \"'x'\"}}", "outputs: {account: {type: string}}")
    [d] = [d for d in found if d.is_error]
    assert (d.code, d.hint) == ("FL503", "did you mean 'account'?")


def test_a_name_declared_twice() -> None:
    found = check("a: {type: say, prompt: '{x}', next: z}", "inputs: {x: {}}\nvariables: {x: {}}")
    assert [(d.code, d.message) for d in found] == [("FL504", "'x' is declared in both inputs and variables")]


SECRET = "variables: {pin: {type: string, secret: true}, copy: {type: string}}"


def test_a_secret_in_a_prompt_is_an_error() -> None:
    nodes = (
        "a: {type: collect, prompt: Pin, into: pin, next: b}\nb: {type: say, prompt: 'PIN {pin}', next: z}"
    )
    found = check(nodes, SECRET)
    d = next(d for d in found if d.code == "FL510")
    assert d.message == "secret 'pin' would be spoken: the prompt (en) of node 'b' reads it"
    assert d.is_error


def test_a_copy_of_a_secret_is_still_secret() -> None:
    nodes = """
    a: {type: collect, prompt: Pin, into: pin, next: b}
    b: {type: set, assign: {copy: "substr(pin, 0, 2)"}, next: c}
    c: {type: log, message: "{copy}", next: z}
    """
    [d] = [d for d in check(nodes, SECRET) if d.code == "FL510"]
    assert (
        d.message == "'copy' holds the secret 'pin' and would be logged: the log message of node 'c' reads it"
    )


def test_secrets_in_data_metadata_and_messages() -> None:
    nodes = """
    a: {type: collect, prompt: Pin, into: pin, next: b}
    b: {type: record, into: copy, metadata: {p: pin}, next: c}
    c: {type: send, channel: sms, to: pin, message: "{pin}", next: d}
    d: {type: enqueue, queue: q, data: {p: pin}}
    """
    found = [d.message.split(":")[0] for d in check(nodes, SECRET) if d.code == "FL510"]
    assert found == [
        "secret 'pin' would be stored with the recording",
        "secret 'pin' would be sent",
        "secret 'pin' would be sent",
        "secret 'pin' would be shown on the agent's screen",
    ]


def test_a_secret_may_be_checked_and_passed_to_an_operation() -> None:
    nodes = """
    a: {type: collect, prompt: Pin, into: pin, valid: len(pin) == 6, next: b}
    b: {type: branch, cases: [{if: pin == '000000', next: z}], else: z}
    """
    found = check(nodes, "variables: {pin: {type: string, secret: true}}")
    assert [d.code for d in found] == []
