"""Who may use the supervisor pages: an agent of this tenant with the `supervisor` role.

Place: the supervisor app's gate. Logging in is the desktop's (`password_login`: the same
accounts, throttle, lock-outs and journal), and the token lives in the tenant's CTI token
book, so a supervisor's session belongs to its tenant by construction: another tenant's
pages do not know the token. The browser keeps it in an HttpOnly, SameSite=Strict cookie
scoped to this tenant's pages (an `<audio>` element cannot send a header); scripts and the
command line may send `Authorization: Bearer TOKEN` instead. No token: 401; the token of an
agent who is not a supervisor: 403.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection

from ivr.adapters.cti.accounts import AgentAccount
from ivr.adapters.cti.auth import LoginRefused, gate_reachable
from ivr.adapters.cti.server import CtiServer

COOKIE = "ivr_supervisor"
PREFIX_KEY = "ivr.prefix"  # where the host mounted this tenant's pages (`/tenants/NAME` or "")


def token_of(connection: HTTPConnection) -> str | None:
    header = connection.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return connection.cookies.get(COOKIE) or None


async def account_of(server: CtiServer, connection: HTTPConnection) -> AgentAccount | None:
    """The agent whose live token came with the request (None: no such token)."""
    token = token_of(connection)
    try:
        async with gate_reachable():
            extension = await server.tokens.extension(token) if token else None
    except LoginRefused as refused:
        raise HTTPException(503, refused.message, {"retry-after": str(refused.retry_after)}) from refused
    return server.directory.get(extension) if extension is not None else None


async def supervisor_of(server: CtiServer, connection: HTTPConnection) -> AgentAccount:
    """The supervisor making the request; 401 without a live token, 403 for an agent who is
    not a supervisor."""
    account = await account_of(server, connection)
    if account is None:
        raise HTTPException(401, "log in as a supervisor")
    if not account.supervisor:
        raise HTTPException(403, f"agent {account.extension} is not a supervisor")
    return account


def cookie_path(connection: HTTPConnection) -> str:
    return f"{connection.scope.get(PREFIX_KEY, '')}/supervisor"
