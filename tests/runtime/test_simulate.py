"""`ivr simulate` driven through stdin (no TTY): prompts as text, the path, the summary."""

from __future__ import annotations

import subprocess
import sys
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
    assert run.returncode == 2 and "name a flow: quotes" in run.stderr
