"""The flow editor publishes a hosted tenant's flows through `ivr serve`'s publishing core:
the same check, versions and swap as `ivr publish`, its diagnostics on the editor's files."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import httpx
import pytest
import trio
from tenants_support import HANGUP_FLOW, api_server, hosting_file, running, tenant_folder

from ivr.adapters.cti.accounts import hash_password
from ivr.adapters.errors import ConfigError
from ivr.adapters.hosting.auth import token_digest
from ivr.adapters.hosting.config import HostingConfig
from ivr.adapters.hosting.testing import memory_call
from ivr.commands.edit import UsageProblem, build_context, configure
from ivr.commands.editing import HostedEditorPublisher, hosted_editor
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


async def test_ivr_serve_serves_the_editor_to_each_tenants_authors_who_publish_without_a_restart(
    tmp_path: Path,
) -> None:
    """`ivr serve --hosting ... --editor-accounts FILE`: the editor at /editor/, each tenant's
    users on their tenant's working copy, Publish through the server's core."""
    tenant_folder(tmp_path, "alpha", {"100": "main"})
    tenant_folder(tmp_path, "beta", {"200": "main"})
    hosting_file(
        tmp_path, 'alpha: {folder: alpha, numbers: ["100"]}\nbeta: {folder: beta, numbers: ["200"]}\n'
    )
    accounts = tmp_path / "editors.yaml"
    accounts.write_text(
        "users:\n"
        f"  - {{name: li.na, role: publisher, tenant: alpha, password_hash: '{hash_password('pw-alpha')}'}}\n"
        f"  - {{name: bo, role: author, tenant: beta, password_hash: '{hash_password('pw-beta')}'}}\n"
    )
    config = HostingConfig(
        data_dir=tmp_path / "var", hosting_file=tmp_path / "hosting.yaml", editor_accounts=accounts
    )
    async with api_server(tmp_path, hosted_editor(config)) as (url, hosted):
        async with httpx.AsyncClient(base_url=url + "/editor/", headers={"X-IVR-Editor": "1"}) as alpha:
            page = await alpha.get("")
            assert page.status_code == 200 and "text/html" in page.headers["content-type"]
            assert (await alpha.get("api/files")).status_code == 401  # nobody signed in yet
            wrong = await alpha.post("api/login", json={"name": "li.na", "password": "nope"})
            assert wrong.status_code == 401
            signed = await alpha.post("api/login", json={"name": "li.na", "password": "pw-alpha"})
            assert signed.status_code == 200 and signed.json()["user"]["tenant"] == "alpha"
            opened = await alpha.get("api/files/main.yaml")  # the working copy of what alpha serves
            assert opened.status_code == 200 and "Hello from alpha." in opened.json()["text"]
            edited = opened.json()["text"].replace("Hello from alpha.", "Hello from the hosted editor.")
            saved = await alpha.put(
                "api/files/main.yaml", content=edited.encode(), headers={"If-Match": opened.headers["etag"]}
            )
            assert saved.status_code == 200
            published = await alpha.post("api/publish", json={"note": "from /editor/"})
            assert published.status_code == 200, published.text
            assert published.json()["published"]["id"] == "v2"
        _, leg, _ = await memory_call(hosted.admission, "100")
        assert leg is not None and leg.prompts[0].text == "Hello from the hosted editor."
        working = tmp_path / "var" / "tenants" / "alpha" / "editing" / "main.yaml"
        assert (
            "hosted editor" in working.read_text()
            and "hosted editor" not in (tmp_path / "alpha" / "main.yaml").read_text()
        )

        async with httpx.AsyncClient(base_url=url + "/editor/", headers={"X-IVR-Editor": "1"}) as beta:
            assert (
                await beta.post("api/login", json={"name": "bo", "password": "pw-beta"})
            ).status_code == 200
            own = await beta.get("api/files/main.yaml")
            assert "Hello from beta." in own.json()["text"]  # beta's project, never alpha's
            refused = await beta.post("api/publish", json={})
            assert refused.status_code == 403  # an author edits and tests; a publisher publishes
        _, leg, _ = await memory_call(hosted.admission, "200")
        assert leg is not None and leg.prompts[0].text == "Hello from beta."


def test_ivr_serve_refuses_editor_accounts_without_a_hosting_file_or_with_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "editors.yaml"
    bad.write_text("users:\n  - {name: x, role: author, password: plain}\n")
    with pytest.raises(ConfigError, match="--hosting"):
        hosted_editor(HostingConfig(data_dir=tmp_path, editor_accounts=bad))
    with pytest.raises(ConfigError, match="password_hash"):
        hosted_editor(HostingConfig(data_dir=tmp_path, hosting_file=tmp_path / "h.yaml", editor_accounts=bad))
