"""The project folder an editor works on: safe paths, the file tree, reads, version-checked saves.

Place: the only editor module that touches the author's files. Every path a browser sends
goes through `Workspace.resolve`, which refuses (`PathRefused`) absolute paths, `..`,
hidden or percent-encoded segments, control characters, anything that is not a YAML file,
and symbolic links that lead outside the project, before any file is opened. Reads use
flowlang's limits (`MAX_BYTES`, UTF-8 with positioned diagnostics). A save writes exactly
the text it is given (the author's comments and formatting; the file's BOM is kept), only
if the file still has the version the author opened (`VersionConflict` otherwise), through
a temporary file, fsync and rename, so a crash leaves the old or the new file, never half.
Synchronous by design: the app calls these in a worker thread.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import stat
import threading
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ivr.editor.errors import (
    FileMissing,
    FileTooLarge,
    FileUnreadable,
    FileUnwritable,
    PathRefused,
    VersionConflict,
    VersionRequired,
)
from ivr.flowlang.yamlsource import MAX_BYTES, decode_source

SUFFIXES = (".yaml", ".yml")
MAX_FILES = 2000  # a tree larger than this is not a flow project; the listing stops there
MAX_PATH = 1024
SKIPPED_FOLDERS = frozenset({"node_modules", "__pycache__"})
BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class FileEntry:
    """One YAML file of the tree: its project-relative path and what it holds by name."""

    path: str
    kind: str  # "flow", "test" or "service" (a guess from the name; the checker decides)
    size: int


@dataclass(frozen=True)
class FileText:
    """A file's text as the editor shows it, and the version tag that a save must quote."""

    path: str
    text: str
    version: str


def version_of(data: bytes) -> str:
    """The version tag of a file's bytes (an ETag value): any change gives a new one."""
    return hashlib.sha256(data).hexdigest()[:32]


