"""`ivr simulate` driven through stdin (no TTY): prompts as text, the path, the summary."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from test_flowtest_docs import write_doc_examples

FIXTURES = "operations:\n  get_quote: {result: {found: true, name: Moutai, last: 1499.50}}\n"


def simulate(folder: Path, keys: str, *args: str) -> subprocess.CompletedProcess[str]:
    (folder / "fixtures.yaml").write_text(FIXTURES, encoding="utf-8")
    command = [
        sys.executable,
        "-m",
        "ivr",
        "simulate",
        *args,
        "--fast",
        "--fixtures",
        str(folder / "fixtures.yaml"),
    ]
    return subprocess.run(command, input=keys, capture_output=True, text=True, timeout=60, check=False)


def test_simulate_a_flow_file_with_piped_keys(tmp_path: Path) -> None:
    write_doc_examples(tmp_path)
    run = simulate(
        tmp_path,
        "\n600519#\n",
        str(tmp_path / "quotes.yaml"),
        "--lang",
        "en",
        "--at",
        "2026-11-27T10:00+08:00",
    )
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "(en) Enter the six-digit code then hash" in out
    assert "(silence: 5s passed)" in out and "Sorry, I didn't hear you" in out
    assert "Moutai last 1499.50" in out
    assert "path: hours -> ask_code -> fetch -> read -> goodbye" in out
    assert "call ended: completed" in out


def test_simulate_by_dialed_number_and_hang_up(tmp_path: Path) -> None:
    write_doc_examples(tmp_path)
    run = simulate(tmp_path, "h\n", str(tmp_path), "--number", "95500", "--at", "2026-11-27T10:00+08:00")
    assert run.returncode == 0, run.stderr
    assert "请输入六位股票代码" in run.stdout and "call ended: caller_hangup" in run.stdout


def test_simulate_needs_a_flow_name_for_a_folder(tmp_path: Path) -> None:
    write_doc_examples(tmp_path)
    run = simulate(tmp_path, "", str(tmp_path))
    assert run.returncode == 2 and "name a flow: cash, quotes" in run.stderr


SHORT = """
flow: short
languages: [en]
variables:
  name: {type: string}
start: fetch
nodes:
  fetch:
    type: lookup
    operation: get_quote
    args: {code: "'600519'"}
    assign: {name: result.name}
    next: notify
    on_error: ask
  notify:
    type: send
    channel: sms
    to: call.caller
    message: "Quote for {name}"
    next: ask
    on_error: ask
  ask:
    type: menu
    prompt: Press 1
    no_input_prompt: Nothing heard
    timeout: 400ms
    max_retries: 1
    options: {"1": yes}
    on_no_input: bye
  yes: {type: hangup, prompt: Yes}
  bye: {type: hangup, prompt: Goodbye}
"""
SHORT_SERVICE = """
service: short
languages: [en]
operations:
  get_quote: {backend: python, function: "x:y", params: [code], returns: [name]}
channels:
  sms: {kind: sms}
"""


def test_simulate_in_real_time_lets_timeouts_pass_while_nobody_types(tmp_path: Path) -> None:
    (tmp_path / "short.yaml").write_text(SHORT, encoding="utf-8")
    (tmp_path / "service.yaml").write_text(SHORT_SERVICE, encoding="utf-8")
    (tmp_path / "fixtures.yaml").write_text(FIXTURES, encoding="utf-8")
    command = [sys.executable, "-m", "ivr", "simulate", str(tmp_path / "short.yaml")]
    command += ["--fixtures", str(tmp_path / "fixtures.yaml")]
    # stdin stays open and silent: only the real-time timeouts can move the call on
    with subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        start = time.monotonic()
        try:
            out, err = _wait_silently(process)
        finally:
            process.kill()
    elapsed = time.monotonic() - start
    assert process.returncode == 0, err
    assert out.count("(silence: 0.400s passed)") == 2 and "Nothing heard" in out
    assert "[get_quote(code='600519'): ok, " in out
    assert "[send sms to 13800000000: 'Quote for Moutai': queued, msg-1]" in out
    assert "path: fetch -> notify -> ask -> bye" in out and "call ended: completed" in out
    assert 0.8 <= elapsed < 10  # two 0.4 s timeouts in real time (plus the start-up)


def _wait_silently(process: subprocess.Popen[str]) -> tuple[str, str]:
    """Wait for the process to end while keeping its stdin open, then read its output."""
    process.wait(timeout=10)
    assert process.stdout is not None and process.stderr is not None
    return process.stdout.read(), process.stderr.read()


def test_simulate_shows_the_global_keys_and_0_reaches_an_agent() -> None:
    flows = Path(__file__).resolve().parents[2] / "flows"
    command = [sys.executable, "-m", "ivr", "simulate", str(flows / "main.yaml"), "--fast"]
    command += ["--at", "2026-11-27T10:00+08:00", "--caller", "10086"]
    run = subprocess.run(command, input="1\n0\n", capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert out.count("(keys that work here: 0 agent, * back, # repeat)") == 1  # shown when they change
    assert "-> general_queue" in out and "call ended: completed" in out
    assert "path: identify -> choose_language -> to_mandarin" in out and "main_menu -> agent" in out
