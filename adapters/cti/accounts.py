"""Agent accounts: who may log in to the agent desktop and the CTI socket, and how a
password is checked.

Place: the CTI adapter's identity layer, read by `ivr.adapters.cti.app` (POST /cti/login,
the `login` command). Accounts come from a YAML file (`load_agents_file`) or the SQLite
store (`ivr.adapters.cti.store`); both give `AgentAccount`s through the `AgentDirectory`
protocol. Passwords are kept only as salted scrypt hashes (`hash_password`), and every
check runs in constant time, including for an extension that does not exist.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import yaml

from ivr.adapters.cti.settings import LANGUAGES, DeskSettings, desk_settings
from ivr.adapters.errors import ConfigError

_SCHEME = "scrypt"
SUPERVISOR = "supervisor"
ROLES = (SUPERVISOR,)
_N, _R, _P, _DKLEN = 2**14, 8, 1, 32


class AccountsError(ConfigError):
    """The agents file is not usable (bad YAML, a missing field, a plain-text password).
    The message names the file and the entry; fix it and start again."""


@dataclass(frozen=True, slots=True)
class AgentAccount:
    """One agent: `extension` is the login and the ACD's agent id; `address` the SIP
    address of the agent's phone; `skills` maps skill to level (1-5)."""

    extension: str
    name: str
    password_hash: str
    address: str
    skills: Mapping[str, int] = field(default_factory=dict)
    language: str | None = None  # the desktop's language for this agent (zh, en)
    roles: frozenset[str] = frozenset()  # "supervisor": the supervisor pages (docs/reports.md)

    @property
    def supervisor(self) -> bool:
        return SUPERVISOR in self.roles


class AgentDirectory(Protocol):
    """Where accounts are looked up (`AgentFile`, `SqliteAgentStore`)."""

    def get(self, extension: str) -> AgentAccount | None: ...


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """`scrypt$n$r$p$salt$hash` (base64): what the agents file and store keep."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=_DKLEN)
    return "$".join([_SCHEME, str(_N), str(_R), str(_P), _b64(salt), _b64(digest)])


def verify_password(password: str, stored: str) -> bool:
    """True when `password` matches `stored`; constant time in the password."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest, validate=True)
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt, validate=True),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=2**26,
        )
    except (ValueError, TypeError):
        return False
    return scheme == _SCHEME and hmac.compare_digest(actual, expected)


# Checked against when the extension is unknown, so a wrong extension costs as much as a
# wrong password and timing does not tell which extensions exist.
_DUMMY_HASH = hash_password("no such agent", salt=b"\0" * 16)


def authenticate(directory: AgentDirectory, extension: str, password: str) -> AgentAccount | None:
    """The account when the password is right, else None (same work either way)."""
    account = directory.get(extension)
    ok = verify_password(password, account.password_hash if account else _DUMMY_HASH)
    return account if ok and account is not None else None


class AgentFile:
    """Accounts from a YAML file, read once: `agents: [{extension, name, password_hash,
    phone, skills, language, roles}]` and the desktop's `settings` (its optional `desktop:`
    mapping; see docs/cti.md)."""

    def __init__(self, accounts: Mapping[str, AgentAccount], settings: DeskSettings | None = None) -> None:
        self._accounts = dict(accounts)
        self.settings = settings or DeskSettings()

    def get(self, extension: str) -> AgentAccount | None:
        return self._accounts.get(extension)

    def __len__(self) -> int:
        return len(self._accounts)


def load_agents_file(path: Path | str) -> AgentFile:
    """Read and check an agents file; `AccountsError` names what is wrong."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise AccountsError(f"{path}: cannot read the agents file: {exc}") from exc
    entries = data.get("agents") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise AccountsError(f"{path}: expected `agents:` with a list of agents")
    accounts: dict[str, AgentAccount] = {}
    for index, entry in enumerate(entries):
        account = _account(entry, f"{path}: agents[{index}]")
        if account.extension in accounts:
            raise AccountsError(f"{path}: agents[{index}]: extension {account.extension} appears twice")
        accounts[account.extension] = account
    try:
        settings = desk_settings(data.get("desktop"), str(path))
    except ConfigError as exc:
        raise AccountsError(str(exc)) from exc
    return AgentFile(accounts, settings)


def _account(entry: object, where: str) -> AgentAccount:
    if not isinstance(entry, dict):
        raise AccountsError(f"{where}: expected a mapping")
    if "password" in entry:
        raise AccountsError(
            f"{where}: plain `password` is not allowed; store `password_hash` (hash_password)"
        )
    missing = [k for k in ("extension", "password_hash", "phone") if k not in entry]
    if missing:
        raise AccountsError(f"{where}: missing {', '.join(missing)}")
    if not str(entry["password_hash"]).startswith(_SCHEME + "$"):
        raise AccountsError(f"{where}: password_hash is not a scrypt hash from hash_password")
    skills = entry.get("skills") or {}
    if not isinstance(skills, dict) or not all(isinstance(v, int) and 1 <= v <= 5 for v in skills.values()):
        raise AccountsError(f"{where}: skills must map skill names to levels 1-5")
    language = entry.get("language")
    if language is not None and language not in LANGUAGES:
        raise AccountsError(f"{where}: language is one of {', '.join(LANGUAGES)}")
    roles = entry.get("roles") or []
    if not isinstance(roles, list) or not all(role in ROLES for role in roles):
        raise AccountsError(f"{where}: roles is a list of {', '.join(ROLES)}")
    extension = str(entry["extension"])
    return AgentAccount(
        extension=extension,
        name=str(entry.get("name", extension)),
        password_hash=str(entry["password_hash"]),
        address=str(entry["phone"]),
        skills={str(k): v for k, v in skills.items()},
        language=language,
        roles=frozenset(roles),
    )
