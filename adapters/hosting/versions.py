"""Published versions of a tenant's flows, kept on disk: every version, its author and time.

Place: under the publisher (`ivr.adapters.hosting.publishing`). Plain synchronous file work
(the server runs it in a worker thread). A tenant's `versions/` folder holds:

    v1/files/...        the flows, service file and prompts of version 1, as published
    v1/version.json     {"id", "number", "author", "created", "note", "origin", "digest", "files"}
    v2/...
    CURRENT             the id of the version new calls get ("v2")

A version is written into a staging folder, made durable (files and folders fsynced), then
renamed to `vN` in one step; CURRENT is replaced the same way. A crash leaves either the old
or the new CURRENT, never a half-written version. Versions are never changed or deleted:
a rollback publishes an old version's files again as a new version.

What a version may hold: `.yaml`/`.yml` files and `.wav` prompts, under relative paths
without `..`; code never (a module is loaded once, at start-up).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Protocol

from ivr.adapters.errors import AdapterError

SUFFIXES = (".yaml", ".yml", ".wav", ".csv")  # .csv: campaign contact lists (docs/outbound.md)
MAX_FILES = 500
MAX_FILE_BYTES = 5 * 2**20
MAX_TOTAL_BYTES = 20 * 2**20
CURRENT = "CURRENT"
SOURCE = "source"  # the origin of a version taken in from the tenant's folder or package


class VersionError(AdapterError):
    """A version cannot be stored or read (bad file names, too large, unknown id); the
    message says which and why. Nothing was changed."""


@dataclass(frozen=True)
class Version:
    """One published version. `origin`: "source" (the tenant's folder or package at start-up),
    "publish", or "rollback of vN"."""

    id: str
    number: int
    author: str
    created: str  # ISO 8601, UTC
    note: str
    origin: str
    digest: str
    files: int

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def check_files(files: Mapping[str, bytes]) -> list[str]:
    """Why these files cannot be a version (empty when they can)."""
    problems: list[str] = []
    if not files:
        problems.append("a version needs at least one file")
    if len(files) > MAX_FILES:
        problems.append(f"{len(files)} files: a version holds at most {MAX_FILES}")
    total = 0
    for name, content in files.items():
        problem = _path_problem(name)
        if problem:
            problems.append(f"{name!r}: {problem}")
        if len(content) > MAX_FILE_BYTES:
            problems.append(f"{name}: {len(content)} bytes, more than {MAX_FILE_BYTES}")
        total += len(content)
    if total > MAX_TOTAL_BYTES:
        problems.append(f"{total} bytes in all, more than {MAX_TOTAL_BYTES}")
    return problems


def _path_problem(name: str) -> str | None:
    path = PurePosixPath(name)
    if not name or "\\" in name or "\x00" in name or path.is_absolute():
        return "give a relative path with / between folders"
    if any(part in ("", ".", "..") or part.startswith(".") for part in path.parts):
        return "no '..', '.' or hidden parts"
    if path.suffix.lower() not in SUFFIXES:
        kinds = "flows, the service file, prompts, contact lists"
        return f"only {', '.join(SUFFIXES)} files are published ({kinds})"
    return None


def snapshot(folder: Path) -> dict[str, bytes]:
    """The publishable files under `folder` (what a version of it holds)."""
    found: dict[str, bytes] = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if path.is_file() and _path_problem(relative) is None:
            found[relative] = path.read_bytes()
    return found


def digest(files: Mapping[str, bytes]) -> str:
    """A fingerprint of the files (names and contents)."""
    outer = hashlib.sha256()
    for name in sorted(files):
        outer.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return outer.hexdigest()


class Versions(Protocol):
    """Where a tenant's published versions are kept: this instance's folder (`VersionStore`)
    or the database the instances share (`ivr.adapters.postgres.versions`). The same
    contract (`tests/tenants/test_version_stores.py`); every method is blocking work, run in a
    worker thread. `shared`: other instances may change CURRENT (the publisher follows it)."""

    shared: bool

    def list(self) -> list[Version]: ...
    def get(self, version_id: str) -> Version: ...
    def current(self) -> Version | None: ...
    def current_id(self) -> str | None: ...
    def files_dir(self, version_id: str) -> Path: ...
    def read_files(self, version_id: str) -> dict[str, bytes]: ...
    def stage(self, files: Mapping[str, bytes]) -> Path: ...
    def discard(self, staged: Path) -> None: ...
    def commit(self, staged: Path, *, author: str, note: str, origin: str) -> Version: ...
    def make_current(self, version_id: str) -> None: ...
    def take_in(self, files: Mapping[str, bytes], *, author: str, note: str) -> Version | None: ...
    def clean_staging(self) -> None: ...
    def diff(self, older: str, newer: str) -> str: ...
    def last_of_origin(self, origin: str) -> Version | None: ...


class VersionStore:
    """One tenant's versions folder (see the module docstring)."""

    shared = False

    def __init__(self, root: Path) -> None:
        self.root = root

    def list(self) -> list[Version]:
        """Every version, oldest first."""
        if not self.root.is_dir():
            return []
        found = [self._read(path) for path in self.root.iterdir() if _version_number(path.name) is not None]
        return sorted(found, key=lambda v: v.number)

    def get(self, version_id: str) -> Version:
        path = self.root / version_id
        if _version_number(version_id) is None or not (path / "version.json").is_file():
            known = ", ".join(v.id for v in self.list()) or "none"
            raise VersionError(f"no version {version_id!r} (versions: {known})")
        return self._read(path)

    def current(self) -> Version | None:
        version_id = self.current_id()
        return self.get(version_id) if version_id is not None else None

    def current_id(self) -> str | None:
        try:
            return (self.root / CURRENT).read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    def files_dir(self, version_id: str) -> Path:
        return self.root / self.get(version_id).id / "files"

    def read_files(self, version_id: str) -> dict[str, bytes]:
        return snapshot(self.files_dir(version_id))

    # -- writing ---------------------------------------------------------------------------
    def stage(self, files: Mapping[str, bytes]) -> Path:
        """Write `files` into a new staging folder (durable); its `files/` is checkable."""
        problems = check_files(files)
        if problems:
            raise VersionError("; ".join(problems))
        self.root.mkdir(parents=True, exist_ok=True)
        staged = self.root / f".staging-{secrets.token_hex(6)}"
        for name, content in files.items():
            target = staged / "files" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            _write_durably(target, content)
        for folder in sorted({p.parent for p in staged.rglob("*")}, key=lambda p: -len(p.parts)):
            _fsync_dir(folder)
        return staged

    def discard(self, staged: Path) -> None:
        shutil.rmtree(staged, ignore_errors=True)

    def commit(self, staged: Path, *, author: str, note: str, origin: str) -> Version:
        """Make a staged folder the next version (not yet current)."""
        files = snapshot(staged / "files")
        number = max((v.number for v in self.list()), default=0) + 1
        version = Version(
            id=f"v{number}",
            number=number,
            author=author[:200],
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            note=note[:2000],
            origin=origin,
            digest=digest(files),
            files=len(files),
        )
        _write_durably(staged / "version.json", json.dumps(version.to_json(), ensure_ascii=False).encode())
        _fsync_dir(staged)
        staged.rename(self.root / version.id)
        _fsync_dir(self.root)
        return version

    def make_current(self, version_id: str) -> None:
        self.get(version_id)
        partial = self.root / f".{CURRENT}-{secrets.token_hex(4)}"
        _write_durably(partial, f"{version_id}\n".encode())
        partial.replace(self.root / CURRENT)
        _fsync_dir(self.root)

    def take_in(self, files: Mapping[str, bytes], *, author: str, note: str) -> Version | None:
        """The tenant's folder or package at start-up, kept as a new CURRENT version when it
        changed since it was last taken in (so an edited folder wins at a restart); None when
        it did not."""
        last = self.last_of_origin(SOURCE)
        if last is not None and last.digest == digest(files):
            return None
        version = self.commit(self.stage(files), author=author, note=note, origin=SOURCE)
        self.make_current(version.id)
        return version

    def clean_staging(self) -> None:
        """Remove staging folders a crash left behind."""
        for path in self.root.glob(".staging-*") if self.root.is_dir() else ():
            shutil.rmtree(path, ignore_errors=True)

    # -- comparing -------------------------------------------------------------------------
    def diff(self, older: str, newer: str) -> str:
        """A unified diff of two versions' text files (prompts: changed or not)."""
        return unified_diff(self.read_files(older), self.read_files(newer), older, newer)

    def last_of_origin(self, origin: str) -> Version | None:
        return next((v for v in reversed(self.list()) if v.origin == origin), None)

    def _read(self, path: Path) -> Version:
        try:
            data = json.loads((path / "version.json").read_text(encoding="utf-8"))
            return Version(**{k: data[k] for k in Version.__dataclass_fields__})
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise VersionError(f"version {path.name} is unreadable: {exc}") from exc


def unified_diff(old: Mapping[str, bytes], new: Mapping[str, bytes], old_name: str, new_name: str) -> str:
    out: list[str] = []
    for name in sorted(set(old) | set(new)):
        a, b = old.get(name), new.get(name)
        if a == b:
            continue
        if name.endswith(".wav"):
            what = "added" if a is None else "removed" if b is None else "changed"
            out.append(f"audio {name} {what}\n")
            continue
        out.extend(
            difflib.unified_diff(
                _lines(a), _lines(b), f"{old_name}/{name}" if a is not None else "/dev/null",
                f"{new_name}/{name}" if b is not None else "/dev/null",
            )
        )  # fmt: skip
    return "".join(out)


def _lines(content: bytes | None) -> list[str]:
    if content is None:
        return []
    return [
        line if line.endswith("\n") else line + "\n"
        for line in content.decode("utf-8", "replace").splitlines()
    ]


def _version_number(name: str) -> int | None:
    return int(name[1:]) if name.startswith("v") and name[1:].isdigit() else None


def _write_durably(path: Path, content: bytes) -> None:
    with path.open("wb") as out:
        out.write(content)
        out.flush()
        os.fsync(out.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
