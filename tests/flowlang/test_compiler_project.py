"""Loading projects: files and folders, what is a flow, what is skipped, project-level codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.flowlang.diagnostics import Severity
from ivr.flowlang.project import load_flow_text, load_project

FLOW = "flow: {name}\nlanguages: [en]\nstart: a\nnodes:\n  a: {{type: hangup, prompt: Bye}}\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_folders_are_searched_and_tests_skipped(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", FLOW.format(name="a"))
    write(tmp_path / "sub" / "b.yaml", FLOW.format(name="b"))
    write(tmp_path / "a.test.yaml", "tests: [")
    write(tmp_path / "service.yaml", "service: s\n")
    project, found = load_project([tmp_path])
    assert found == []
    assert sorted(project.flows) == ["a", "b"]
    assert project.service is not None and project.service.name == "s"
    assert set(project.sources) == {
        str(tmp_path / "a.yaml"),
        str(tmp_path / "sub" / "b.yaml"),
        str(tmp_path / "service.yaml"),
    }


def test_project_level_problems(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", FLOW.format(name="a"))
    write(tmp_path / "copy.yaml", FLOW.format(name="a"))
    write(tmp_path / "s1.yaml", "service: one\n")
    write(tmp_path / "s2.yaml", "service: two\n")
    write(tmp_path / "other.yaml", "name: x\n")
    _, found = load_project([tmp_path, tmp_path / "missing"])
    assert sorted((d.code, d.severity) for d in found) == [
        ("FL005", Severity.ERROR),
        ("FL006", Severity.ERROR),
        ("FL007", Severity.ERROR),
        ("FL008", Severity.WARNING),
    ]


def test_flows_with_errors_are_kept(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", FLOW.format(name="a") + "  b: {type: say, prompt: Hi, next: nowhere}\n")
    project, found = load_project([tmp_path / "a.yaml"])
    assert "a" in project.flows
    assert any(d.code == "FL301" for d in found)


def test_encoding_and_syntax_problems_are_diagnostics(tmp_path: Path) -> None:
    (tmp_path / "gbk.yaml").write_bytes("flow: 中文".encode("gbk"))
    write(tmp_path / "bad.yaml", "flow: [\n")
    project, found = load_project([tmp_path])
    assert sorted(d.code for d in found) == ["FL001", "FL004"]
    assert project.flows == {}


def test_load_flow_text_refuses_a_service_file() -> None:
    flow, found = load_flow_text("service: s\n", "s.yaml")
    assert flow is None
    assert [(d.code, d.message) for d in found] == [("FL008", "expected a flow, but this is a service file")]


def test_diagnostics_are_ranked_errors_first() -> None:
    text = "flow: t\nlanguages: [en]\nvariables: {u: {}}\nstart: a\nnodes:\n  a: {type: say, prompt: Hi}\n"
    _, found = load_flow_text(text, "t.yaml")
    assert [d.code for d in found] == ["FL304", "FL502"]


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "a.yaml", FLOW.format(name="a"))

    def refuse(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", refuse)
    _, found = load_project([path])
    assert [(d.code, d.message) for d in found] == [("FL009", "the file cannot be read: Permission denied")]


def test_flow_language_missing_from_the_service(tmp_path: Path) -> None:
    write(
        tmp_path / "a.yaml",
        FLOW.format(name="a")
        .replace("[en]", "[en, zh]")
        .replace("prompt: Bye", "prompt: {en: Bye, zh: 再见}"),
    )
    write(tmp_path / "service.yaml", "service: s\nlanguages: [en]\n")
    _, found = load_project([tmp_path])
    assert [(d.code, d.severity, d.message) for d in found] == [
        ("FL407", Severity.WARNING, "flow 'a' speaks 'zh', which the service does not list")
    ]
