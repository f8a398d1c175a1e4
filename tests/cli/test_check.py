"""`ivr check`: rendered diagnostics, a summary line, JSON output and exit codes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from ivr.commands import check

CONFORMANCE = Path(__file__).parents[1] / "conformance"
CLEAN = [str(CONFORMANCE / "service.yaml"), str(CONFORMANCE / "lib"), str(CONFORMANCE / "valid")]


def ivr_check(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    check.configure(parser)
    return check.run(parser.parse_args(list(argv)))


def test_clean_project_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert ivr_check(*CLEAN) == 0
    assert capsys.readouterr().out == "ok: 8 flows checked\n"


def test_errors_are_rendered_with_source_caret_and_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flow = tmp_path / "main.yaml"
    flow.write_text(
        "flow: m\nlanguages: [en]\nstart: a\nnodes:\n  a: {type: say, prompt: Hi, barge_in: no}\n"
    )
    assert ivr_check(str(flow)) == 1
    out = capsys.readouterr().out
    assert f"{flow}:5:40: error[FL103]: `barge_in` expects true or false, got the text 'no'" in out
    assert "   5 |   a: {type: say, prompt: Hi, barge_in: no}\n" in out
    assert "hint: YAML 1.1 'no' is text here; write false" in out
    assert out.rstrip().endswith("2 errors, 0 warnings in 1 file")


def test_warnings_pass_unless_strict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flow = tmp_path / "main.yaml"
    flow.write_text("flow: m\nlanguages: [en]\nvariables: {u: {}}\nstart: a\nnodes:\n  a: {type: hangup}\n")
    assert ivr_check(str(flow)) == 0
    assert capsys.readouterr().out.rstrip().endswith("ok: 1 flow checked, 1 warning")
    assert ivr_check("--strict", str(flow)) == 1


def test_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flow = tmp_path / "main.yaml"
    flow.write_text("flow: m\nlanguages: [en]\nstart: b\nnodes:\n  a: {type: hangup}\n")
    assert ivr_check("--format", "json", str(flow)) == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["errors"], report["warnings"], report["flows"], report["files"]) == (1, 0, ["m"], 1)
    [d] = report["diagnostics"]
    assert (d["code"], d["severity"], d["line"], d["column"]) == ("FL302", "error", 3, 8)


def test_missing_path_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert ivr_check("no/such/folder") == 2
    assert "no/such/folder: no such file or folder" in capsys.readouterr().err


def test_no_path_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exit_:
        ivr_check()
    assert exit_.value.code == 2


def test_a_folder_without_yaml_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.txt").write_text("not a flow", encoding="utf-8")
    assert ivr_check(str(tmp_path)) == 2
    assert "no YAML files under" in capsys.readouterr().err


def test_an_empty_file_named_on_its_own_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert ivr_check(str(empty)) == 1
    out = capsys.readouterr().out
    assert f"{empty}:1:1: error[FL008]: the file is empty; a file named to be checked must be" in out
    assert out.rstrip().endswith("1 error, 0 warnings in 1 file")


def test_a_file_holding_only_text_named_on_its_own_is_an_error_naming_that_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stray = tmp_path / "stray.yaml"
    stray.write_text("# left over\n._\n")
    assert ivr_check("--format", "json", str(stray)) == 1
    [d] = json.loads(capsys.readouterr().out)["diagnostics"]
    assert (d["code"], d["severity"], d["line"], d["column"]) == ("FL008", "error", 2, 1)  # at the text
    assert "holds '._'" in d["message"]


def test_a_folder_scan_still_skips_a_foreign_file_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "main.yaml").write_text("flow: m\nlanguages: [en]\nstart: a\nnodes:\n  a: {type: hangup}\n")
    (tmp_path / "notes.yaml").write_text("")
    assert ivr_check(str(tmp_path)) == 0
    out = capsys.readouterr().out
    assert "warning[FL008]: the file is empty; it is skipped" in out
    assert out.rstrip().endswith("ok: 1 flow checked, 1 warning")


def test_a_flow_test_file_named_on_its_own_is_checked_as_ivr_test_reads_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tests = tmp_path / "main.test.yaml"
    tests.write_text("tests:\n  - name: greets\n    flw: main\n")
    assert ivr_check(str(tests)) == 1
    out = capsys.readouterr().out
    assert f"{tests}:3:5: error[FT101]: unknown field 'flw'" in out
    assert "   3 |     flw: main\n" in out
