"""The local publishing core behind the Publish button (`FolderPublisher`): checked first,
every version kept with who and when, diffs, rollbacks that publish an old version anew."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from editor_support import copy_flows

from ivr.editor.publishing import FolderPublisher, UnknownVersion
from ivr.editor.workspace import Workspace


def test_publish_change_publish_diff_and_roll_back(tmp_path: Path) -> None:
    folder = copy_flows(tmp_path)
    workspace = Workspace(folder)
    publisher = FolderPublisher(tmp_path / "published")
    first = publisher.publish(workspace, "pat", "first")
    orders = folder / "orders.yaml"
    orders.write_text(orders.read_text(encoding="utf-8").replace("买入请按1", "购买请按1"), encoding="utf-8")
    second = publisher.publish(workspace, "pat", "wording")
    assert first.version is not None and second.version is not None
    assert (first.version.id, second.version.id) == ("v1", "v2")
    diff = publisher.diff(workspace, "v1", "v2")
    assert "-      zh: 买入请按1" in diff and "+      zh: 购买请按1" in diff and "orders.yaml" in diff
    back = publisher.rollback(workspace, "v1", "pat")
    assert back.version is not None and back.version.id == "v3" and back.version.note == "rollback to v1"
    live = tmp_path / "published" / "project" / "v3" / "files" / "orders.yaml"
    assert "买入请按1" in live.read_text(encoding="utf-8")
    assert "购买请按1" in orders.read_text(encoding="utf-8")  # the working files are the author's
    assert [(v.id, v.current) for v in publisher.versions(workspace)] == [
        ("v3", True),
        ("v2", False),
        ("v1", False),
    ]
    log = [
        json.loads(line)
        for line in (tmp_path / "published" / "project" / "publish.log").read_text().splitlines()
    ]
    assert [(e["action"], e["version"], e["author"]) for e in log] == [
        ("publish", "v1", "pat"),
        ("publish", "v2", "pat"),
        ("rollback", "v3", "pat"),
    ]


def test_a_project_with_errors_is_not_published(tmp_path: Path) -> None:
    folder = copy_flows(tmp_path)
    (folder / "broken.yaml").write_text(
        "flow: broken\nlanguages: [zh]\nstart: a\nnodes:\n  a: {type: say, prompt: x, next: b}\n"
    )
    publisher = FolderPublisher(tmp_path / "published")
    outcome = publisher.publish(Workspace(folder), "pat", "")
    assert not outcome.ok and {d.code for d in outcome.diagnostics} == {"FL301"}
    assert publisher.versions(Workspace(folder)) == []


def test_an_unknown_version_is_named(tmp_path: Path) -> None:
    folder = copy_flows(tmp_path)
    publisher = FolderPublisher(tmp_path / "published")
    with pytest.raises(UnknownVersion):
        publisher.rollback(Workspace(folder), "../../etc", "pat")
    with pytest.raises(UnknownVersion):
        publisher.diff(Workspace(folder), "v9", "working")
