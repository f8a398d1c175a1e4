"""Who is asking the HTTP API: the operator, one tenant, or (for a plain folder) anyone.

Place: in front of every HTTP view but /health. With a hosting file, each tenant has its own
API token and the operator one of their own; the file keeps only their SHA-256
(`token_sha256`), so it reveals no token. A request names its token as
`Authorization: Bearer <token>`; the digest is compared with `hmac.compare_digest` against
every known one. A tenant's token sees its own calls, traces, recordings, versions and
usage, and publishes only its own flows; the operator's sees and publishes for all. Without
a hosting file, reads are open as they have always been (one service, one operator), and
publishing is not offered.

    python -c "from ivr.adapters.hosting.auth import new_token; print(*new_token())"
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from ivr.flowlang.hostingfile import HostingDecl


@dataclass(frozen=True)
class Caller:
    """Whose request this is: `tenant` None is the operator (everything)."""

    tenant: str | None

    @property
    def operator(self) -> bool:
        return self.tenant is None

    def sees(self, tenant: str) -> bool:
        return self.tenant is None or self.tenant == tenant


OPERATOR = Caller(None)


@dataclass(frozen=True)
class Tokens:
    """The known token digests. `open`: no hosting file, reads need no token."""

    operator: bytes | None = None
    tenants: Mapping[str, bytes] = field(default_factory=dict)
    open: bool = False

    @classmethod
    def from_hosting(cls, hosting: HostingDecl | None) -> Tokens:
        if hosting is None:
            return cls(open=True)
        tenants = {
            name: bytes.fromhex(t.token_sha256)
            for name, t in hosting.tenants.items()
            if t.token_sha256 is not None
        }
        operator = bytes.fromhex(hosting.operator_token_sha256) if hosting.operator_token_sha256 else None
        return cls(operator, tenants)

    def who(self, authorization: str | None) -> Caller | None:
        """The caller a request's Authorization header names, or None (no or unknown token)."""
        token = _bearer(authorization)
        if token is None:
            return OPERATOR if self.open else None
        digest = hashlib.sha256(token.encode("utf-8", "replace")).digest()
        found: Caller | None = None
        if self.operator is not None and hmac.compare_digest(digest, self.operator):
            found = OPERATOR
        for name, known in self.tenants.items():  # all of them: the time says nothing
            if hmac.compare_digest(digest, known):
                found = Caller(name)
        if found is None and self.open:
            return OPERATOR
        return found


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def token_digest(token: str) -> str:
    """What the hosting file keeps for a token (`token_sha256`)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh API token and its digest for the hosting file."""
    token = secrets.token_urlsafe(32)
    return token, token_digest(token)
