"""Login tokens: what an agent gets from POST /cti/login and passes to the CTI socket.

Place: between `ivr.adapters.cti.accounts` (password check, once) and every WebSocket
session (token check). A token is 32 random bytes; only its SHA-256 is kept, and the
lookup compares digests with `hmac.compare_digest`. Tokens expire (`ttl`, trio clock) and
are revoked at logout.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

import trio


@dataclass(frozen=True, slots=True)
class _Grant:
    digest: bytes
    extension: str
    expires: float


class TokenBook:
    """Issued tokens by digest. All times are `trio.current_time()`."""

    def __init__(self, ttl: float = 12 * 3600) -> None:
        self.ttl = ttl
        self._grants: dict[bytes, _Grant] = {}

    def issue(self, extension: str) -> str:
        token = secrets.token_urlsafe(32)
        digest = _digest(token)
        self._grants[digest] = _Grant(digest, extension, trio.current_time() + self.ttl)
        return token

    def extension(self, token: str) -> str | None:
        """Whose token this is, or None (unknown, expired, revoked)."""
        digest = _digest(token)
        grant = self._grants.get(digest)
        if grant is None or not hmac.compare_digest(grant.digest, digest):
            return None
        if grant.expires <= trio.current_time():
            del self._grants[digest]
            return None
        return grant.extension

    def expires(self, token: str) -> float | None:
        """When the token stops working (trio clock), or None if it does not work now."""
        grant = self._grants.get(_digest(token))
        return None if grant is None or self.extension(token) is None else grant.expires

    def revoke(self, token: str) -> None:
        self._grants.pop(_digest(token), None)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "replace")).digest()
