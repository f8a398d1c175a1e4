"""The global-keys example of docs/language.md (a service, a flow, its flow test) checks
clean and its test passes: back, repeat and the agent key, and the draft on the screen."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ivr.cli import main
from ivr.flowlang.project import load_project

DOC = Path(__file__).parents[2] / "docs" / "language.md"


def write_examples(folder: Path) -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    found = re.findall(r"<!-- file: (\S+) -->\n```yaml\n(.*?)```", text, re.S)
    for name, body in found:
        (folder / name).write_text(body, encoding="utf-8")
    return [name for name, _ in found]


def test_the_global_keys_example_checks_clean_and_its_test_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert write_examples(tmp_path) == ["service.yaml", "orders.yaml", "orders.test.yaml"]
    _, diagnostics = load_project([tmp_path])
    assert diagnostics == []
    assert main(["test", str(tmp_path)]) == 0
    assert "1 passed, 0 failed" in capsys.readouterr().out


def test_the_example_fails_when_the_agent_key_is_also_a_menu_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_examples(tmp_path)
    flow = tmp_path / "orders.yaml"
    text = flow.read_text(encoding="utf-8")
    offers_zero = text.replace('options: {"1": ask_code}', 'options: {"1": ask_code, "0": bye}')
    flow.write_text(offers_zero, encoding="utf-8")
    assert main(["check", str(tmp_path)]) == 1
    assert "error[FL310]: menu node 'refused' offers option '0'" in capsys.readouterr().out
