"""Secrets across subflow boundaries: into a subflow's inputs, back out through its outputs,
through copies and chains of calls."""

from __future__ import annotations

import textwrap
from pathlib import Path

from ivr.flowlang.project import load_project

ASK_PIN = """\
flow: ask_pin
languages: [en]
outputs:
  pin: {type: string, secret: true}
start: ask
nodes:
  ask: {type: collect, prompt: PIN, into: pin, next: done}
  done: {type: return}
"""

LEAKY = """\
flow: leaky
languages: [en]
outputs:
  digits: {type: string}
variables:
  pin: {type: string, secret: true}
start: ask
nodes:
  ask: {type: collect, prompt: PIN, into: pin, next: copy}
  copy: {type: set, assign: {digits: pin}, next: done}
  done: {type: return}
"""


def errors(tmp_path: Path, **flows: str) -> list[tuple[str, str, int, str]]:
    for name, text in flows.items():
        (tmp_path / f"{name}.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    _, found = load_project([tmp_path])
    return [(Path(d.span.file).stem, d.code, d.span.line, d.message) for d in found if d.is_error]


def caller(outputs: str, variables: str, then: str) -> str:
    return f"""\
flow: main
languages: [en]
variables: {variables}
start: call_it
nodes:
  call_it: {{type: subflow, flow: {{callee}}, outputs: {outputs}, next: after}}
  after: {then}
  bye: {{type: hangup}}
"""


def test_a_secret_output_stored_in_a_plain_variable_and_spoken_is_two_mistakes(tmp_path: Path) -> None:
    main = caller(
        "{code: pin}", "{code: {type: string}}", "{type: say, prompt: 'You typed {code}', next: bye}"
    )
    assert errors(tmp_path, ask_pin=ASK_PIN, main=main.replace("{callee}", "ask_pin")) == [
        (
            "main",
            "FL512",
            6,
            "'code' receives the secret output 'pin' of flow 'ask_pin', but is not declared secret",
        ),
        (
            "main",
            "FL510",
            7,
            "'code' holds the secret 'pin' of flow 'ask_pin' and would be spoken: "
            "the prompt (en) of node 'after' reads it",
        ),
    ]


def test_a_secret_output_kept_secret_is_fine(tmp_path: Path) -> None:
    main = caller(
        "{code: pin}", "{code: {type: string, secret: true}}", "{type: say, prompt: 'Thanks', next: bye}"
    )
    found = errors(tmp_path, ask_pin=ASK_PIN, main=main.replace("{callee}", "ask_pin"))
    assert found == []


def test_a_copy_handed_back_in_the_open_is_reported_in_the_subflow(tmp_path: Path) -> None:
    main = caller(
        "{shown: digits}", "{shown: {type: string}}", "{type: log, message: 'got {shown}', next: bye}"
    )
    assert errors(tmp_path, leaky=LEAKY, main=main.replace("{callee}", "leaky")) == [
        (
            "leaky",
            "FL512",
            4,
            "output 'digits' holds the secret 'pin' and goes back to the calling flow, "
            "but is not declared secret",
        ),
        (
            "main",
            "FL510",
            7,
            "'shown' holds the secret 'pin' of flow 'leaky' and would be logged: "
            "the log message of node 'after' reads it",
        ),
    ]


def test_secrets_follow_a_chain_of_calls(tmp_path: Path) -> None:
    middle = """\
    flow: middle
    languages: [en]
    outputs:
      relayed: {type: string, secret: true}
    start: call_it
    nodes:
      call_it: {type: subflow, flow: ask_pin, outputs: {relayed: pin}, next: done}
      done: {type: return}
    """
    main = caller(
        "{code: relayed}",
        "{code: {type: string, secret: true}}",
        "{type: send, channel: sms, to: code, message: hi, next: bye}",
    )
    found = errors(tmp_path, ask_pin=ASK_PIN, middle=middle, main=main.replace("{callee}", "middle"))
    assert [(f, c) for f, c, _, _ in found] == [("main", "FL605"), ("main", "FL510")]  # no service file
    assert "would be sent" in found[1][3]


def test_a_secret_into_a_plain_input_is_reported_at_the_call(tmp_path: Path) -> None:
    checker = """\
    flow: checker
    languages: [en]
    inputs:
      code: {type: string}
    start: done
    nodes:
      done: {type: return, outcome: "ok"}
    """
    main = """\
    flow: main
    languages: [en]
    variables: {pin: {type: string, secret: true}}
    start: ask
    nodes:
      ask: {type: collect, prompt: PIN, into: pin, next: check}
      check: {type: subflow, flow: checker, inputs: {code: pin}, next: bye}
      bye: {type: hangup}
    """
    assert [(f, c, line) for f, c, line, _ in errors(tmp_path, checker=checker, main=main)] == [
        ("main", "FL511", 7)
    ]
