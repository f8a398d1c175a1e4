"""The editor's refusals: each says what went wrong, carries an HTTP status and becomes JSON.

Place: under every editor module; `ivr.editor.app` turns an `EditorError` into a response
(`{"error": code, "message": ..., "hint": ..., ...}`), never a stack trace. A refusal touches
nothing: every check happens before a file is opened for writing.
"""

from __future__ import annotations

from collections.abc import Mapping


class EditorError(Exception):
    """A request the editor refuses; `status` is the HTTP status, `code` a stable word."""

    status = 400
    code = "bad_request"

    def __init__(
        self, message: str, hint: str | None = None, *, code: str | None = None, **extra: object
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if code is not None:
            self.code = code
        self.extra: Mapping[str, object] = extra

    def to_json(self) -> dict[str, object]:
        body: dict[str, object] = {"error": self.code, "message": self.message}
        if self.hint:
            body["hint"] = self.hint
        body.update(self.extra)
        return body


class PathRefused(EditorError):
    """A path outside the project, hidden, absolute, encoded or not a YAML file: nothing is
    read or written. Give a path relative to the project folder, such as `flows/main.yaml`."""

    status = 403
    code = "path_refused"


class FileMissing(EditorError):
    """No such file in the project (it may have been deleted or renamed on disk)."""

    status = 404
    code = "not_found"


class FileTooLarge(EditorError):
    """More bytes than a flow file may have (the flowlang loader's limit)."""

    status = 413
    code = "too_large"


class FileUnreadable(EditorError):
    """The file is not UTF-8 text or cannot be read; `diagnostics` say where."""

    status = 422
    code = "unreadable"


class FileUnwritable(EditorError):
    """The file could not be written (its folder is gone, the disk is full, no permission);
    the file on disk is unchanged."""

    status = 409
    code = "unwritable"


class VersionConflict(EditorError):
    """The file changed since it was opened (another tab, editor or person): reload it and
    apply the change again, instead of overwriting theirs. `current` is the version on disk."""

    status = 412
    code = "version_conflict"


class VersionRequired(EditorError):
    """A save must say which version it replaces (If-Match), or If-None-Match: * to create."""

    status = 428
    code = "version_required"


class NotAllowed(EditorError):
    """The signed-in user's role does not allow this (only a publisher can publish)."""

    status = 403
    code = "not_allowed"


class NotSignedIn(EditorError):
    """No valid session: sign in again (the local editor's address carries a token)."""

    status = 401
    code = "not_signed_in"
