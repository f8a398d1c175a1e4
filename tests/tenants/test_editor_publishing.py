"""The flow editor publishes a hosted tenant's flows through `ivr serve`'s publishing core:
the same check, versions and swap as `ivr publish`, its diagnostics on the editor's files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import trio
from tenants_support import HANGUP_FLOW, hosting_file, running, tenant_folder

from ivr.adapters.hosting.testing import memory_call
from ivr.commands.editing import HostedEditorPublisher
from ivr.editor.errors import EditorError
from ivr.editor.publishing import UnknownVersion
from ivr.editor.workspace import Workspace


async def test_the_editor_publishes_lists_diffs_and_rolls_back_a_tenants_flows(tmp_path: Path) -> None:
    folder = tenant_folder(tmp_path, "alpha", {"100": "main"})
    hosting_file(tmp_path, 'alpha: {folder: alpha, numbers: ["100"]}\n')
    desk = tmp_path / "editing" / "alpha"
    shutil.copytree(folder, desk)
    workspace = Workspace(desk, "alpha")
    async with running(tmp_path) as hosted:
        assert hosted.publisher is not None
        editor = HostedEditorPublisher(hosted.publisher)

        typo = HANGUP_FLOW.format(name="main", tenant="the editor").replace("next: bye", "next: by")
        (desk / "main.yaml").write_text(typo)
        refused = await trio.to_thread.run_sync(lambda: editor.publish(workspace, "li.na", "typo"))
        assert refused.version is None
        found = [(d.code, d.span.file, d.span.line) for d in refused.diagnostics if d.is_error]
        assert found == [("FL301", str(desk / "main.yaml"), 5)]
        (desk / "main.yaml").write_text(HANGUP_FLOW.format(name="main", tenant="the editor"))
        published = await trio.to_thread.run_sync(
            lambda: editor.publish(workspace, "li.na", "from the editor")
        )
        assert published.version is not None and (published.version.id, published.version.current) == (
            "v2",
            True,
        )
        _, leg, _ = await memory_call(hosted.admission, "100")
        assert leg is not None and leg.prompts[0].text == "Hello from the editor."
        listed = await trio.to_thread.run_sync(lambda: editor.versions(workspace))
        assert [(v.id, v.author, v.current) for v in listed] == [
            ("v2", "li.na", True),
            ("v1", "ivr serve", False),
        ]
        diff = await trio.to_thread.run_sync(lambda: editor.diff(workspace, "v1", "working"))
        assert '+  hello: {type: say, prompt: {en: "Hello from the editor."}' in diff
        back = await trio.to_thread.run_sync(lambda: editor.rollback(workspace, "v1", "wang.wei"))
        assert back.version is not None and back.version.id == "v3"
        with pytest.raises(UnknownVersion):
            await trio.to_thread.run_sync(lambda: editor.rollback(workspace, "v7", "wang.wei"))
        with pytest.raises(EditorError, match="author"):
            await trio.to_thread.run_sync(lambda: editor.publish(workspace, "", ""))
