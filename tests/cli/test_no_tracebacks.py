"""A user mistake never produces a stack trace: every `ivr` command, run as a user would
(a subprocess), with bad paths, bad files and bad options, prints a clear message and exits
1 (the input has errors) or 2 (a usage problem), never a Python traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

FLOW = """\
flow: login
languages: [en]
variables:
  pin: {type: string, secret: true}
  check: {type: map, initial: {}}
start: ask_pin
nodes:
  ask_pin:
    type: collect
    prompt: {en: Enter your PIN then hash}
    into: pin
    min_length: 4
    max_length: 6
    terminator: "#"
    max_retries: 0
    next: verify
    on_no_input: bye
    on_invalid: bye
  verify:
    type: lookup
    operation: verify_pin
    args: {pin: pin}
    assign: {check: result}
    next: welcome
    on_error: bye
    on_timeout: bye
  welcome:
    type: branch
    cases:
      - if: check.ok
        next: bye
    else: bye
  bye:
    type: hangup
    prompt: {en: Goodbye}
"""

SERVICE = """\
service: demo
languages: [en]
numbers:
  "100": login
operations:
  verify_pin:
    backend: python
    function: ivr.adapters.brokerage.operations:verify_trading_pin
    params: [pin]
    returns: [ok]
"""

FIXTURES = "operations:\n  verify_pin: {result: {ok: true}}\n"

TESTS = """\
tests:
- name: a PIN is taken
  flow: login
  fixtures: {operations: {verify_pin: {result: {ok: true}}}}
  script:
  - expect: PIN
  - press: "1234#"
  - expect: Goodbye
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The working folder: `good/` a clean project (flow, service, fixtures, tests), `bad/`
    broken files, `broken/` a flow with errors, `empty_folder/`."""
    folder = tmp_path_factory.mktemp("project")
    good = folder / "good"
    good.mkdir()
    (good / "login.yaml").write_text(FLOW, encoding="utf-8")
    (good / "service.yaml").write_text(SERVICE, encoding="utf-8")
    (good / "fixtures.yaml").write_text(FIXTURES, encoding="utf-8")
    (good / "login.test.yaml").write_text(TESTS, encoding="utf-8")
    bad = folder / "bad"
    bad.mkdir()
    (bad / "empty.yaml").write_text("", encoding="utf-8")
    (bad / "binary.yaml").write_bytes(b"\x7fELF\x02\x01\x01\x00\xd0\xff\xfe" * 20)
    (bad / "not_yaml.yaml").write_text("a: [\n  b: {\n", encoding="utf-8")
    (bad / "a_folder.yaml").mkdir()
    (bad / "a_file").write_text("x", encoding="utf-8")
    (bad / "typo_fixtures.yml").write_text("operations:\n  verify_pn: {result: {ok: true}}\n")
    broken = folder / "broken"
    broken.mkdir()
    (broken / "main.yaml").write_text(FLOW.replace("next: verify", "next: nowhere"), encoding="utf-8")
    (folder / "empty_folder").mkdir()
    return folder


def ivr(cwd: Path, *argv: str, stdin: str = "", timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ivr", *argv],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def no_trace(run: subprocess.CompletedProcess[str]) -> str:
    """The output (stdout + stderr), asserted free of a Python traceback."""
    text = run.stdout + run.stderr
    assert "Traceback" not in text, text
    assert "Error:" not in run.stderr.replace("error[", ""), run.stderr  # e.g. "ValueError: ..."
    return text


def write_test(project: Path, name: str, text: str) -> str:
    path = project / "good" / f"{name}.test.yaml"
    path.write_text(text, encoding="utf-8")
    return f"good/{path.name}"


# (argv, expected exit code, a piece of the message). Paths are relative to the project.
CASES: list[tuple[tuple[str, ...], int, str]] = [
    # ivr (no command) and unknown options
    ((), 2, "usage"),
    (("frobnicate",), 2, "invalid choice"),
    # check
    (("check", "nope.yaml"), 2, "no such file or folder"),
    (("check", "bad/empty.yaml"), 1, "the file is empty"),
    (("check", "bad/a_file"), 1, "the file holds 'x', not a flow or a service"),
    (("check", "good/fixtures.yaml"), 1, "a file named to be checked must be a flow"),
    (("check", "good/login.test.yaml"), 0, "ok: 0 flows and 1 test file checked"),
    (("check", "bad/binary.yaml"), 1, "not UTF-8"),
    (("check", "bad/not_yaml.yaml"), 1, "YAML syntax error"),
    (("check", "broken"), 1, "nowhere"),
    (("check", "--format", "xml", "good"), 2, "invalid choice"),
    # explain
    (("explain", "FL9999"), 2, "unknown code"),
    (("explain", ""), 2, "unknown code"),
    # draw
    (("draw", "nope.yaml"), 2, "no such file or folder"),
    (("draw", "bad/empty.yaml"), 1, "no flow that can be drawn"),
    (("draw", "bad/binary.yaml"), 1, "not UTF-8"),
    (("draw", "bad/a_folder.yaml"), 2, "no flows under"),
    (("draw", "good/login.yaml", "-o", "/proc/x.svg"), 2, "cannot write"),
    (("draw", "good/login.yaml", "-o", "bad/a_file/x.dot"), 2, "cannot write"),
    (("draw", "good/login.yaml", "-o", "out.txt"), 2, "cannot tell the format"),
    (("draw", "good", "--flow", "logn"), 2, "did you mean 'login'"),
    (("draw", "good/login.yaml", "--lang", "xx", "-o", "x.dot"), 0, "has no language 'xx'"),
    # messages
    (("messages", "--data-dir", "nowhere", "list"), 2, "no outbox at nowhere/outbox.sqlite3"),
    (("messages", "list", "--status", "lost"), 2, "invalid choice"),
    # simulate
    (("simulate", "nope.yaml"), 2, "no such file or folder"),
    (("simulate", "bad/a_folder.yaml"), 2, "no flows under"),
    (("simulate", "bad/empty.yaml"), 1, "not UTF-8"),  # the folder around it holds a binary file
    (("simulate", "broken/main.yaml"), 1, "nowhere"),
    (("simulate", "good/service.yaml"), 2, "holds no flow"),
    (("simulate", "good", "logn"), 2, "did you mean 'login'"),
    (("simulate", "empty_folder"), 2, "no flows under"),
    (("simulate", "good", "--number", "999"), 2, "answers no number 999"),
    (("simulate", "good/login.yaml", "--lang", "xx"), 2, "has no language 'xx'"),
    (("simulate", "good/login.yaml", "--at", "tomorrow"), 2, "is not a date-time with a zone"),
    (("simulate", "good/login.yaml", "--at", "2026-11-27T10:00:00"), 2, "is not a date-time with a zone"),
    (("simulate", "good/login.yaml", "--fixtures", "nope.yaml"), 2, "no such file or folder"),
    (("simulate", "good/login.yaml", "--fixtures", "empty_folder"), 1, "it is a folder"),
    (("simulate", "good/login.yaml", "--fixtures", "bad/binary.yaml"), 1, "not UTF-8"),
    (("simulate", "good/login.yaml", "--fixtures", "bad/not_yaml.yaml"), 1, "YAML syntax error"),
    (("simulate", "good/login.yaml", "--fixtures", "good/login.yaml"), 1, "unknown field"),
    (("simulate", "good/login.yaml", "--fixtures", "bad/typo_fixtures.yml"), 1, "did you mean 'verify_pin'"),
    # test
    (("test", "nope.test.yaml"), 2, "no such file or folder"),
    (("test", "empty_folder"), 2, "no *.test.yaml files found"),
    (("test", "bad/empty.yaml"), 1, "needs `tests:`"),
    (("test", "bad/binary.yaml"), 1, "not UTF-8"),
    (("test", "bad/not_yaml.yaml"), 1, "YAML syntax error"),
    (("test", "bad/a_folder.yaml/../a_file"), 1, "needs `tests:`"),
    (("test", "/proc/self/mem"), 1, "cannot be read"),
    (("test", "good/login.test.yaml", "-k", "zzz"), 2, "no test name contains 'zzz'"),
    (("test", "good/login.test.yaml", "--junit", "/proc/report.xml"), 2, "cannot write the JUnit report"),
    (("test", "good/login.test.yaml", "--junit", "bad/a_file/report.xml"), 2, "is not a folder"),
    (("test", "good/login.test.yaml", "--junit", "bad"), 2, "it is a folder"),
]


@pytest.mark.parametrize(("argv", "code", "message"), CASES, ids=[" ".join(c[0]) or "-" for c in CASES])
def test_a_user_mistake_gets_a_message_and_an_exit_code(
    project: Path, argv: tuple[str, ...], code: int, message: str
) -> None:
    run = ivr(project, *argv)
    text = no_trace(run)
    assert message in text
    assert run.returncode == code, text


def test_junit_into_a_missing_folder_makes_the_folder(project: Path, tmp_path: Path) -> None:
    report = tmp_path / "reports" / "ci" / "junit.xml"
    run = ivr(project, "test", "good/login.test.yaml", "--junit", str(report))
    no_trace(run)
    assert run.returncode == 0 and report.read_text(encoding="utf-8").startswith("<?xml")


MALFORMED_TESTS = {
    "wrong_types": "tests:\n- name: 5\n  flow: [1, 2]\n  script: 7\n  expect: 3\n  timeout: {a: 1}\n",
    "tests_not_a_list": "tests: {a: 1}\n",
    "items_not_mappings": 'tests: [5, "x", [1]]\n',
    "unknown_steps": "tests:\n- name: x\n  flow: login\n  script: [{fly: 1}, {pres: '1'}, 7]\n",
    "bad_regex": "tests:\n- name: x\n  flow: login\n  script: [{expect: '(('}, {expect: '[a-'}]\n",
    "bad_durations": (
        "tests:\n- name: x\n  flow: login\n  timeout: soon\n  script: [{silence: -5}, {speak: forever}]\n"
    ),
    "bad_keys": "tests:\n- name: x\n  flow: login\n  script: [{press: 12}, {press: abc}, {barge_in: [1]}]\n",
    "bad_fixtures": (
        "tests:\n- name: x\n  flow: login\n  fixtures: {operations: {verify_pin: 5, other: {bogus: 1}},"
        " queues: {q: 5}, transfers: 7, channels: [1]}\n"
    ),
    "bad_at_and_inputs": "tests:\n- name: x\n  flow: login\n  at: [1]\n  inputs: 5\n",
    "bad_project": "project: [1, {a: 2}]\ntests:\n- name: x\n  flow: login\n",
    "missing_project": "project: ../nowhere\ntests:\n- name: x\n  flow: login\n",
    "flow_and_number": "tests:\n- name: x\n  flow: login\n  number: '100'\n",
    "unknown_fields": "tests:\n- name: x\n  flow: login\n  expct: {}\n  fixtures: {operatons: {}}\n",
}


@pytest.mark.parametrize("name", sorted(MALFORMED_TESTS))
def test_a_malformed_test_file_gets_positioned_errors(project: Path, name: str) -> None:
    file = write_test(project, f"malformed_{name}", MALFORMED_TESTS[name])
    run = ivr(project, "test", file)
    text = no_trace(run)
    assert run.returncode == 1, text
    assert f"{file}:" in text  # positioned: file:line:col


WRONG_TESTS = {
    "unknown_flow": ("tests:\n- name: x\n  flow: nosuch\n", "no flow 'nosuch'"),
    "unknown_number": ("tests:\n- name: x\n  number: '999'\n", "answers no number 999"),
    "wrong_expect_types": (
        "tests:\n- name: x\n  flow: login\n  script: [hangup]\n  expect: {node: [1], ended: 5, variables: 5,"
        " operations: 5, transfers: 5, queued: 5, messages: 5, recordings: abc, path: 5}\n",
        "`variables` is a mapping",
    ),
    "unknown_operation": (
        "tests:\n- name: x\n  flow: login\n  fixtures: {operations: {verify_pn: {result: 1}}}\n",
        "which the service does not declare (did you mean 'verify_pin'?)",
    ),
    "unknown_input": ("tests:\n- name: x\n  flow: login\n  inputs: {nope: 1}\n", "has no input 'nope'"),
    "unknown_language": (
        "tests:\n- name: x\n  flow: login\n  language: xx\n  script: [hangup]\n",
        "no language 'xx'",
    ),
}


@pytest.mark.parametrize("name", sorted(WRONG_TESTS))
def test_a_test_that_cannot_pass_fails_with_a_reason(project: Path, name: str) -> None:
    text, message = WRONG_TESTS[name]
    file = write_test(project, f"wrong_{name}", text)
    run = ivr(project, "test", file)
    output = no_trace(run)
    assert run.returncode == 1, output
    assert message in output


def test_simulate_end_of_input_hangs_up(project: Path) -> None:
    run = ivr(project, "simulate", "good/login.yaml", "--fixtures", "good/fixtures.yaml", stdin="")
    text = no_trace(run)
    assert run.returncode == 0 and "(you hung up)" in text and "caller_hangup" in text


@pytest.mark.parametrize("line", ["6" * 200_000 + "#", "x" * 200_000, "\x00\xff" * 1000])
def test_simulate_takes_very_long_or_odd_lines(project: Path, line: str) -> None:
    run = ivr(
        project,
        "simulate",
        "good/login.yaml",
        "--fast",
        "--fixtures",
        "good/fixtures.yaml",
        stdin=line + "\n",
    )
    no_trace(run)
    assert run.returncode == 0


def test_simulate_into_a_closed_pipe_is_quiet(project: Path) -> None:
    reader, writer = os.pipe()
    os.close(reader)  # nobody reads the output: the first print meets a broken pipe
    try:
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "ivr",
                "simulate",
                "good/login.yaml",
                "--fast",
                "--fixtures",
                "good/fixtures.yaml",
            ],
            cwd=project,
            input="1234#\n",
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(writer)
    assert "Traceback" not in run.stderr and "Error" not in run.stderr, run.stderr


def test_check_into_a_closed_pipe_is_quiet(project: Path) -> None:
    reader, writer = os.pipe()
    os.close(reader)
    try:
        run = subprocess.run(
            [sys.executable, "-m", "ivr", "explain", "FL301"],
            cwd=project,
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(writer)
    assert "Traceback" not in run.stderr and "Error" not in run.stderr, run.stderr
    assert run.returncode == 141


def test_ctrl_c_in_simulate_is_quiet(project: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "ivr", "simulate", "good/login.yaml", "--fixtures", "good/fixtures.yaml"],
        cwd=project,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    try:
        deadline = time.monotonic() + 30
        while "keys" not in (process.stdout.readline() or "") and time.monotonic() < deadline:
            pass  # wait until the call waits for a key
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert "Traceback" not in out + err, err
    assert process.returncode == 130 and "interrupted" in err
