"""Service references (FL60x) and subflow checks (FL606-FL610, FL308) over whole projects."""

from __future__ import annotations

import textwrap
from pathlib import Path

from ivr.flowlang.diagnostics import Diagnostic
from ivr.flowlang.project import load_project

SERVICE = """
service: s
languages: [en]
numbers: {"100": main, "200": mian}
operations:
  get_quote: {backend: python, function: "m:f", params: [code], returns: [name, last]}
queues: {general: {skills: [a]}}
calendars: {trading: {timezone: Asia/Shanghai}}
channels: {sms: {kind: sms}}
"""

CALLEE = """
flow: auth
languages: [en]
inputs: {account: {type: string}, note: {type: string, required: false}}
outputs: {ok: {type: boolean}}
start: r
nodes:
  r: {type: return, outcome: done, outputs: {ok: "account != note"}}
"""


def project(
    tmp_path: Path, nodes: str, service: str | None = SERVICE, extra: str = "", variables: str = "{x: {}}"
) -> list[Diagnostic]:
    main = f"flow: main\nlanguages: [en]\nvariables: {variables}\nstart: a\nnodes:\n"
    main += textwrap.indent(textwrap.dedent(nodes).strip("\n") + "\nz: {type: hangup, prompt: '{x}'}\n", "  ")
    (tmp_path / "main.yaml").write_text(main, encoding="utf-8")
    (tmp_path / "auth.yaml").write_text(CALLEE + extra, encoding="utf-8")
    if service is not None:
        (tmp_path / "service.yaml").write_text(service, encoding="utf-8")
    _, found = load_project([tmp_path])
    return found


def messages(found: list[Diagnostic]) -> list[tuple[str, str]]:
    return [(d.code, d.message) for d in found if d.code != "FL611"]


def test_unknown_operation_suggests_a_declared_one(tmp_path: Path) -> None:
    found = project(tmp_path, "a: {type: lookup, operation: get_qoute, args: {code: 1}, next: z}")
    [d] = [d for d in found if d.code == "FL601"]
    assert (d.message, d.hint) == (
        "operation 'get_qoute' is not declared in the service",
        "did you mean 'get_quote'?",
    )


def test_without_a_service_file_the_hint_says_where_to_declare(tmp_path: Path) -> None:
    found = project(tmp_path, "a: {type: enqueue, queue: general}", service=None)
    [d] = [d for d in found if d.code == "FL603"]
    assert d.message == "queue 'general' is not declared: there is no service file"
    assert d.hint == "declare it under `queues:` in service.yaml"


def test_operation_args_must_match_params(tmp_path: Path) -> None:
    found = project(tmp_path, "a: {type: lookup, operation: get_quote, args: {cod: 1}, next: z}")
    assert messages(found) == [
        ("FL602", "operation 'get_quote' needs 'code' in `args`"),
        ("FL602", "operation 'get_quote' has no parameter 'cod'"),
    ]


def test_reading_a_field_the_operation_does_not_return(tmp_path: Path) -> None:
    nodes = "a: {type: lookup, operation: get_quote, args: {code: 1}, assign: {x: result.lst}, next: z}"
    [d] = [d for d in project(tmp_path, nodes) if d.code == "FL612"]
    assert (d.message, d.hint) == ("operation 'get_quote' does not return 'lst'", "did you mean 'last'?")


def test_unknown_calendar_and_channel(tmp_path: Path) -> None:
    nodes = """
    a: {type: schedule, calendar: tradin, open: b, closed: z}
    b: {type: send, channel: fax, to: "'1'", next: z}
    """
    assert messages(project(tmp_path, nodes)) == [
        ("FL604", "calendar 'tradin' is not declared in the service"),
        ("FL605", "channel 'fax' is not declared in the service"),
    ]


def test_numbers_route_to_existing_flows(tmp_path: Path) -> None:
    found = project(tmp_path, "a: {type: hangup}")
    [d] = [d for d in found if d.code == "FL611"]
    assert (d.message, d.hint) == (
        "number 200 routes to flow 'mian', which does not exist",
        "did you mean 'main'?",
    )


def test_subflow_checks(tmp_path: Path) -> None:
    nodes = """
    a:
      type: subflow
      flow: auth
      inputs: {acount: "'1'"}
      outputs: {x: oks}
      outcomes: {don: z}
    """
    assert messages(project(tmp_path, nodes)) == [
        ("FL304", "subflow node 'a' has no `next`: the call would stop when 'auth' returns done"),
        ("FL608", "flow 'auth' needs the input 'account'"),
        ("FL607", "flow 'auth' has no input 'acount'"),
        ("FL609", "flow 'auth' has no output 'oks'"),
        ("FL610", "flow 'auth' never returns the outcome 'don'"),
    ]


def test_unknown_subflow(tmp_path: Path) -> None:
    found = project(tmp_path, "a: {type: subflow, flow: ath, next: z}")
    assert messages(found) == [("FL606", "subflow 'ath' is not a flow of the project")]
    assert found[0].hint == "did you mean 'auth'?"


def test_secret_into_a_plain_subflow_input(tmp_path: Path) -> None:
    nodes = """
    a: {type: collect, prompt: Pin, into: p, next: b}
    b: {type: subflow, flow: auth, inputs: {account: p}, next: z}
    """
    found = project(tmp_path, nodes, variables="{x: {type: any}, p: {secret: true}}")
    assert messages(found) == [
        ("FL511", "secret 'p' goes to input 'account' of flow 'auth', which is not secret")
    ]


def test_subflow_recursion(tmp_path: Path) -> None:
    extra = "  again: {type: subflow, flow: main, inputs: {}, next: r}\n"
    found = project(
        tmp_path, "a: {type: subflow, flow: auth, inputs: {account: \"'1'\"}, next: z}", extra=extra
    )
    recursion = [d for d in found if d.code == "FL308"]
    assert len(recursion) == 2
    assert recursion[0].message.startswith("flow 'auth' calls 'main', and the calls can nest without end")
