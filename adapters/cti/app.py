"""`build_cti_app`: the agent desktop and the CTI socket as one small ASGI application.

Place: the outermost part of the CTI adapter; the hosting app mounts it (paths /desktop/
and /cti/), or hypercorn serves it alone. Routes:

    GET  /desktop/           the agent desktop (static HTML/CSS/ES modules, no build step)
    GET  /desktop/<file>     its assets
    POST /cti/login          {"extension", "password"} -> {"token", "agent"}; 401 otherwise
    WS   /cti/ws             the CTI protocol (docs/cti.md); first message: `login`

Standalone, the ASGI lifespan runs the server's event task; mounted, the host starts
`app.server.run` in its own nursery (running it twice is harmless).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from importlib import resources

import trio

from ivr.adapters.cti.accounts import AgentDirectory, authenticate
from ivr.adapters.cti.calls import CallControl
from ivr.adapters.cti.server import CtiServer
from ivr.adapters.cti.session import Session
from ivr.adapters.cti.tokens import TokenBook
from ivr.adapters.cti.websocket import AsgiWebSocket, Receive, Scope, Send
from ivr.runtime.acd import Acd
from ivr.runtime.ports import CallRecords, WallClock

Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]
MAX_BODY = 4096
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
_SECURITY = [
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"no-store"),
    (b"content-security-policy", b"default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


def build_cti_app(
    acd: Acd,
    records: CallRecords,
    agents: AgentDirectory,
    control: CallControl,
    *,
    clock: WallClock | None = None,
    token_ttl: float = 12 * 3600,
) -> CtiApp:
    """The ASGI app over an ACD (`open_acd`), the call records, the agent accounts and the
    connector's call control (the same object as the ACD's `AgentConnector`)."""
    server = CtiServer(acd, records, agents, control, TokenBook(token_ttl))
    if clock is not None:
        server.clock = clock
    return CtiApp(server)


class CtiApp:
    PREFIXES = ("/desktop", "/cti/")

    def __init__(self, server: CtiServer) -> None:
        self.server = server

    def handles(self, scope: Scope) -> bool:
        """Whether a request or WebSocket belongs to this app (for a host's dispatcher)."""
        return scope["type"] in ("http", "websocket") and str(scope.get("path", "")).startswith(self.PREFIXES)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":
            await self._websocket(scope, receive, send)
        elif kind == "http":
            await self._http(scope, receive, send)

    # -- WebSocket -------------------------------------------------------------------------
    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        socket = AsgiWebSocket(receive, send)
        if scope["path"] != "/cti/ws":
            await send({"type": "websocket.close", "code": 1008})
            return
        if not await socket.accept():
            return
        try:
            await Session(self.server, socket).run()
        finally:
            with trio.CancelScope(shield=True):
                await socket.close()

    # -- HTTP ------------------------------------------------------------------------------
    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        method, path = scope["method"], scope["path"]
        if path == "/cti/login":
            if method != "POST":
                await _respond(send, 405, _json({"error": "POST extension and password"}))
                return
            status, body = await self._login(await _body(receive))
            await _respond(send, status, _json(body))
        elif path == "/desktop":
            await _respond(send, 308, b"", extra=[(b"location", b"/desktop/")])
        elif path.startswith("/desktop/") and method in ("GET", "HEAD"):
            await _static(send, path.removeprefix("/desktop/") or "index.html")
        else:
            await _respond(send, 404, _json({"error": f"no such resource: {path}"}))

    async def _login(self, body: bytes | None) -> tuple[int, Mapping[str, object]]:
        try:
            data = json.loads(body) if body is not None else None
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return 400, {"error": 'send JSON: {"extension": ..., "password": ...}'}
        extension, password = data.get("extension"), data.get("password")
        if not isinstance(extension, str) or not isinstance(password, str) or len(password) > 200:
            return 400, {"error": "extension and password are strings"}
        server = self.server
        account = await trio.to_thread.run_sync(authenticate, server.directory, extension, password)
        if account is None:
            return 401, {"error": "unknown extension or wrong password"}
        token = server.tokens.issue(account.extension)
        return 200, {"token": token, "agent": {"extension": account.extension, "name": account.name}}

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        async with trio.open_nursery() as nursery:
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await nursery.start(self.server.run)
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    nursery.cancel_scope.cancel()
                    await send({"type": "lifespan.shutdown.complete"})
                    return


def mount_cti(host: Asgi, cti: CtiApp) -> Asgi:
    """One ASGI app: /desktop and /cti/ go to `cti`, everything else (lifespan included) to
    `host`. The host must then start `cti.server.run` itself."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await (cti if cti.handles(scope) else host)(scope, receive, send)

    return app


async def _body(receive: Receive) -> bytes | None:
    """The request body, or None when it is larger than a login can be."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = bytes(message.get("body", b""))
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _static(send: Send, name: str) -> None:
    folder = resources.files("ivr.adapters.cti") / "static"
    suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
    if "/" in name or name.startswith(".") or suffix not in _TYPES:
        await _respond(send, 404, _json({"error": "no such file"}))
        return
    resource = folder / name
    if not resource.is_file():
        await _respond(send, 404, _json({"error": "no such file"}))
        return
    body = await trio.to_thread.run_sync(resource.read_bytes)
    await _respond(send, 200, body, content_type=_TYPES[suffix])


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    *,
    content_type: str = "application/json",
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    await send(
        {"type": "http.response.start", "status": status, "headers": headers + _SECURITY + (extra or [])}
    )
    await send({"type": "http.response.body", "body": body})


def _json(body: Mapping[str, object]) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode()
