"""An SMS channel's keyword table (`inbound: keywords:`) is checked with the project: the
flows it runs exist (FL622), their inputs match the keyword's args (FL623), its shape
passes the schema and its secret is a `${VARIABLE}` (FL620), each error at its keyword."""

from __future__ import annotations

import textwrap
from pathlib import Path

from ivr.flowlang.diagnostics import Diagnostic
from ivr.flowlang.project import load_project

FLOW = """\
flow: sms_quote
languages: [zh]
inputs:
  code: {type: string}
start: done
nodes:
  done: {type: hangup, prompt: "{code}"}
"""


def check(tmp_path: Path, keywords: str, secret: str = "${SMS_SECRET}") -> list[Diagnostic]:
    table = textwrap.indent(textwrap.dedent(keywords).strip("\n"), " " * 8)
    service = (
        "service: s\nchannels:\n  sms:\n    kind: sms\n    inbound:\n"
        f'      secret: "{secret}"\n      keywords:\n{table}\n'
    )
    (tmp_path / "service.yaml").write_text(service)
    (tmp_path / "sms_quote.yaml").write_text(FLOW)
    _, found = load_project([tmp_path])
    return found


def where(found: list[Diagnostic]) -> list[tuple[str, int, int]]:
    return [(d.code, d.span.line, d.span.col) for d in found]


def test_a_keyword_table_that_fits_its_flows_is_clean(tmp_path: Path) -> None:
    table = """\
        HQ: {flow: sms_quote, args: [code]}
        TD: {do_not_call: true, reply: 您已退订}
        HELLO: {reply: hi}
    """
    assert check(tmp_path, table) == []


def test_a_keyword_running_a_missing_flow_is_fl622_at_the_keyword(tmp_path: Path) -> None:
    found = check(tmp_path, "HQ: {flow: sms_qoute, args: [code]}\n")
    assert where(found) == [("FL622", 8, 9)]
    assert found[0].hint == "did you mean 'sms_quote'?"


def test_args_that_are_not_the_flows_inputs_are_fl623(tmp_path: Path) -> None:
    found = check(tmp_path, "HQ: {flow: sms_quote, args: [stock]}\n")
    assert [d.code for d in found] == ["FL623", "FL623"]  # `stock` is no input; `code` is not given
    assert {d.span.line for d in found} == {8}
    assert "'stock'" in found[0].message and "code" in (found[1].hint or "")


def test_a_keyword_of_the_wrong_shape_is_a_schema_error(tmp_path: Path) -> None:
    found = check(tmp_path, "HQ: {flow: sms_quote, reply: both}\n")
    assert [d.span.line for d in found if d.is_error] == [8]


def test_an_inbound_secret_written_as_text_is_fl620(tmp_path: Path) -> None:
    found = check(tmp_path, "TD: {do_not_call: true, reply: ok}\n", secret="hunter2")
    assert where(found) == [("FL620", 6, 15)]
