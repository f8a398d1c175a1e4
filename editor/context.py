"""Everything one editor app serves with: projects, sign-in, and the injected outer parts.

Place: built by the composition root (`ivr edit`, later `ivr serve`) and handed to
`ivr.editor.app.build_editor_app`. Parts the editor must not build itself because they
live in the adapters (espeak-ng speech, the service's real data operations, the hosted
publishing core, the password hash check) arrive here as small protocols.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import trio

from ivr.editor.analysis import Analyser
from ivr.editor.auth import EditorUser, LocalSignIn, Logins, Sessions
from ivr.editor.errors import NotAllowed, NotSignedIn
from ivr.editor.publishing import Publisher
from ivr.editor.simulation import AudioStore, OperationsFactory, Speech
from ivr.editor.workspace import Workspace


@dataclass
class EditorContext:
    """`projects` maps a tenant's name to its project ("" is the local project). Exactly
    one of `local` (one author, signed in by the printed token) and `logins` is set."""

    projects: dict[str, Workspace]
    publisher: Publisher | None = None
    local: LocalSignIn | None = None
    logins: Logins | None = None
    speech: Speech | None = None
    operations: OperationsFactory | None = None
    sessions: Sessions = field(default_factory=Sessions)
    audio: AudioStore = field(default_factory=AudioStore)
    # checks and drawings are CPU work in threads; two at a time keeps the server responsive
    limiter: trio.CapacityLimiter = field(default_factory=lambda: trio.CapacityLimiter(2))
    _analysers: dict[str, Analyser] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.local is None) == (self.logins is None):
            raise ValueError("an editor signs in either its one local user or through logins")

    def workspace(self, user: EditorUser) -> Workspace:
        """The project this user may edit: their tenant's (hosted) or the one local project."""
        found = self.projects.get(user.tenant)
        if found is None:
            raise NotAllowed(f"no project for tenant '{user.tenant}'")
        return found

    def analyser(self, user: EditorUser) -> Analyser:
        workspace = self.workspace(user)
        if user.tenant not in self._analysers:
            self._analysers[user.tenant] = Analyser(workspace)
        return self._analysers[user.tenant]

    def user(self, token: str | None) -> EditorUser:
        user = self.sessions.user(token)
        if user is None:
            raise NotSignedIn(
                "you are not signed in",
                "open the address `ivr edit` printed" if self.local else "sign in again",
            )
        return user
