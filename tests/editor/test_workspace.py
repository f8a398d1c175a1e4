"""The project folder: paths outside it are refused before anything is opened; saves write
exactly the given text, only over the version the author opened, atomically."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivr.editor.errors import (
    FileMissing,
    FileTooLarge,
    FileUnreadable,
    PathRefused,
    VersionConflict,
    VersionRequired,
)
from ivr.editor.workspace import Workspace, version_of
from ivr.flowlang.yamlsource import MAX_BYTES


@pytest.fixture
def project(tmp_path: Path) -> Workspace:
    root = tmp_path / "project"
    (root / "sub").mkdir(parents=True)
    (root / "main.yaml").write_text("flow: main  # a comment\n", encoding="utf-8")
    (root / "sub" / "more.yaml").write_text("flow: more\n", encoding="utf-8")
    (tmp_path / "secret.yaml").write_text("password: hunter2\n", encoding="utf-8")
    return Workspace(root)


@pytest.mark.parametrize(
    "path",
    [
        "../secret.yaml",
        "sub/../../secret.yaml",
        "/etc/passwd",
        "C:/x.yaml",
        "sub\\..\\..\\secret.yaml",
        "%2e%2e/secret.yaml",
        ".git/config.yaml",
        "main.yaml\x00.txt",
        "main.py",
        "",
        "sub//more.yaml",
        "./main.yaml",
    ],
)
def test_a_path_that_is_not_a_plain_project_file_is_refused(project: Workspace, path: str) -> None:
    with pytest.raises(PathRefused):
        project.read(path)


def test_a_symbolic_link_leading_out_of_the_project_is_refused_and_unlisted(
    project: Workspace, tmp_path: Path
) -> None:
    os.symlink(tmp_path / "secret.yaml", project.root / "link.yaml")
    os.symlink(tmp_path, project.root / "outside")
    with pytest.raises(PathRefused, match="outside the project"):
        project.read("link.yaml")
    with pytest.raises(PathRefused):
        project.save("outside/secret.yaml", "x: 1\n", if_match=version_of(b"password: hunter2\n"))
    assert (tmp_path / "secret.yaml").read_text() == "password: hunter2\n"
    assert [e.path for e in project.tree()] == ["main.yaml", "sub/more.yaml"]


def test_a_link_inside_the_project_is_followed(project: Workspace) -> None:
    os.symlink(project.root / "main.yaml", project.root / "alias.yaml")
    assert project.read("alias.yaml").text.startswith("flow: main")


def test_saving_writes_exactly_the_text_keeping_comments_crlf_and_bom(project: Workspace) -> None:
    original = "\ufeffflow: main\r\n# 注释 kept\r\nnodes: {}\r\n".encode()
    (project.root / "main.yaml").write_bytes(original)
    opened = project.read("main.yaml")
    assert opened.text == "flow: main\r\n# 注释 kept\r\nnodes: {}\r\n"
    project.save("main.yaml", opened.text, if_match=opened.version)
    assert (project.root / "main.yaml").read_bytes() == original
    changed = opened.text.replace("kept", "still kept")
    version = project.save("main.yaml", changed, if_match=opened.version)
    assert (project.root / "main.yaml").read_bytes() == b"\xef\xbb\xbf" + changed.encode()
    assert version == project.read("main.yaml").version


def test_a_save_over_a_changed_file_is_a_conflict_and_writes_nothing(project: Workspace) -> None:
    opened = project.read("main.yaml")
    (project.root / "main.yaml").write_text("flow: main\n# someone else\n", encoding="utf-8")
    with pytest.raises(VersionConflict) as caught:
        project.save("main.yaml", "flow: mine\n", if_match=opened.version)
    assert caught.value.extra["current"] == project.read("main.yaml").version
    assert (project.root / "main.yaml").read_text() == "flow: main\n# someone else\n"


def test_a_save_must_name_the_version_it_replaces(project: Workspace) -> None:
    with pytest.raises(VersionRequired):
        project.save("main.yaml", "flow: x\n", if_match=None)


def test_creating_a_file_that_exists_is_a_conflict(project: Workspace) -> None:
    with pytest.raises(VersionConflict):
        project.save("main.yaml", "flow: x\n", if_match=None, create=True)
    project.save("sub/new.yaml", "flow: new\n", if_match=None, create=True)
    assert (project.root / "sub" / "new.yaml").read_text() == "flow: new\n"


def test_a_huge_file_is_refused_on_read_and_on_save(project: Workspace) -> None:
    (project.root / "big.yaml").write_bytes(b"#" * (MAX_BYTES + 1))
    with pytest.raises(FileTooLarge):
        project.read("big.yaml")
    with pytest.raises(FileTooLarge):
        project.save("main.yaml", "#" * (MAX_BYTES + 1), if_match=project.read("main.yaml").version)
    assert project.read("main.yaml").text == "flow: main  # a comment\n"


def test_a_file_that_is_not_utf8_is_unreadable_with_its_position(project: Workspace) -> None:
    (project.root / "latin.yaml").write_bytes(b"flow: caf\xe9\n")
    with pytest.raises(FileUnreadable) as caught:
        project.read("latin.yaml")
    [diagnostic] = caught.value.extra["diagnostics"]  # type: ignore[misc]
    assert diagnostic["code"] == "FL004" and diagnostic["line"] == 1 and diagnostic["column"] == 10


def test_a_missing_file_and_a_folder_are_told_apart(project: Workspace) -> None:
    with pytest.raises(FileMissing):
        project.read("nope.yaml")
    (project.root / "folder.yaml").mkdir()
    with pytest.raises(FileUnreadable):
        project.read("folder.yaml")


def test_no_temporary_file_is_left_behind(project: Workspace) -> None:
    opened = project.read("main.yaml")
    project.save("main.yaml", "flow: main\n", if_match=opened.version)
    assert sorted(p.name for p in project.root.iterdir()) == ["main.yaml", "sub"]


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=40))
def test_any_name_either_resolves_inside_the_project_or_is_refused(name: str) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        workspace = Workspace(folder)
        try:
            resolved = workspace.resolve(name)
        except PathRefused:
            return
        assert resolved.is_relative_to(workspace.root) and resolved != workspace.root
