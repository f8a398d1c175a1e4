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
    assert capsys.readouterr().out == "ok: 7 flows checked\n"


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
