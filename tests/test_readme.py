"""The README's "Try it" commands run as written (the ones that need no running server):
check, simulate (the caller hangs up at once), test with coverage, and draw."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _ivr_lines() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## Try it", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.startswith(".venv/bin/ivr")]


def test_the_readme_shows_the_commands_a_newcomer_tries() -> None:
    verbs = [line.split()[1] for line in _ivr_lines()]
    assert verbs == ["simulate", "test", "check", "draw"]


@pytest.mark.parametrize("line", _ivr_lines(), ids=lambda line: line.split()[1])
def test_readme_command_runs(line: str, tmp_path: Path) -> None:
    argv = line.split()[1:]
    argv = [re.sub(r"^build/", f"{tmp_path}/", arg) for arg in argv]
    run = subprocess.run(
        [sys.executable, "-m", "ivr", *argv],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "IVR_DATA_DIR": str(tmp_path)},
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "Traceback" not in output
    if argv[0] == "draw":
        assert (tmp_path / "orders.svg").read_text(encoding="utf-8").lstrip().startswith("<?xml")
