"""Login tokens: what an agent gets from POST /cti/login and passes to the CTI socket.

Place: between `ivr.adapters.cti.accounts` (password check, once) and every WebSocket
session and supervisor request (token check). A token is 32 random bytes; only its
SHA-256 is kept, and the lookup compares digests with `hmac.compare_digest`. Tokens
expire (`ttl`) and are revoked at logout.

`Tokens` is the port: `TokenBook` keeps them in this instance's memory (trio clock); on a
shared database `ivr.adapters.postgres.tokens.PostgresTokenBook` keeps them in the
tenant's schema, so a desktop that reconnects to another instance of the center (its own
stopped, or the load balancer sent it elsewhere) goes on with the token it has, and a
logout at one instance ends the token at every one. Both pass tests/cti/test_token_books.py.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Protocol

import trio


class Tokens(Protocol):
    """Issued desktop tokens. `expires` is on the trio clock, for the session's timer."""

    ttl: float  # seconds a token works after it is issued

    async def issue(self, extension: str) -> str: ...

    async def extension(self, token: str) -> str | None:
        """Whose token this is, or None (unknown, expired, revoked)."""
        ...

    async def expires(self, token: str) -> float | None:
        """When the token stops working (`trio.current_time()` scale), or None if it does
        not work now."""
        ...

    async def revoke(self, token: str) -> None: ...


def new_token() -> tuple[str, bytes]:
    """A fresh token and its digest (what is kept)."""
    token = secrets.token_urlsafe(32)
    return token, digest_of(token)


def digest_of(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "replace")).digest()


@dataclass(frozen=True, slots=True)
class _Grant:
    digest: bytes
    extension: str
    expires: float


class TokenBook:
    """Issued tokens by digest, in this instance's memory. All times are `trio.current_time()`."""

    def __init__(self, ttl: float = 12 * 3600) -> None:
        self.ttl = ttl
        self._grants: dict[bytes, _Grant] = {}

    async def issue(self, extension: str) -> str:
        token, digest = new_token()
        self._grants[digest] = _Grant(digest, extension, trio.current_time() + self.ttl)
        return token

    async def extension(self, token: str) -> str | None:
        grant = self._live(token)
        return None if grant is None else grant.extension

    async def expires(self, token: str) -> float | None:
        grant = self._live(token)
        return None if grant is None else grant.expires

    async def revoke(self, token: str) -> None:
        self._grants.pop(digest_of(token), None)

    def _live(self, token: str) -> _Grant | None:
        digest = digest_of(token)
        grant = self._grants.get(digest)
        if grant is None or not hmac.compare_digest(grant.digest, digest):
            return None
        if grant.expires <= trio.current_time():
            del self._grants[digest]
            return None
        return grant
