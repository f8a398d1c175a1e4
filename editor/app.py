"""`build_editor_app`: the flow editor as one Starlette (ASGI) application.

Place: the outermost part of `ivr.editor`. `ivr edit` serves it alone on 127.0.0.1 with
hypercorn's trio worker; a host can mount it under a prefix (all its URLs are relative, so
`/editor/` works as well as `/`). Routes:

    GET  /                 the editor page (static HTML; the bundle is static/build/)
    GET  /?token=...       local sign-in: the token `ivr edit` printed becomes a session cookie
    POST /api/login        hosted sign-in {"name", "password"}; POST /api/logout
    /api/...               the API (`ivr.editor.routes`); WS /api/simulate (`ivr.editor.live`)

Guards, all before any handler runs: a session cookie (HttpOnly, SameSite=Strict) for every
API call; state-changing requests must carry `X-IVR-Editor: 1` (a cross-site form cannot);
WebSockets must come from the same origin; the local editor answers only to loopback host
names (no DNS rebinding); every response carries a strict Content-Security-Policy.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import trio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ivr.editor.auth import COOKIE
from ivr.editor.context import EditorContext
from ivr.editor.errors import EditorError, NotSignedIn
from ivr.editor.live import simulate
from ivr.editor.routes import ROUTES, editor, json_body, text_field

STATIC = Path(str(resources.files("ivr.editor") / "static"))
BUNDLE = STATIC / "build" / "editor.js"
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]", "::1"]
CSRF_HEADER = "x-ivr-editor"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"no-store"),
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        b"img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self' ws: wss:; "
        b"frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


class BundleMissing(RuntimeError):
    """The front end is not built: run `make setup` (it runs npm ci and the esbuild build)."""


def build_editor_app(context: EditorContext, *, check_bundle: bool = True) -> Starlette:
    """The ASGI app over an `EditorContext` (see `ivr.editor.context`)."""
    if check_bundle and not BUNDLE.is_file():
        raise BundleMissing(f"{BUNDLE} is missing: run `make setup` to build the editor's front end")
    middleware = [Middleware(_Guard)]
    if context.local is not None:
        middleware.insert(0, Middleware(TrustedHostMiddleware, allowed_hosts=LOOPBACK_HOSTS))
    app = Starlette(
        routes=[
            Route("/", index),
            Route("/api/login", login, methods=["POST"]),
            Route("/api/logout", logout, methods=["POST"]),
            *ROUTES,
            WebSocketRoute("/api/simulate", simulate),
            Mount("/static", StaticFiles(directory=STATIC, follow_symlink=False), name="static"),
        ],
        middleware=middleware,
        exception_handlers={EditorError: _refusal},
    )
    app.state.editor = context
    return app


async def index(request: Request) -> Response:
    context = editor(request)
    token = request.query_params.get("token")
    if token is not None and context.local is not None:
        if not context.local.matches(token):
            raise NotSignedIn(
                "this address's token is not the one `ivr edit` printed", "copy the address again"
            )
        response: Response = RedirectResponse("./", status_code=303)  # the token leaves the address bar
        _set_cookie(request, response, context.sessions.issue(context.local.user))
        return response
    return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")


async def login(request: Request) -> Response:
    context = editor(request)
    if context.logins is None:
        raise EditorError("this editor signs in by its address; open the one `ivr edit` printed")
    data = await json_body(request)
    name, password = text_field(data, "name")[:200], text_field(data, "password")[:1000]
    logins = context.logins
    user = await trio.to_thread.run_sync(lambda: logins.check(name, password))
    if user is None:
        raise NotSignedIn("wrong name or password")
    response = JSONResponse({"user": user.to_json()})
    _set_cookie(request, response, context.sessions.issue(user))
    return response


async def logout(request: Request) -> Response:
    editor(request).sessions.end(request.cookies.get(COOKIE))
    response = JSONResponse({"signed_out": True})
    response.delete_cookie(COOKIE, path=_cookie_path(request))
    return response


def _set_cookie(request: Request, response: Response, token: str) -> None:
    secure = request.url.scheme == "https"
    response.set_cookie(
        COOKIE, token, httponly=True, samesite="strict", secure=secure, path=_cookie_path(request)
    )


def _cookie_path(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/") + "/"


async def _refusal(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, EditorError)
    return JSONResponse(exc.to_json(), status_code=exc.status)


class _Guard:
    """Security headers on every response; the CSRF header on state-changing requests."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if scope["method"] not in SAFE_METHODS and headers.get(CSRF_HEADER) != "1":
            refusal = EditorError(
                "this request lacks the editor's X-IVR-Editor header", "use the editor page", code="csrf"
            )
            response = JSONResponse(refusal.to_json(), status_code=403)
            await self._secured(response)(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_secured)

    @staticmethod
    def _secured(response: Response) -> Response:
        for key, value in SECURITY_HEADERS:
            response.headers[key.decode()] = value.decode()
        return response
