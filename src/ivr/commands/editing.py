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

from ivr.adapters.hosting.publishing import Outcome, Publisher
from ivr.adapters.hosting.versions import VersionError, snapshot, unified_diff
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
