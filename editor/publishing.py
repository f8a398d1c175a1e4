"""Publishing from the editor: the small interface, and the local folder's implementation.

Place: behind the editor's Publish button. `Publisher` is all the editor needs from a
publishing core: publish the project's saved version (checked first; refused with the
diagnostics when it has errors), list the versions, diff two, roll back to one. `ivr
serve`'s publishing core (tenants, issue #9) plugs in here through the composition root;
until then `FolderPublisher` does the same for a local folder: every published version is
a copy of the project's YAML files under `STORE/<project>/<id>/` with who and when, the
current version is named in `STORE/<project>/current`, and each publish or rollback is a
line in `STORE/<project>/publish.log`. A rollback publishes an old version's files again
as a new version (history is never rewritten); the author's working files are untouched.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import secrets
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from ivr.editor.errors import EditorError, FileMissing
from ivr.editor.workspace import Workspace
from ivr.flowlang.diagnostics import Diagnostic
from ivr.flowlang.project import load_project

_ID = re.compile(r"^v([1-9][0-9]{0,8})$")


@dataclass(frozen=True)
class PublishedVersion:
    id: str
    author: str
    at: datetime
    note: str
    files: tuple[str, ...]
    current: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "author": self.author,
            "at": self.at.isoformat(),
            "note": self.note,
            "files": list(self.files),
            "current": self.current,
        }


@dataclass(frozen=True)
class PublishOutcome:
    """A published version, or the diagnostics that refused it."""

    version: PublishedVersion | None
    diagnostics: tuple[Diagnostic, ...] = ()

    @property
    def ok(self) -> bool:
        return self.version is not None


class Publisher(Protocol):
    """What the editor asks of a publishing core; one project (a tenant's) at a time.
    Implementations are synchronous and run in a worker thread."""

    def publish(self, workspace: Workspace, author: str, note: str) -> PublishOutcome: ...

    def versions(self, workspace: Workspace) -> list[PublishedVersion]: ...

    def diff(self, workspace: Workspace, old: str, new: str) -> str:
        """A unified diff from version `old` to `new` ("working" names the saved files)."""
        ...

    def rollback(self, workspace: Workspace, version: str, author: str) -> PublishOutcome: ...


class UnknownVersion(EditorError):
    """No published version has this id; the versions list shows the ids."""

    status = 404
    code = "unknown_version"


WORKING = "working"


class FolderPublisher:
    """Publishes a project folder's saved YAML files into versioned copies under `store`."""

    def __init__(self, store: Path, clock: type[datetime] = datetime) -> None:
        self.store = store
        self._clock = clock

    def publish(self, workspace: Workspace, author: str, note: str) -> PublishOutcome:
        _, diagnostics = load_project([workspace.root])
        errors = tuple(d for d in diagnostics if d.is_error)
        if errors:
            return PublishOutcome(None, errors)
        files = {entry.path: (workspace.root / entry.path).read_bytes() for entry in workspace.tree()}
        return PublishOutcome(self._new_version(workspace, files, author, note, "publish"))

    def versions(self, workspace: Workspace) -> list[PublishedVersion]:
        home = self._home(workspace)
        current = self._current(home)
        found = []
        for folder in home.iterdir() if home.is_dir() else ():
            if _ID.match(folder.name) and (folder / "version.json").is_file():
                found.append(self._read_version(folder, current))
        return sorted(found, key=lambda v: int(v.id[1:]), reverse=True)

    def diff(self, workspace: Workspace, old: str, new: str) -> str:
        return unified(self._files(workspace, old), self._files(workspace, new), old, new)

    def rollback(self, workspace: Workspace, version: str, author: str) -> PublishOutcome:
        folder = self._version_folder(workspace, version)
        files = {
            path.relative_to(folder / "files").as_posix(): path.read_bytes()
            for path in sorted((folder / "files").rglob("*"))
            if path.is_file()
        }
        note = f"rollback to {version}"
        return PublishOutcome(self._new_version(workspace, files, author, note, "rollback"))

    # ---- storage -------------------------------------------------------------------------

    def _home(self, workspace: Workspace) -> Path:
        return self.store / (workspace.name or "project")

    def _new_version(
        self, workspace: Workspace, files: dict[str, bytes], author: str, note: str, action: str
    ) -> PublishedVersion:
        home = self._home(workspace)
        home.mkdir(parents=True, exist_ok=True)
        numbers = [int(m.group(1)) for p in home.iterdir() if (m := _ID.match(p.name))]
        version_id = f"v{max(numbers, default=0) + 1}"
        at = self._clock.now(UTC)
        staging = home / f".staging-{secrets.token_hex(4)}"
        try:
            for name, data in files.items():
                target = staging / "files" / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            meta = {
                "id": version_id,
                "author": author,
                "at": at.isoformat(),
                "note": note,
                "files": sorted(files),
            }
            _write_synced(staging / "version.json", json.dumps(meta, ensure_ascii=False, indent=1).encode())
            os.rename(staging, home / version_id)  # a version appears whole or not at all
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        _write_synced(home / ".current.tmp", version_id.encode())
        os.replace(home / ".current.tmp", home / "current")
        log = {"action": action, "version": version_id, "author": author, "at": at.isoformat(), "note": note}
        with (home / "publish.log").open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(log, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        return self._read_version(home / version_id, version_id)

    def _current(self, home: Path) -> str | None:
        try:
            return (home / "current").read_text().strip() or None
        except OSError:
            return None

    def _read_version(self, folder: Path, current: str | None) -> PublishedVersion:
        meta = json.loads((folder / "version.json").read_text(encoding="utf-8"))
        at = datetime.fromisoformat(meta["at"])
        return PublishedVersion(
            meta["id"], meta["author"], at, meta.get("note", ""), tuple(meta["files"]), meta["id"] == current
        )

    def _version_folder(self, workspace: Workspace, version: str) -> Path:
        folder = self._home(workspace) / version
        if not _ID.match(version) or not (folder / "version.json").is_file():
            raise UnknownVersion(f"no published version '{version}'")
        return folder

    def _files(self, workspace: Workspace, version: str) -> dict[str, str]:
        if version == WORKING:
            root, names = workspace.root, [e.path for e in workspace.tree()]
        else:
            root = self._version_folder(workspace, version) / "files"
            names = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]
        texts = {}
        for name in names:
            try:
                texts[name] = (root / name).read_text(encoding="utf-8", errors="replace")
            except OSError as exc:
                raise FileMissing(f"'{name}' cannot be read: {exc.strerror}") from None
        return texts


def unified(before: Mapping[str, str], after: Mapping[str, str], old: str, new: str) -> str:
    """A unified diff of two sets of files (path -> text), file by file."""
    out: list[str] = []
    for name in sorted(set(before) | set(after)):
        a = before.get(name, "").splitlines(keepends=True)
        b = after.get(name, "").splitlines(keepends=True)
        if a != b:
            label_a = f"{old}/{name}" if name in before else "/dev/null"
            label_b = f"{new}/{name}" if name in after else "/dev/null"
            out.extend(difflib.unified_diff(a, b, label_a, label_b))
    return "".join(line if line.endswith("\n") else line + "\n" for line in out)


def _write_synced(path: Path, data: bytes) -> None:
    with path.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
