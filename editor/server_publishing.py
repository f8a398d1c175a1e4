"""Publishing from the editor to a running `ivr serve --hosting`: the Publish button's remote core.

Place: behind the editor's `Publisher` interface (`ivr.editor.publishing`), chosen by
`ivr edit --server URL --tenant NAME` instead of the local `FolderPublisher`. It speaks the
server's HTTP API, the same path `ivr publish` takes (docs/tenants.md): the project's saved
flows, service file, tests and prompt audio go to `POST /tenants/NAME/versions`, where the
server checks them, keeps the version and serves it to new calls at once (calls in progress
finish on theirs); a version with errors comes back refused with every diagnostic, placed on
the author's own files. Versions, diffs and rollbacks are the server's. The editor never
imports the hosting code: only HTTP (the layer contract in pyproject.toml).

The server enforces its own roles through the API token (a tenant's token can publish only
to that tenant); the editor's author/publisher roles still decide who may press Publish.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from ivr.editor.errors import EditorError
from ivr.editor.publishing import WORKING, PublishedVersion, PublishOutcome, UnknownVersion, unified
from ivr.editor.workspace import Workspace
from ivr.flowlang.diagnostics import Diagnostic, Severity, Span

PUBLISHED_SUFFIXES = (".yaml", ".yml", ".wav", ".csv")  # as adapters/hosting/versions.py
TIMEOUT = 120.0  # seconds: the server checks the whole project before it answers


class ServerUnreachable(EditorError):
    """The server did not answer, or refused the token; nothing was published."""

    status = 502
    code = "server_unreachable"


class ServerPublisher:
    """Publishes the editor's project as tenant `tenant` of the server at `url`."""

    def __init__(
        self, url: str, tenant: str, token: str | None, *, transport: httpx.BaseTransport | None = None
    ):
        self.url = url.rstrip("/")
        self.tenant = tenant
        headers = {"authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.Client(base_url=self.url, headers=headers, timeout=TIMEOUT, transport=transport)

    # -- the Publisher interface -------------------------------------------------------------
    def publish(self, workspace: Workspace, author: str, note: str) -> PublishOutcome:
        body = {"author": author, "note": note, **_payload(project_files(workspace.root))}
        return self._outcome(self._request("POST", f"/tenants/{self.tenant}/versions", body), workspace)

    def versions(self, workspace: Workspace) -> list[PublishedVersion]:
        answer = self._request("GET", f"/tenants/{self.tenant}/versions")
        found = sorted(answer.get("versions", []), key=lambda v: int(v.get("number", 0)), reverse=True)
        return [_version(v) for v in found]  # newest first, as the Publish panel lists them

    def diff(self, workspace: Workspace, old: str, new: str) -> str:
        if WORKING not in (old, new):
            answer = self._request("GET", f"/tenants/{self.tenant}/versions/{old}/diff/{new}")
            return str(answer.get("diff", ""))
        before, after = self._texts(workspace, old), self._texts(workspace, new)
        return unified(before, after, old, new)

    def rollback(self, workspace: Workspace, version: str, author: str) -> PublishOutcome:
        if version not in {v.id for v in self.versions(workspace)}:
            raise UnknownVersion(f"no published version '{version}'")
        body = {"version": version, "author": author, "note": f"rollback to {version}"}
        return self._outcome(self._request("POST", f"/tenants/{self.tenant}/rollback", body), workspace)

    # -- the wire ----------------------------------------------------------------------------
    def _request(self, method: str, path: str, body: object = None) -> dict[str, Any]:
        try:
            response = self._client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise ServerUnreachable(
                f"cannot reach {self.url} ({type(exc).__name__})",
                "is `ivr serve --hosting` running at that address?",
            ) from None
        try:
            answer = response.json()
        except ValueError:
            raise ServerUnreachable(
                f"{self.url}{path} answered HTTP {response.status_code} without JSON"
            ) from None
        if response.status_code in (401, 403):
            raise ServerUnreachable(
                f"the server refused: {answer.get('error', 'no permission')}",
                f"give ivr edit --token with tenant {self.tenant}'s token or the operator's",
                code="server_refused",
            )
        if response.status_code == 404:
            raise UnknownVersion(str(answer.get("error", f"not found: {path}")))
        if not isinstance(answer, dict):
            raise ServerUnreachable(f"{self.url}{path} answered {type(answer).__name__}, not an object")
        return answer

    def _outcome(self, answer: Mapping[str, Any], workspace: Workspace) -> PublishOutcome:
        if answer.get("ok") and answer.get("version"):
            return PublishOutcome(_version(answer["version"]))
        diagnostics = tuple(
            _diagnostic(d, self.tenant, workspace.root) for d in answer.get("diagnostics", [])
        )
        if not diagnostics:  # refused for another reason (a module that will not start, ...)
            raise EditorError(f"the server refused the version: {answer.get('message', 'no reason given')}")
        return PublishOutcome(None, diagnostics)

    def _texts(self, workspace: Workspace, version: str) -> dict[str, str]:
        if version == WORKING:
            files = project_files(workspace.root)
            return {
                name: data.decode("utf-8", "replace")
                for name, data in files.items()
                if not name.endswith(".wav")
            }
        answer = self._request("GET", f"/tenants/{self.tenant}/versions/{version}/files")
        return {str(name): str(text) for name, text in answer.get("files", {}).items()}


def project_files(root: Path) -> dict[str, bytes]:
    """The files a version of the project holds: YAML and prompt audio, no hidden ones."""
    found: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.is_file() and path.name.endswith(PUBLISHED_SUFFIXES):
            found[relative.as_posix()] = path.read_bytes()
    return found


def _payload(files: Mapping[str, bytes]) -> dict[str, dict[str, str]]:
    return {
        "files": {n: d.decode("utf-8", "replace") for n, d in files.items() if not n.endswith(".wav")},
        "audio": {n: base64.b64encode(d).decode() for n, d in files.items() if n.endswith(".wav")},
    }


def _version(item: Mapping[str, Any]) -> PublishedVersion:
    created = str(item.get("created", ""))
    try:
        at = datetime.fromisoformat(created)
    except ValueError:
        at = datetime.fromtimestamp(0).astimezone()
    return PublishedVersion(
        str(item["id"]),
        str(item.get("author", "")),
        at,
        str(item.get("note", "")),
        (),
        bool(item.get("current", False)),
    )


def _diagnostic(item: Mapping[str, Any], tenant: str, root: Path) -> Diagnostic:
    """A server diagnostic placed on the author's file (the server names it `tenant/path`),
    named as the checker names the project's files in the editor."""
    shown = str(item.get("file", ""))
    file = str(root / shown.removeprefix(f"{tenant}/")) if shown.startswith(f"{tenant}/") else shown
    span = Span(
        file,
        int(item.get("line", 1)),
        int(item.get("column", 1)),
        int(item.get("end_line", item.get("line", 1))),
        int(item.get("end_column", item.get("column", 1))),
    )
    severity = Severity[str(item.get("severity", "error")).upper()]
    return Diagnostic(
        str(item.get("code", "")), severity, str(item.get("message", "")), span, item.get("hint")
    )
