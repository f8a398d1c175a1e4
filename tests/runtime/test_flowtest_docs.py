"""The examples of docs/testing.md run and pass; `ivr test` exit codes and diagnostics."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ivr.cli import main

DOC = Path(__file__).parents[2] / "docs" / "testing.md"


def write_doc_examples(folder: Path) -> None:
    text = DOC.read_text(encoding="utf-8")
    for name, body in re.findall(r"<!-- file: (\S+) -->\n```yaml\n(.*?)```", text, re.S):
        (folder / name).write_text(body, encoding="utf-8")


def test_doc_examples_pass_with_coverage_and_junit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_doc_examples(tmp_path)
    junit = tmp_path / "report.xml"
    code = main(["test", str(tmp_path), "--coverage", "--junit", str(junit)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "6 passed, 0 failed" in out
    assert re.search(r"quotes\s+7/7", out)
    assert "<testcase" in junit.read_text(encoding="utf-8")


def test_a_failing_expect_marks_the_prompt_heard(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_doc_examples(tmp_path)
    test = tmp_path / "quotes.test.yaml"
    test.write_text(
        test.read_text(encoding="utf-8").replace("expect: 贵州茅台", "expect: 五粮液"), encoding="utf-8"
    )
    assert main(["test", str(test)]) == 1
    out = capsys.readouterr().out
    assert "expected a prompt matching /五粮液/, heard '贵州茅台最新价1499.50元'" in out
    assert ">  2. 贵州茅台" in out


def test_malformed_test_file_gets_positioned_diagnostics(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_doc_examples(tmp_path)
    (tmp_path / "quotes.test.yaml").write_text(
        "tests:\n  - name: x\n    flow: quotes\n    script:\n      - pres: '1'\n      - silence: soon\n",
        encoding="utf-8",
    )
    assert main(["test", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "quotes.test.yaml:5:9: error[FT101]: unknown step 'pres'" in out
    assert "did you mean 'press'?" in out
    assert "quotes.test.yaml:6:18: error[FT101]: 'soon' is not a duration" in out


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    assert main(["test", str(tmp_path / "nope")]) == 2
