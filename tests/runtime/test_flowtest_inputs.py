"""`ivr test`: `inputs:` for calling a subflow directly, and the `speak` step with recordings."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_flowtest_docs import write_doc_examples

from ivr.cli import main


def run_tests(folder: Path, name: str, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    (folder / name).write_text(text, encoding="utf-8")
    code = main(["test", str(folder / name)])
    return code, capsys.readouterr().out


CASH_TEST = """
tests:
  - name: cash
    flow: cash
    language: en
    {inputs}
    fixtures:
      operations:
        cash_balance: {{result: {{available: 10}}}}
    expect:
      ended: completed
"""


def test_a_missing_required_input_fails_the_test_before_the_call(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_doc_examples(tmp_path)
    code, out = run_tests(tmp_path, "cash.test.yaml", CASH_TEST.format(inputs=""), capsys)
    assert code == 1
    assert "flow 'cash' needs the input 'account': give it under `inputs:`" in out


def test_an_unknown_input_is_named_with_a_suggestion(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_doc_examples(tmp_path)
    text = CASH_TEST.format(inputs="inputs: {account: '1', acount_no: '2'}")
    code, out = run_tests(tmp_path, "cash.test.yaml", text, capsys)
    assert code == 1 and "flow 'cash' has no input 'acount_no' (did you mean 'account'?)" in out


def test_inputs_must_be_a_mapping(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_doc_examples(tmp_path)
    code, out = run_tests(tmp_path, "cash.test.yaml", CASH_TEST.format(inputs="inputs: [1]"), capsys)
    assert code == 1 and "error[FT101]: `inputs` must be a mapping" in out


VOICEMAIL = """
flow: voicemail
languages: [en]
variables:
  message: {type: string}
start: record
nodes:
  record:
    type: record
    prompt: Speak after the tone, then press hash
    into: message
    max_length: 120s
    next: saved
    on_no_input: nothing
  saved: {type: hangup, prompt: Your message is saved}
  nothing: {type: hangup, prompt: We did not hear a message}
"""
VOICEMAIL_TESTS = """
tests:
  - name: speech then the stop key
    flow: voicemail
    script:
      - expect: Speak after the tone
      - speak: 12s
      - press: "#"
      - expect: saved
    expect: {node: saved, recordings: 1}

  - name: speech then silence ends the message
    flow: voicemail
    script:
      - expect: Speak after the tone
      - speak: 12s
      - silence: 40s
      - expect: saved
    expect: {node: saved, recordings: 1}

  - name: a caller who says nothing
    flow: voicemail
    script:
      - expect: Speak after the tone
      - silence: 40s
      - expect: did not hear
    expect: {node: nothing, recordings: 0}

  - name: a hang-up while speaking keeps the message
    flow: voicemail
    script:
      - expect: Speak after the tone
      - speak: 5s
      - hangup
    expect: {ended: caller_hangup, node: record, recordings: 1}
"""


def test_speak_and_silence_steps_drive_a_recording(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "voicemail.yaml").write_text(VOICEMAIL, encoding="utf-8")
    code, out = run_tests(tmp_path, "voicemail.test.yaml", VOICEMAIL_TESTS, capsys)
    assert code == 0, out
    assert "4 passed, 0 failed" in out


def test_an_unknown_queue_outcome_in_a_fixture_is_an_error_with_the_choices(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_doc_examples(tmp_path)
    text = CASH_TEST.replace(
        "    fixtures:\n", "    fixtures:\n      queues:\n        general: {{outcome: complted}}\n"
    ).format(inputs="inputs: {account: '1'}")
    code, out = run_tests(tmp_path, "cash.test.yaml", text, capsys)
    assert code == 1
    assert "error[FT101]: 'complted' is not a queue outcome" in out
    assert "completed, timeout, overflow, no_agents" in out


def test_past_100_unknown_fields_the_rest_are_counted(tmp_path: Path) -> None:
    """Found by fuzzing: a test file of 20,000 unknown keys spent seconds on hints."""
    from ivr.runtime.flowtest.loader import MAX_UNKNOWN, load_test_file

    path = tmp_path / "many.test.yaml"
    path.write_text("".join(f"k{i}: {i}\n" for i in range(20_000)) + "tests: []\n", encoding="utf-8")
    tests, found = load_test_file(str(path))
    assert tests is None
    unknown = [d for d in found if d.message.startswith("unknown field '")]
    assert len(unknown) == MAX_UNKNOWN
    assert any(d.message == "and 19,900 more unknown fields" and d.span.line == 101 for d in found)