class Workspace:
    """One project folder. `name` labels it (a tenant's name in hosted mode, "" locally)."""

    def __init__(self, root: Path | str, name: str = "") -> None:
        path = Path(root)
        if not path.is_dir():
            raise FileMissing(f"{root} is not a folder")
        self.root = Path(os.path.realpath(path))
        self.name = name
        self._write_lock = threading.Lock()

    # ---- paths -------------------------------------------------------------------------

    def resolve(self, relative: str) -> Path:
        """The real path of a project file named by a browser, or `PathRefused`."""
        _check_syntax(relative)
        candidate = self.root.joinpath(*relative.split("/"))
        real = Path(os.path.realpath(candidate))
        if not real.is_relative_to(self.root) or real == self.root:
            raise PathRefused(
                f"'{relative}' leads outside the project",
                "a symbolic link or path that points outside the project folder is not opened",
            )
        return real

    def relative(self, file: str | Path) -> str:
        """A file's path relative to the project, with '/' (as the browser names it)."""
        path = Path(os.path.realpath(file))
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(file)

    def absolute(self, relative: str) -> str:
        """The path the flowlang loader uses for a project file (under the real root)."""
        return str(self.root.joinpath(*relative.split("/")))

    # ---- the tree ----------------------------------------------------------------------

    def tree(self) -> list[FileEntry]:
        """Every YAML file of the project (hidden folders and links leading out skipped)."""
        entries: list[FileEntry] = []
        for path in self._walk():
            relative = path.relative_to(self.root).as_posix()
            try:
                size = path.stat().st_size
            except OSError:
                continue
            entries.append(FileEntry(relative, _kind(path.name), size))
            if len(entries) >= MAX_FILES:
                break
        return sorted(entries, key=lambda e: e.path)

    def _walk(self) -> Iterator[Path]:
        for folder, dirs, files in os.walk(self.root, followlinks=False):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED_FOLDERS)
            for name in sorted(files):
                if name.startswith(".") or not name.endswith(SUFFIXES):
                    continue
                path = Path(folder) / name
                if os.path.realpath(path).startswith(str(self.root) + os.sep):
                    yield path

    def fingerprint(self) -> tuple[tuple[str, int, int], ...]:
        """What changes when any YAML file on disk changes (for caching checks)."""
        marks = []
        for path in self._walk():
            try:
                info = path.stat()
            except OSError:
                continue
            marks.append((str(path), info.st_mtime_ns, info.st_size))
        return tuple(marks)

    # ---- reading and saving --------------------------------------------------------------

    def read(self, relative: str) -> FileText:
        """The text and version of a project file."""
        data = self._read_bytes(relative, self.resolve(relative))
        text, problems = decode_source(data, relative)
        if text is None:
            raise FileUnreadable(
                problems[0].message if problems else "the file cannot be read",
                problems[0].hint if problems else None,
                diagnostics=[d.to_json() for d in problems],
            )
        return FileText(relative, text, version_of(data))

    def _read_bytes(self, relative: str, path: Path) -> bytes:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            raise FileMissing(f"no file '{relative}' in the project") from None
        except OSError as exc:
            raise FileUnreadable(f"'{relative}' cannot be read: {exc.strerror}") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise FileUnreadable(f"'{relative}' is not a regular file")
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise FileTooLarge(
                f"'{relative}' is larger than {MAX_BYTES:,} bytes, the limit for flow files",
                "split the flow into subflows",
            )
        return data

    def save(self, relative: str, text: str, *, if_match: str | None, create: bool = False) -> str:
        """Write `text` as the file's new content if it still has version `if_match` (or, with
        `create`, if it does not exist yet). Returns the new version."""
        path = self.resolve(relative)
        data = text.encode("utf-8")
        if len(data) > MAX_BYTES:
            raise FileTooLarge(f"the text is larger than {MAX_BYTES:,} bytes, the limit for flow files")
        if not create and if_match is None:
            raise VersionRequired("a save must name the version it replaces (If-Match)")
        with self._write_lock:
            current = self._current(relative, path)
            if create and current is not None:
                raise VersionConflict(f"'{relative}' already exists", current=version_of(current))
            if not create:
                if current is None:
                    raise FileMissing(f"'{relative}' was deleted since it was opened")
                if version_of(current) != if_match:
                    raise VersionConflict(
                        f"'{relative}' changed since you opened it",
                        "reload it to see the other change, then make yours again",
                        current=version_of(current),
                    )
                if current.startswith(BOM) and not data.startswith(BOM):
                    data = BOM + data
            try:
                _replace(path, data)
            except OSError as exc:
                raise FileUnwritable(f"'{relative}' cannot be written: {exc.strerror or exc}") from None
        return version_of(data)

    def _current(self, relative: str, path: Path) -> bytes | None:
        try:
            return self._read_bytes(relative, path)
        except FileMissing:
            return None


def _check_syntax(relative: str) -> None:
    """Refuse names that could mean something other than a plain file under the root."""
    hint = "name a YAML file inside the project, such as flows/main.yaml"
    if not relative or len(relative) > MAX_PATH:
        raise PathRefused("the path is empty or too long", hint)
    if any(unicodedata.category(ch).startswith("C") for ch in relative):
        raise PathRefused("the path contains control characters", hint)
    if "\\" in relative or relative.startswith("/") or (len(relative) > 1 and relative[1] == ":"):
        raise PathRefused(f"'{relative}' is not a relative path with '/'", hint)
    for segment in relative.split("/"):
        if segment in ("", ".", ".."):
            raise PathRefused(f"'{relative}' has an empty, '.' or '..' part", hint)
        if segment.startswith("."):
            raise PathRefused(f"'{relative}' names a hidden file or folder", hint)
        if "%" in segment:
            raise PathRefused(f"'{relative}' contains '%': percent-encoded names are refused", hint)
    if not relative.endswith(SUFFIXES):
        raise PathRefused(f"'{relative}' is not a YAML file", "the editor opens .yaml and .yml files")


def _kind(name: str) -> str:
    if name.endswith((".test.yaml", ".test.yml")):
        return "test"
    if name in ("service.yaml", "service.yml"):
        return "service"
    return "flow"


def _replace(path: Path, data: bytes) -> None:
    """Atomically put `data` at `path`: a temporary file in the same folder, fsync, rename,
    fsync of the folder. The old file's permissions are kept."""
    folder = path.parent
    temp = folder / f".{path.name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileNotFoundError):
            os.chmod(temp, stat.S_IMODE(os.stat(path).st_mode))
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
