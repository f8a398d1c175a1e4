"""docs/outbound.md stays true: its YAML is the own text of the example service and flow, or
of flows/service.yaml for the notification campaign (which the end-to-end tests run), and
its `ivr simulate` / `ivr test` lines run as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
DOC = (ROOT / "docs" / "outbound.md").read_text(encoding="utf-8")
EXAMPLES = "".join(
    p.read_text(encoding="utf-8")
    for p in [*sorted((ROOT / "examples" / "outbound").glob("*.yaml")), ROOT / "flows" / "service.yaml"]
)


def _blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", DOC, re.S)


@pytest.mark.parametrize("block", _blocks("yaml"), ids=lambda b: b.split(":", 1)[0])
def test_each_yaml_example_is_the_example_projects_text(block: str) -> None:
    assert block in EXAMPLES


def _offline_lines() -> list[str]:
    lines = [line.split("#", 1)[0].strip() for block in _blocks("sh") for line in block.splitlines()]
    return [
        line
        for line in lines
        if line.startswith(".venv/bin/ivr ") and line.split()[1] in ("simulate", "test")
    ]


@pytest.mark.parametrize("line", _offline_lines(), ids=lambda line: line.split()[1])
def test_the_offline_commands_run_as_written(line: str) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "ivr", *line.split()[1:]],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr
