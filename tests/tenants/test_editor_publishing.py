"""The flow editor publishes a hosted tenant's flows through `ivr serve`'s publishing core:
the same check, versions and swap as `ivr publish`, its diagnostics on the editor's files."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pytest
import trio
from tenants_support import HANGUP_FLOW, api_server, hosting_file, running, tenant_folder

from ivr.adapters.hosting.auth import token_digest
from ivr.adapters.hosting.testing import memory_call
from ivr.commands.edit import UsageProblem, build_context, configure
from ivr.commands.editing import HostedEditorPublisher
from ivr.editor.errors import EditorError
from ivr.editor.publishing import UnknownVersion
from ivr.editor.server_publishing import ServerPublisher, ServerUnreachable
from ivr.editor.workspace import Workspace

TOKEN = "alpha-editor-token"


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


async def test_ivr_edit_with_server_publishes_to_the_running_server_over_its_http_api(
    tmp_path: Path,
) -> None:
    """`ivr edit --server URL --tenant NAME`: the Publish button goes to a running server (the
    path `ivr publish` takes); new calls get the version at once, without a restart."""
    folder = tenant_folder(tmp_path, "alpha", {"100": "main"})
    hosting_file(
        tmp_path, f'alpha: {{folder: alpha, numbers: ["100"], token_sha256: {token_digest(TOKEN)}}}\n'
    )
    desk = tmp_path / "editing" / "alpha"
    shutil.copytree(folder, desk)
    workspace = Workspace(desk)
    async with api_server(tmp_path) as (url, hosted):
        args = edit_parser().parse_args([str(desk), "--server", url, "--tenant", "alpha", "--token", TOKEN])
        editor = build_context(args).publisher
        assert isinstance(editor, ServerPublisher)

        typo = HANGUP_FLOW.format(name="main", tenant="the editor").replace("next: bye", "next: by")
        (desk / "main.yaml").write_text(typo)
        refused = await trio.to_thread.run_sync(lambda: editor.publish(workspace, "li.na", "typo"))
        assert refused.version is None
        found = [(d.code, d.span.file, d.span.line) for d in refused.diagnostics if d.is_error]
        assert found == [("FL301", str(desk / "main.yaml"), 5)]  # on the author's own file

        (desk / "main.yaml").write_text(HANGUP_FLOW.format(name="main", tenant="the editor"))
        published = await trio.to_thread.run_sync(lambda: editor.publish(workspace, "li.na", "edited"))
        assert published.version is not None and published.version.id == "v2"
        _, leg, _ = await memory_call(hosted.admission, "100")
        assert leg is not None and leg.prompts[0].text == "Hello from the editor."

        listed = await trio.to_thread.run_sync(lambda: editor.versions(workspace))
        assert [(v.id, v.author, v.current) for v in listed] == [
            ("v2", "li.na", True),
            ("v1", "ivr serve", False),
        ]
        diff = await trio.to_thread.run_sync(lambda: editor.diff(workspace, "v1", "working"))
        assert '+  hello: {type: say, prompt: {en: "Hello from the editor."}' in diff
        served = await trio.to_thread.run_sync(lambda: editor.diff(workspace, "v1", "v2"))
        assert changes(diff) == changes(served) != []  # the server's own diff says the same
        back = await trio.to_thread.run_sync(lambda: editor.rollback(workspace, "v1", "wang.wei"))
        assert back.version is not None and back.version.id == "v3"
        _, leg, _ = await memory_call(hosted.admission, "100")
        assert leg is not None and leg.prompts[0].text != "Hello from the editor."
        with pytest.raises(UnknownVersion):
            await trio.to_thread.run_sync(lambda: editor.rollback(workspace, "v7", "wang.wei"))

        stranger = ServerPublisher(url, "alpha", "not-the-token")
        with pytest.raises(ServerUnreachable, match="refused"):
            await trio.to_thread.run_sync(lambda: stranger.versions(workspace))
    gone = ServerPublisher("http://127.0.0.1:9", "alpha", TOKEN)
    with pytest.raises(ServerUnreachable, match="cannot reach"):
        gone.versions(workspace)


def test_ivr_edit_refuses_server_options_that_do_not_go_together(tmp_path: Path) -> None:
    parser = edit_parser()
    for argv, message in [
        (["--server", "http://127.0.0.1:8080"], "--tenant"),
        (["--tenant", "alpha"], "--server"),
        (["--server", "127.0.0.1:8080", "--tenant", "alpha"], "http://"),
    ]:
        with pytest.raises(UsageProblem, match=message):
            build_context(parser.parse_args([str(tmp_path), *argv]))


def changes(diff: str) -> list[str]:
    """A diff's changed lines, without the file headers (their labels differ)."""
    return [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]


def edit_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    configure(parser)
    return parser
