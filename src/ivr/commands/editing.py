"""The flow editor's Publish, List, Diff and Roll back on `ivr serve`'s publishing core.

Not a subcommand: the glue that lets the editor (`ivr.editor`, issue #12) publish a hosted
tenant's flows through exactly the path `ivr publish` and `POST /tenants/<t>/versions` take
(`ivr.adapters.hosting.publishing.Publisher`: the full check, versions kept, the atomic
swap). It lives in the command layer because the editor and the adapters do not import each
other. The editor calls these methods in a worker thread; each reaches back into trio for
the core's async work.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import trio
from starlette.routing import BaseRoute, Mount

from ivr.adapters.errors import ConfigError
from ivr.adapters.hosting.config import HostingConfig
from ivr.adapters.hosting.publishing import Outcome, Publisher
from ivr.adapters.hosting.server import Hosted, Mounts
from ivr.adapters.hosting.versions import VersionError, snapshot, unified_diff
from ivr.editor.app import BundleMissing, build_editor_app
from ivr.editor.auth import AccountsError, load_accounts
from ivr.editor.context import EditorContext
from ivr.editor.errors import EditorError
from ivr.editor.publishing import WORKING, PublishedVersion, PublishOutcome, UnknownVersion
from ivr.editor.workspace import Workspace
from ivr.flowlang.diagnostics import Diagnostic


class HostedEditorPublisher:
    """`ivr.editor.publishing.Publisher` over the hosting publisher; a workspace is a tenant's
    project (its `name`, as the editor's context keys projects by tenant)."""

    def __init__(self, core: Publisher, tenants: Mapping[str, str] | None = None) -> None:
        self.core = core
        self.tenants = dict(tenants or {})  # workspace name -> tenant, where they differ

    def publish(self, workspace: Workspace, author: str, note: str) -> PublishOutcome:
        tenant = self._tenant(workspace)
        files = snapshot(workspace.root)
        outcome = trio.from_thread.run(lambda: self.core.publish(tenant, files, author=author, note=note))
        return self._outcome(workspace, tenant, outcome)

    def versions(self, workspace: Workspace) -> list[PublishedVersion]:
        tenant = self._tenant(workspace)
        current = self.core.current.get(tenant)
        store = self.core.stores[tenant]
        return [
            PublishedVersion(
                v.id,
                v.author,
                datetime.fromisoformat(v.created),
                v.note,
                tuple(sorted(store.read_files(v.id))),
                v.id == current,
            )
            for v in reversed(self.core.versions(tenant))
        ]

    def diff(self, workspace: Workspace, old: str, new: str) -> str:
        tenant = self._tenant(workspace)
        return unified_diff(
            self._files(workspace, tenant, old), self._files(workspace, tenant, new), old, new
        )

    def rollback(self, workspace: Workspace, version: str, author: str) -> PublishOutcome:
        tenant = self._tenant(workspace)
        outcome = trio.from_thread.run(lambda: self.core.rollback(tenant, version, author=author))
        if outcome.version is None and not outcome.diagnostics and "no version" in outcome.message:
            raise UnknownVersion(outcome.message)
        return self._outcome(workspace, tenant, outcome)

    # -- helpers ---------------------------------------------------------------------------
    def _tenant(self, workspace: Workspace) -> str:
        return self.tenants.get(workspace.name, workspace.name)

    def _files(self, workspace: Workspace, tenant: str, version: str) -> dict[str, bytes]:
        if version == WORKING:
            return snapshot(workspace.root)
        try:
            return self.core.stores[tenant].read_files(version)
        except VersionError as exc:
            raise UnknownVersion(str(exc)) from exc

    def _outcome(self, workspace: Workspace, tenant: str, outcome: Outcome) -> PublishOutcome:
        """The core's outcome with its `tenant/<file>` names turned into the workspace's files."""
        diagnostics = tuple(_in_workspace(d, workspace.root, tenant) for d in outcome.diagnostics)
        if not outcome.ok or outcome.version is None:
            if not diagnostics:  # refused before any check: file names, no author, not served
                raise EditorError(outcome.message or "the version was refused", code="publish_refused")
            return PublishOutcome(None, diagnostics)
        v = outcome.version
        files = tuple(sorted(self.core.stores[tenant].read_files(v.id)))
        version = PublishedVersion(v.id, v.author, datetime.fromisoformat(v.created), v.note, files, True)
        return PublishOutcome(version, diagnostics)


def _in_workspace(diagnostic: Diagnostic, root: Path, tenant: str) -> Diagnostic:
    prefix = f"{tenant}/"
    file = diagnostic.span.file
    if not file.startswith(prefix):
        return diagnostic
    return replace(diagnostic, span=replace(diagnostic.span, file=str(root / file.removeprefix(prefix))))


def hosted_editor(config: HostingConfig) -> Mounts:
    """The flow editor at `/editor/` of `ivr serve --hosting ... --editor-accounts FILE`.

    Each tenant's users (the accounts file's `tenant:`) sign in with name and password and
    edit their tenant's working copy, `DATA_DIR/tenants/<t>/editing/` (taken from the version
    served when first made); Publish goes through the server's publishing core
    (`HostedEditorPublisher`), so new calls get the version at once. `ConfigError` when the
    accounts file cannot be used or there is no hosting file."""
    from ivr.adapters.cti.accounts import verify_password

    accounts = config.editor_accounts
    if accounts is None or config.hosting_file is None:
        raise ConfigError("--editor-accounts serves the editor for a hosting file's tenants: give --hosting")
    try:
        logins = load_accounts(accounts, verify_password)
    except AccountsError as exc:
        raise ConfigError(str(exc)) from None

    def mount(hosted: Hosted) -> list[BaseRoute]:
        publisher = hosted.publisher
        if publisher is None:
            raise ConfigError("the editor publishes through the hosting file's publishing")
        projects = {
            t.name: Workspace(working_copy(publisher, t.name, config.data_dir), t.name)
            for t in hosted.tenants
        }
        context = EditorContext(projects, publisher=HostedEditorPublisher(publisher), logins=logins)
        try:
            app = build_editor_app(context)
        except BundleMissing as exc:
            raise ConfigError(str(exc)) from None
        return [Mount("/editor", app=app)]

    return mount


def working_copy(publisher: Publisher, tenant: str, data_dir: Path) -> Path:
    """A tenant's editing folder, made from the version it serves the first time (kept after:
    it holds what the tenant's authors saved and have not published yet)."""
    folder = data_dir / "tenants" / tenant / "editing"
    if folder.is_dir():
        return folder
    current = publisher.current.get(tenant)
    files = publisher.files(tenant, current) if current is not None else {}
    staging = folder.with_name(".editing-new")
    for name, content in files.items():
        target = staging / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    staging.mkdir(parents=True, exist_ok=True)
    staging.rename(folder)  # whole or not at all
    return folder
