"""`build_cti_app`: the agent desktop and the CTI socket as one Starlette application.

Place: the outermost part of the CTI adapter; the hosting app mounts it (paths /desktop/
and /cti/), or hypercorn serves it alone (Starlette runs on trio through anyio). Routes:

    GET  /desktop/           the agent desktop (static HTML/CSS/ES modules, no build step)
    GET  /desktop/<file>     its assets
    POST /cti/login          {"extension", "password"} -> {"token", "agent"}; 401, or 429
                             with Retry-After while the extension or address is locked out
    WS   /cti/ws             the CTI protocol (docs/cti.md); first message: `login`

Every HTTP answer carries a Content-Security-Policy whose `frame-ancestors` lists the
origins allowed to embed the desktop (`DeskSettings.frame_ancestors`; none by default).
A WebSocket from a page of another origin is refused. Standalone, the ASGI lifespan runs
the server's tasks; mounted, the host starts `app.server.run` in its own nursery (running
it twice is harmless).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import trio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from ivr.adapters.cti.accounts import AgentDirectory, AgentFile
from ivr.adapters.cti.audit import AgentJournal, MemoryAgentJournal
from ivr.adapters.cti.auth import REFUSED_STATUS, LoginRefused, password_login
from ivr.adapters.cti.control import CallControl
from ivr.adapters.cti.flows import DeskFlow
from ivr.adapters.cti.orders import OrderDesk
from ivr.adapters.cti.server import CtiServer
from ivr.adapters.cti.session import Session
from ivr.adapters.cti.settings import DeskSettings
from ivr.adapters.cti.throttle import LocalLoginGate, LoginGate, LoginLimits, LoginThrottle
from ivr.adapters.cti.tokens import TokenBook, Tokens
from ivr.adapters.cti.websocket import StarletteSocket
from ivr.adapters.history import HistoryReader
from ivr.adapters.static_files import package_file
from ivr.runtime.acd import Acd
from ivr.runtime.ports import CallRecords, WallClock

Scope = Mapping[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]
MAX_BODY = 4096


def build_cti_app(
    acd: Acd,
    records: CallRecords,
    agents: AgentDirectory,
    control: CallControl,
    *,
    settings: DeskSettings | None = None,
    journal: AgentJournal | None = None,
    clock: WallClock | None = None,
    flows: Mapping[str, DeskFlow] | None = None,
    orders: OrderDesk | None = None,
    history: HistoryReader | None = None,
    logins: Callable[[LoginLimits], LoginGate] | None = None,
    tokens: Callable[[float], Tokens] | None = None,
) -> CtiApp:
    """The ASGI app over an ACD (`open_acd`), the call records, the agent accounts, the
    connector's call control (the same object as the ACD's `AgentConnector`), the desktop's
    settings (default: those of an `AgentFile`), the agents' journal, the flows agents
    may send callers into (`desk_flows(project)`), the order form's back office and the
    reader of the tenant's customer histories (`ivr.adapters.history`), and the login gate
    for the settings' limits (default: this instance's memory; `logins` makes it, for
    example the shared database's, so that a lock-out holds at every instance), and the
    desktops' tokens for the settings' session length (default: this instance's memory;
    `tokens` makes them, for example the shared database's, valid at every instance)."""
    if settings is None:
        settings = agents.settings if isinstance(agents, AgentFile) else DeskSettings()
    limits = login_limits(settings)
    throttle = logins(limits) if logins is not None else LocalLoginGate(LoginThrottle.of(limits))
    server = CtiServer(
        acd,
        records,
        agents,
        control,
        tokens(settings.session_seconds) if tokens is not None else TokenBook(settings.session_seconds),
        settings,
        journal or MemoryAgentJournal(),
        throttle,
    )
    if clock is not None:
        server.clock = clock
    server.flows = dict(flows or {})
    server.orders = orders
    server.history = history
    return CtiApp(server)


def login_limits(settings: DeskSettings) -> LoginLimits:
    """The desk settings' failures and lock-out, as the login gates take them."""
    return LoginLimits(
        max_failures=settings.max_failures,
        max_address_failures=settings.max_address_failures,
        window=settings.lockout_minutes * 60,
        lockout=settings.lockout_minutes * 60,
    )


class CtiApp:
    PREFIXES = ("/desktop", "/cti/")

    def __init__(self, server: CtiServer) -> None:
        self.server = server
        policy = server.settings.content_security_policy().encode()
        self.app = Starlette(
            routes=[
                Route("/desktop", _to_desktop, methods=["GET", "HEAD"]),
                Route("/desktop/", self._file, methods=["GET", "HEAD"]),
                Route("/desktop/{name}", self._file, methods=["GET", "HEAD"]),
                Route("/cti/login", self._login, methods=["POST"]),
                WebSocketRoute("/cti/ws", self._websocket),
            ],
            middleware=[Middleware(SecurityHeaders, policy=policy)],
            exception_handlers={HTTPException: _http_error},
            lifespan=self._lifespan,
        )

    def handles(self, scope: Scope) -> bool:
        """Whether a request or WebSocket belongs to this app (for a host's dispatcher)."""
        return scope["type"] in ("http", "websocket") and str(scope.get("path", "")).startswith(self.PREFIXES)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)  # type: ignore[arg-type]

    @asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        async with trio.open_nursery() as nursery:
            await nursery.start(self.server.run)
            yield
            nursery.cancel_scope.cancel()

    # -- HTTP ------------------------------------------------------------------------------
    async def _file(self, request: Request) -> Response:
        return await package_file(request, "ivr.adapters.cti")

    async def _login(self, request: Request) -> Response:
        data = await _json_body(request)
        if not isinstance(data, dict):
            return JSONResponse({"error": 'send JSON: {"extension": ..., "password": ...}'}, status_code=400)
        extension, password = data.get("extension"), data.get("password")
        if not isinstance(extension, str) or not isinstance(password, str) or len(password) > 200:
            return JSONResponse({"error": "extension and password are strings"}, status_code=400)
        address = request.client.host if request.client else None
        try:
            account, token = await password_login(self.server, extension[:64], password, address, "http")
        except LoginRefused as refused:
            return refusal(refused)
        agent = {"extension": account.extension, "name": account.name, "language": account.language}
        return JSONResponse({"token": token, "agent": agent})

    # -- WebSocket -------------------------------------------------------------------------
    async def _websocket(self, websocket: WebSocket) -> None:
        if not _same_origin(websocket, self.server.settings.frame_ancestors):
            await websocket.close(code=1008)
            return
        await websocket.accept()
        socket = StarletteSocket(websocket)
        try:
            await Session(self.server, socket).run()
        finally:
            with trio.CancelScope(shield=True):
                await socket.close()


