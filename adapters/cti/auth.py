"""Logging in to the CTI, the same way on every entry point (POST /cti/login and the
WebSocket's `login`): throttled per extension and per client address, journaled.

Place: between the wire (`ivr.adapters.cti.app`, `ivr.adapters.cti.session`) and the
accounts (`ivr.adapters.cti.accounts`), tokens (`tokens`), the throttle (`throttle`) and
the agents' journal (`audit`). A locked extension or address is refused before any
password is checked, with a message that says until when; the failure that starts a
lock-out is journaled as `locked_out`. The gate (`server.throttle`) is this instance's
memory, or center-wide on a shared database; when that database cannot be reached the
login is refused as `unavailable` (HTTP 503 with Retry-After), never answered with a crash,
and no password is checked without the gate.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio

from ivr.adapters.cti.accounts import AgentAccount, authenticate
from ivr.adapters.cti.server import CtiServer
from ivr.adapters.cti.throttle import LoginLock
from ivr.adapters.errors import AdapterError

log = logging.getLogger(__name__)


class LoginRefused(AdapterError):
    """A login that did not work: `code` is `auth_failed`, `locked` or `unavailable` (the
    log-in gate's database cannot be reached); `retry_after` seconds say when to try again."""

    def __init__(self, code: str, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after


# The HTTP status of each refusal (401 for the others): too many tries, or the gate is down.
REFUSED_STATUS = {"locked": 429, "unavailable": 503}
UNAVAILABLE_RETRY = 5  # seconds a desktop waits before trying a login again after `unavailable`


async def password_login(
    server: CtiServer, extension: str, password: str, address: str | None, via: str
) -> tuple[AgentAccount, str]:
    """The account and a new token, or `LoginRefused`."""
    async with gate_reachable():
        return await _password_login(server, extension, password, address, via)


async def token_login(server: CtiServer, token: str, address: str | None, via: str) -> AgentAccount:
    """The account a live token belongs to, or `LoginRefused` (bad tokens count against the
    address)."""
    async with gate_reachable():
        return await _token_login(server, token, address, via)


@asynccontextmanager
async def gate_reachable() -> AsyncIterator[None]:
    """Around a use of the gate or the tokens: their store failing (`AdapterError`, its
    database unreachable) becomes `LoginRefused("unavailable")`."""
    try:
        yield
    except LoginRefused:
        raise
    except AdapterError as exc:
        log.warning("CTI login refused: the log-in gate is unavailable: %s", exc)
        raise LoginRefused(
            "unavailable", "logging in is unavailable for a moment: try again shortly", UNAVAILABLE_RETRY
        ) from exc


async def _password_login(
    server: CtiServer, extension: str, password: str, address: str | None, via: str
) -> tuple[AgentAccount, str]:
    gate = server.throttle
    lock = await gate.locked(extension, address)
    if lock is not None:
        server.audit("login_refused", extension, address, via=via, locked=lock.subject)
        raise _locked(lock)
    account = await trio.to_thread.run_sync(authenticate, server.directory, extension, password)
    if account is None:
        server.audit("login_failed", extension, address, via=via)
        started = await gate.failed(extension, address)
        if started is not None:
            log.warning("CTI logins locked for %s after repeated failures", started.subject)
            server.audit("locked_out", extension, address, via=via, locked=started.subject)
            raise _locked(started)
        raise LoginRefused("auth_failed", "unknown extension or wrong password")
    await gate.succeeded(extension)
    server.audit("login", account.extension, address, via=via)
    return account, await server.tokens.issue(account.extension)


async def _token_login(server: CtiServer, token: str, address: str | None, via: str) -> AgentAccount:
    gate = server.throttle
    lock = await gate.locked(None, address)
    if lock is not None:
        raise _locked(lock)
    extension = await server.tokens.extension(token)
    account = server.directory.get(extension) if extension is not None else None
    if account is None:
        server.audit("login_failed", None, address, via=via, token=True)
        started = await gate.failed(None, address)
        if started is not None:
            server.audit("locked_out", None, address, via=via, locked=started.subject)
            raise _locked(started)
        raise LoginRefused("auth_failed", "unknown, expired or revoked token: log in again")
    lock = await gate.locked(account.extension, None)
    if lock is not None:  # a lock-out also ends the use of tokens issued before it
        raise _locked(lock)
    server.audit("login", account.extension, address, via=via, token=True)
    return account


def _locked(lock: LoginLock) -> LoginRefused:
    return LoginRefused("locked", lock.message(), lock.retry_after())
