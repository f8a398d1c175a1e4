"""Who is editing: users with a role, sign-in, and the session cookie.

Place: the editor app's gate. Two roles: an `author` edits, checks, simulates and tests; a
`publisher` may also publish and roll back. Locally (`ivr edit`) there is one user, signed
in by the secret token in the address the command prints (as Jupyter does), so another
local user or a web page cannot reach the files. Hosted, users sign in with a name and
password from an accounts file (`load_accounts`); passwords are kept only as hashes, and
the hash check is injected (`Verify`, the scrypt check of `ivr.adapters.cti.accounts`,
wired by the composition root) so the editor never grows its own crypto. A hosted user
may belong to a tenant and then sees only that tenant's project.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import yaml

Role = Literal["author", "publisher"]
ROLES: tuple[Role, ...] = ("author", "publisher")
Verify = Callable[[str, str], bool]  # (password, stored hash) -> matches
COOKIE = "ivr_editor"


class AccountsError(Exception):
    """The editor's accounts file cannot be used; the message names the file and entry."""


@dataclass(frozen=True)
class EditorUser:
    """A signed-in person: `tenant` names the project they may edit ("" locally)."""

    name: str
    role: Role
    tenant: str = ""

    @property
    def can_publish(self) -> bool:
        return self.role == "publisher"

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "role": self.role, "tenant": self.tenant, "can_publish": self.can_publish}


class Logins(Protocol):
    """Checks a name and password (slow on purpose: call it in a worker thread)."""

    def check(self, name: str, password: str) -> EditorUser | None: ...


@dataclass(frozen=True)
class Account:
    user: EditorUser
    password_hash: str


class AccountFile:
    """`Logins` from an accounts file: `users: [{name, password_hash, role, tenant}]`."""

    def __init__(self, accounts: Mapping[str, Account], verify: Verify) -> None:
        self._accounts = dict(accounts)
        self._verify = verify
        self._dummy = next(iter(self._accounts.values())).password_hash if self._accounts else ""

    def check(self, name: str, password: str) -> EditorUser | None:
        account = self._accounts.get(name)
        # an unknown name costs as much as a wrong password: timing tells no names
        ok = self._verify(password, account.password_hash if account else self._dummy)
        return account.user if ok and account is not None else None


def load_accounts(path: Path, verify: Verify) -> AccountFile:
    """Read an accounts file; `AccountsError` says what is wrong and where."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise AccountsError(f"{path}: cannot read the editor accounts: {exc}") from None
    entries = data.get("users") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise AccountsError(f"{path}: expected `users:` with a list of users")
    accounts: dict[str, Account] = {}
    for index, entry in enumerate(entries):
        where = f"{path}: users[{index}]"
        if not isinstance(entry, dict) or not {"name", "password_hash", "role"} <= set(entry):
            raise AccountsError(f"{where}: needs name, password_hash and role")
        if "password" in entry:
            raise AccountsError(f"{where}: plain `password` is not allowed; store `password_hash`")
        role = entry["role"]
        if role not in ROLES:
            raise AccountsError(f"{where}: role must be author or publisher, not {role!r}")
        name = str(entry["name"])
        if name in accounts:
            raise AccountsError(f"{where}: user {name} appears twice")
        user = EditorUser(name, role, str(entry.get("tenant", "")))
        accounts[name] = Account(user, str(entry["password_hash"]))
    return AccountFile(accounts, verify)


class Sessions:
    """Signed-in sessions by random token (the cookie's value), each for `ttl` seconds."""

    def __init__(self, ttl: float = 12 * 3600, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._sessions: dict[str, tuple[EditorUser, float]] = {}

    def issue(self, user: EditorUser) -> str:
        token = secrets.token_urlsafe(32)
        self._sessions[token] = (user, self._clock() + self._ttl)
        return token

    def user(self, token: str | None) -> EditorUser | None:
        if not token:
            return None
        found = self._sessions.get(token)
        if found is None:
            return None
        user, expires = found
        if self._clock() >= expires:
            del self._sessions[token]
            return None
        return user

    def end(self, token: str | None) -> None:
        if token:
            self._sessions.pop(token, None)


@dataclass(frozen=True)
class LocalSignIn:
    """The local editor's one user and the secret that the printed address carries."""

    user: EditorUser
    token: str

    def matches(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.token.encode())


def local_sign_in(name: str, role: Role = "publisher") -> LocalSignIn:
    return LocalSignIn(EditorUser(name, role), secrets.token_urlsafe(24))