def refusal(refused: LoginRefused) -> JSONResponse:
    """A refused login over HTTP (the desktop's and the supervisor pages'): 401, or 429 /
    503 with `Retry-After` and `retry_after` when trying again later can work."""
    if refused.code not in REFUSED_STATUS:
        return JSONResponse({"error": refused.message, "code": refused.code}, status_code=401)
    headers = {"retry-after": str(refused.retry_after or 60)}
    body = {"error": refused.message, "code": refused.code, "retry_after": refused.retry_after}
    return JSONResponse(body, status_code=REFUSED_STATUS[refused.code], headers=headers)


class SecurityHeaders:
    """Adds the desktop's security headers to every HTTP answer (errors included)."""

    def __init__(self, app: Asgi, policy: bytes) -> None:
        self.app = app
        self.headers = [
            (b"x-content-type-options", b"nosniff"),
            (b"cache-control", b"no-store"),
            (b"content-security-policy", policy),
            (b"referrer-policy", b"no-referrer"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Mapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *self.headers]}
            await send(message)

        await self.app(scope, receive, with_headers)


def mount_cti(host: Asgi, cti: CtiApp) -> Asgi:
    """One ASGI app: /desktop and /cti/ go to `cti`, everything else (lifespan included) to
    `host`. The host must then start `cti.server.run` itself."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await (cti if cti.handles(scope) else host)(scope, receive, send)

    return app


async def _to_desktop(request: Request) -> Response:
    return RedirectResponse("/desktop/", status_code=308)


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    return JSONResponse(
        # the scope's path: request.url raises on a query string that is not UTF-8 (fuzzing)
        {"error": f"no such resource: {request.scope['path']}" if status == 404 else str(exc)},
        status,
    )


async def _json_body(request: Request) -> object:
    """The request's JSON (None when it is not JSON or larger than a login can be)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks))
    except ValueError:
        return None


def _same_origin(websocket: WebSocket, allowed: tuple[str, ...]) -> bool:
    """A browser's WebSocket must come from a page of this site (or an embedding origin);
    clients that send no Origin (CRMs, scripts) are let through."""
    origin = websocket.headers.get("origin")
    if origin is None or origin in allowed:
        return True
    return urlsplit(origin).netloc == websocket.headers.get("host", "")
