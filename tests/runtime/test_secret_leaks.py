"""A PIN never leaves the engine: not in the outcome, the logs, a failure message, a test
report, JUnit XML or the simulator's terminal, whatever the flow or an adapter does with it."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import termios
from collections.abc import Mapping
from pathlib import Path

import pytest
import trio
from engine_harness import Harness, flow, project
from trio.testing import MockClock

from ivr.runtime.ports import OperationError
from ivr.runtime.testing import Fixture, FixtureOperations, MemoryCallLeg

PIN = "314159"

LOGIN = """
flow: login
languages: [en]
variables:
  pin: {type: string, secret: true}
  copy: {type: string}
  tail: {type: string}
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
    next: keep
    on_no_input: bye
    on_invalid: bye
  keep:
    type: set
    assign: {copy: pin, tail: "substr(pin, -2)"}
    next: verify
  verify:
    type: lookup
    operation: verify_pin
    args: {pin: pin}
    assign: {check: result}
    next: bye
    on_error: bye
    on_timeout: bye
  bye:
    type: hangup
    prompt: {en: Goodbye}
"""

SERVICE = """
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


# ---- the engine: outcome and failures ---------------------------------------------------


async def _press_after_prompt(leg: MemoryCallLeg, keys: str) -> None:
    """Keys typed once the first prompt plays (type-ahead before a secret entry is dropped)."""
    await leg.wait_for(lambda: len(leg.prompts) > 0)
    leg.press(keys)


async def test_copies_of_a_secret_are_masked_in_the_outcome(autojump_clock: MockClock) -> None:
    harness = Harness(project(flow(LOGIN)))
    harness.operations = FixtureOperations({"verify_pin": [Fixture(result={"ok": True})]})
    leg = MemoryCallLeg()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_press_after_prompt, leg, PIN + "#")
        outcome = await harness.run(leg)
    assert outcome.how == "completed"
    assert outcome.variables["pin"] == outcome.variables["copy"] == outcome.variables["tail"] == "***"
    assert PIN not in repr(outcome) and "'59'" not in repr(outcome)


class LeakyOperations:
    """A back end whose bug puts the arguments (a PIN) into its exception."""

    async def invoke(self, name: str, args: Mapping[str, object]) -> object:
        await trio.lowlevel.checkpoint()
        raise RuntimeError(f"{name} crashed on {dict(args)}")


AUTH = """
flow: auth
languages: [en]
variables:
  pin: {type: string, secret: true}
  check: {type: map, initial: {}}
start: ask_pin
nodes:
  ask_pin:
    type: collect
    prompt: {en: PIN}
    into: pin
    min_length: 6
    max_length: 6
    next: verify
    on_no_input: done
    on_invalid: done
  verify:
    type: lookup
    operation: verify_pin
    args: {pin: pin}
    assign: {check: result}
    next: done
  done: {type: return, outcome: ok}
"""


def _main(on_error: bool) -> str:
    edge = "\n    on_error: sorry" if on_error else ""
    return f"""
flow: main
languages: [en]
start: login
nodes:
  login:
    type: subflow
    flow: auth
    next: bye{edge}
  sorry: {{type: hangup, prompt: Sorry}}
  bye: {{type: hangup, prompt: Bye}}
"""


@pytest.mark.parametrize("on_error", [True, False])
async def test_an_adapter_exception_carrying_a_pin_is_masked_in_logs_and_outcome(
    autojump_clock: MockClock, caplog: pytest.LogCaptureFixture, on_error: bool
) -> None:
    service_text = SERVICE.replace("login", "main")
    harness = Harness(project(flow(_main(on_error)), flow(AUTH), service_text=service_text))
    harness.operations = LeakyOperations()  # type: ignore[assignment]
    leg = MemoryCallLeg()
    with caplog.at_level(logging.DEBUG):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_press_after_prompt, leg, PIN)
            outcome = await harness.run(leg, "main")
    assert outcome.how == ("completed" if on_error else "failed")
    assert "crashed on" in caplog.text  # the failure is logged, with its traceback ...
    assert ("Traceback" in caplog.text) is not on_error
    assert PIN not in caplog.text  # ... but never the PIN
    assert PIN not in (outcome.failure or "") and PIN not in repr(harness.records.events)


async def test_a_fixture_that_matches_no_case_does_not_name_the_values() -> None:
    operations = FixtureOperations({"verify_pin": [Fixture(result={"ok": True}, when={"pin": "0000"})]})
    with pytest.raises(OperationError) as raised:
        await operations.invoke("verify_pin", {"pin": PIN, "account": "31000001"})
    assert PIN not in str(raised.value) and "pin, account" in str(raised.value)


# ---- `ivr test` and `ivr simulate` --------------------------------------------------------


@pytest.fixture
def login_project(tmp_path: Path) -> Path:
    (tmp_path / "login.yaml").write_text(LOGIN, encoding="utf-8")
    (tmp_path / "service.yaml").write_text(SERVICE, encoding="utf-8")
    (tmp_path / "fixtures.yaml").write_text("operations:\n  verify_pin: {result: {ok: true}}\n")
    return tmp_path


def ivr(folder: Path, *argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "ivr", *argv]
    return subprocess.run(
        command, cwd=folder, input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


def test_a_failing_test_on_a_secret_variable_shows_no_pin(login_project: Path) -> None:
    (login_project / "login.test.yaml").write_text(
        f"""
tests:
- name: expects the wrong PIN
  flow: login
  fixtures: {{operations: {{verify_pin: {{result: {{ok: true}}}}}}}}
  script:
  - expect: PIN
  - press: "{PIN}#"
  - expect: Goodbye
  expect:
    variables: {{pin: "000000", copy: "000000", tail: "00"}}
""",
        encoding="utf-8",
    )
    run = ivr(login_project, "test", ".", "--junit", "junit.xml")
    junit = (login_project / "junit.xml").read_text(encoding="utf-8")
    assert run.returncode == 1
    assert "variable pin holds a secret, shown only as ***" in run.stdout
    assert "variable tail holds a secret" in run.stdout
    for text in (run.stdout + run.stderr, junit):
        assert PIN not in text.replace(f"press: {PIN}#", "")  # the script's own step aside
        assert "'59'" not in text and "000000" not in text


def test_simulate_never_echoes_a_secret_entry(login_project: Path) -> None:
    keys = "31x4159#\n"  # a stray letter makes the simulator say which keys it took
    run = ivr(login_project, "simulate", "login.yaml", "--fast", "--fixtures", "fixtures.yaml", stdin=keys)
    assert run.returncode == 0, run.stderr
    assert "taken: '*******'" in run.stdout
    assert PIN not in run.stdout + run.stderr and "'59'" not in run.stdout


def test_the_terminal_echo_is_off_during_a_secret_entry() -> None:
    from ivr.commands.simulate import TerminalEcho

    leader, follower = os.openpty()
    try:
        echo = TerminalEcho(follower)
        echo.hide(True)
        assert not termios.tcgetattr(follower)[3] & termios.ECHO
        echo.hide(False)
        assert termios.tcgetattr(follower)[3] & termios.ECHO
        echo.hide(True)
        echo.restore()  # the terminal as it was, whatever happened
        assert termios.tcgetattr(follower)[3] & termios.ECHO
    finally:
        os.close(leader)
        os.close(follower)
