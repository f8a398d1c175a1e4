"""`SupervisorApp`: the supervisor pages of one tenant, as a Starlette application.

Place: the outer ring, beside the agent desktop (`ivr.adapters.cti`), over the same ACD,
accounts and agents' journal; the host mounts it per tenant (`/supervisor/` for a folder,
`/tenants/NAME/supervisor/` hosted). Routes (docs/reports.md is the reference):

    GET  /supervisor/                       the pages (static HTML/CSS/ES module, no build step)
    POST /supervisor/api/login              {"extension", "password"}: 403 unless a supervisor
    POST /supervisor/api/logout
    WS   /supervisor/ws                     the wall board, pushed on every change
    GET  /supervisor/api/board              the same board once
    GET  /supervisor/api/recordings?caller=&account=&agent=&order=&from=&to=
    GET  /supervisor/api/recordings/{id}/audio     the WAV, with HTTP range requests (journaled)
    GET  /supervisor/api/audit?n=           who listened to what, who changed which ticket
    GET  /supervisor/api/tickets?status=    POST .../tickets/{no}/reroute, .../tickets/{no}/close
    GET  /supervisor/api/departments
    GET  /supervisor/api/report?by=&interval=&from=&to=&zone=[&format=csv]

Everything but the page files and the login needs a supervisor of this tenant (`access`).
Every listen and every ticket change is written to the agents' journal before the answer.
Bad parameters get 400 with one line saying what to change.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import trio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from ivr.adapters.cti.app import SecurityHeaders, _same_origin, refusal
from ivr.adapters.cti.audit import AgentEvent
from ivr.adapters.cti.auth import LoginRefused, password_login
from ivr.adapters.cti.server import CtiServer
from ivr.adapters.reports import ReportQueryError
from ivr.adapters.static_files import package_file
from ivr.adapters.supervision import recordings as recs
from ivr.adapters.supervision.access import (
    COOKIE,
    account_of,
    cookie_path,
    supervisor_of,
    token_of,
)
from ivr.adapters.supervision.board import board
from ivr.adapters.supervision.recordings_postgres import find_postgres, search_postgres
from ivr.adapters.supervision.reports import parse_report, report_json, run_report, today_by_queue
from ivr.adapters.supervision.tickets import ModuleTickets, TicketError
from ivr.runtime.acd.shared_acd import SharedAcd

POLICY = (
    "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; media-src 'self'; "
    "frame-ancestors 'none'"
)
AUDIT_KINDS = (
    "supervisor_login",
    "supervisor_refused",
    "recording_played",
    "ticket_rerouted",
    "ticket_closed",
)
TICK = 1.0  # the board is sent again at least this often while waits grow
TODAY_EVERY = 10.0  # seconds between reads of today's figures from the records
LISTEN_AGAIN = 30.0  # a listen of the same recording by the same supervisor within this is one
MAX_BODY = 8192


@dataclass
class Sources:
    """Where a tenant's supervisor pages read from: the call records (reports, recordings),
    the agents' journals (reports by agent), the tickets desk (its module's; None: none)."""

    tenant: str
    records_db: Path
    journals: Sequence[tuple[str, Path]] = ()
    tickets: ModuleTickets | None = None
    zone: str = "UTC"  # whose "today" the wall board counts
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))  # tests fix the day
    database_url: str = field(default="", repr=False)  # reports from PostgreSQL (docs/cluster.md)


@dataclass
class _Today:
    """Today's figures per queue, from `ivr report` at most every `TODAY_EVERY` seconds; the
    board shows the last ones read, so a report never holds up a live update."""

    sources: Sources
    figures: dict[str, dict[str, object]] = field(default_factory=dict)
    read_at: float = -math.inf
    lock: trio.Lock = field(default_factory=trio.Lock)

    async def refresh(self) -> None:
        async with self.lock:
            if trio.current_time() - self.read_at < TODAY_EVERY:
                return
            s = self.sources
            try:
                self.figures = await today_by_queue(
                    s.records_db, s.tenant, s.journals, s.now(), s.zone, database_url=s.database_url
                )
            except ReportQueryError:
                self.figures = {}  # no records yet: the live state alone
            self.read_at = trio.current_time()

    async def keep_fresh(self) -> None:
        while True:
            await self.refresh()
            await trio.sleep(TODAY_EVERY)


class SupervisorApp:
    PREFIX = "/supervisor"

    def __init__(self, cti: CtiServer, sources: Sources) -> None:
        self.cti = cti
        self.sources = sources
        self.today = _Today(sources)
        self.center: SharedAcd | None = None  # the tenant's shared ACD, if its calls wait there
        self._listened: dict[tuple[str, str], float] = {}
        self.app = Starlette(
            routes=[
                Route("/supervisor", _to_pages, methods=["GET", "HEAD"]),
                Route("/supervisor/", self._file, methods=["GET", "HEAD"]),
                Route("/supervisor/{name:str}", self._file, methods=["GET", "HEAD"]),
                Route("/supervisor/api/login", self._login, methods=["POST"]),
                Route("/supervisor/api/logout", self._logout, methods=["POST"]),
                Route("/supervisor/api/board", self._board, methods=["GET"]),
                Route("/supervisor/api/recordings", self._recordings, methods=["GET"]),
                Route(
                    "/supervisor/api/recordings/{recording_id}/audio", self._audio, methods=["GET", "HEAD"]
                ),
                Route("/supervisor/api/audit", self._audit, methods=["GET"]),
                Route("/supervisor/api/tickets", self._tickets, methods=["GET"]),
                Route("/supervisor/api/tickets/{ticket_no}/{action}", self._ticket, methods=["POST"]),
                Route("/supervisor/api/departments", self._departments, methods=["GET"]),
                Route("/supervisor/api/report", self._report, methods=["GET"]),
                WebSocketRoute("/supervisor/ws", self._websocket),
            ],
            middleware=[Middleware(SecurityHeaders, policy=POLICY.encode())],
            exception_handlers={HTTPException: _http_error},
        )

    def handles(self, path: str) -> bool:
        return path == self.PREFIX or path.startswith(self.PREFIX + "/")

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)

    # -- pages and login -----------------------------------------------------------------
    async def _file(self, request: Request) -> Response:
        return await package_file(request, "ivr.adapters.supervision")

    async def _login(self, request: Request) -> Response:
        data = await _json(request)
        extension, password = data.get("extension"), data.get("password")
        if not isinstance(extension, str) or not isinstance(password, str) or len(password) > 200:
            raise HTTPException(400, 'send JSON: {"extension": "...", "password": "..."}')
        address = request.client.host if request.client else None
        try:
            account, token = await password_login(self.cti, extension[:64], password, address, "supervisor")
        except LoginRefused as refused:
            return refusal(refused)
        if not account.supervisor:
            await self.cti.tokens.revoke(token)
            await self._journal("supervisor_refused", account.extension, address)
            raise HTTPException(403, f"agent {account.extension} is not a supervisor")
        await self._journal("supervisor_login", account.extension, address)
        answer = JSONResponse(
            {
                "supervisor": {"extension": account.extension, "name": account.name},
                "tenant": self.sources.tenant,
            }
        )
        answer.set_cookie(
            COOKIE,
            token,
            max_age=int(self.cti.tokens.ttl),
            path=cookie_path(request),
            httponly=True,
            samesite="strict",
        )
        return answer

    async def _logout(self, request: Request) -> Response:
        token = token_of(request)
        if token:
            await self.cti.tokens.revoke(token)
        answer = JSONResponse({"ok": True})
        answer.delete_cookie(COOKIE, path=cookie_path(request))
        return answer

    # -- the wall board ------------------------------------------------------------------
    def board_now(self) -> dict[str, object]:
        center = self.center.center if self.center is not None else None
        return board(self.cti.acd.statistics(), self.today.figures, center)

    async def _read_center(self) -> None:
        """The center's figures, when the tenant's calls wait in the shared ACD (read at most
        once a second, whoever asks)."""
        if self.center is not None:
            await self.center.figures()

    async def _board(self, request: Request) -> Response:
        await supervisor_of(self.cti, request)
        await self.today.refresh()
        await self._read_center()
        return JSONResponse(self.board_now())

    async def _websocket(self, websocket: WebSocket) -> None:
        try:
            account = await account_of(self.cti, websocket)
        except HTTPException:  # the tokens' store is unreachable just now
            await websocket.close(code=1013)  # try again later
            return
        if not _same_origin(websocket, ()) or account is None or not account.supervisor:
            await websocket.close(code=1008)
            return
        await websocket.accept()
        events = self.cti.acd.subscribe(buffer=1024)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_until_closed, websocket, nursery.cancel_scope)
                nursery.start_soon(self.today.keep_fresh)
                async for text in self._boards(events):
                    await websocket.send_text(text)
        except (WebSocketDisconnect, trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass
        finally:
            events.close()

    async def _boards(self, events: trio.MemoryReceiveChannel[Any]) -> AsyncIterator[str]:
        """The board's JSON each time it changes: after each ACD event, or each `TICK` (waits
        grow; today's figures come in from `keep_fresh`)."""
        last = ""
        while True:
            await self._read_center()
            text = json.dumps(self.board_now(), ensure_ascii=False)
            if text != last:
                last = text
                yield text
            with trio.move_on_after(TICK):
                try:
                    await events.receive()
                except trio.EndOfChannel:  # dropped by the ACD (too slow): subscribe again
                    events = self.cti.acd.subscribe(buffer=1024)
            await trio.sleep(0.05)  # a burst of events is one board

    # -- recordings ----------------------------------------------------------------------
    async def _recordings(self, request: Request) -> Response:
        await supervisor_of(self.cti, request)
        try:
            query = recs.parse_search(self.sources.tenant, dict(request.query_params), self.sources.now())
            found = await trio.to_thread.run_sync(_search, self.sources, query)
        except recs.SearchError as exc:
            raise HTTPException(400, str(exc)) from exc
        return JSONResponse({"recordings": [f.to_json() for f in found], "limit": recs.MAX_ROWS})

    async def _audio(self, request: Request) -> Response:
        account = await supervisor_of(self.cti, request)
        recording_id = str(request.path_params["recording_id"])
        try:
            hit = await trio.to_thread.run_sync(_find, self.sources, recording_id)
        except recs.SearchError:
            hit = None
        if hit is None or not hit[1] or not await trio.to_thread.run_sync(Path(hit[1]).is_file):
            raise HTTPException(404, f"no recording {recording_id!r}")
        found, path = hit
        assert path is not None
        if request.method == "GET" and _from_the_start(request.headers.get("range")):
            await self._listened_to(account.extension, found, request)
        return FileResponse(path, media_type="audio/wav")  # no-store: SecurityHeaders

    async def _listened_to(self, extension: str, found: recs.Found, request: Request) -> None:
        """Journal a listen (durable before the audio goes out); a player's further range
        requests and a replay within `LISTEN_AGAIN` seconds are the same listen."""
        now = trio.current_time()
        key = (extension, found.recording_id)
        if now - self._listened.get(key, -math.inf) < LISTEN_AGAIN:
            return
        self._listened = {k: t for k, t in self._listened.items() if now - t < LISTEN_AGAIN}
        self._listened[key] = now
        address = request.client.host if request.client else None
        await self._journal(
            "recording_played", extension, address, recording=found.recording_id, call=found.call_id
        )

    async def _audit(self, request: Request) -> Response:
        await supervisor_of(self.cti, request)
        count = _bounded_int(request.query_params.get("n"), 100, 1, 1000)
        lines = await self.cti.journal.latest(AUDIT_KINDS, count)
        return JSONResponse(
            {
                "audit": [
                    {"at": e.at.isoformat(), "kind": e.kind, "by": e.extension, **dict(e.detail)}
                    for e in lines
                ]
            }
        )

    # -- tickets -------------------------------------------------------------------------
    def _desk(self) -> ModuleTickets:
        if self.sources.tickets is None:
            raise HTTPException(404, f"tenant {self.sources.tenant!r} has no complaint tickets desk")
        return self.sources.tickets

    async def _tickets(self, request: Request) -> Response:
        await supervisor_of(self.cti, request)
        status = request.query_params.get("status", "")
        if status not in ("", "open", "closed"):
            raise HTTPException(400, "status is open or closed (or nothing: all)")
        return JSONResponse({"tickets": await self._desk().tickets(status)})

    async def _departments(self, request: Request) -> Response:
        await supervisor_of(self.cti, request)
        return JSONResponse({"departments": await self._desk().departments()})

    async def _ticket(self, request: Request) -> Response:
        account = await supervisor_of(self.cti, request)
        desk, action = self._desk(), request.path_params["action"]
        ticket_no, data = str(request.path_params["ticket_no"]), await _json(request)
        try:
            if action == "reroute":
                department = data.get("department")
                if not isinstance(department, str):
                    raise HTTPException(400, 'send {"department": "..."}')
                ticket = await desk.reroute(ticket_no, department, account.extension)
                detail: dict[str, object] = {"ticket": ticket_no, "department": department}
            elif action == "close":
                note, call_back = data.get("note"), data.get("call_back", False)
                if not isinstance(note, str) or not isinstance(call_back, bool):
                    raise HTTPException(400, 'send {"note": "...", "call_back": true or false}')
                ticket = await desk.close(ticket_no, note, account.extension, call_back)
                detail = {"ticket": ticket_no, "call_back": call_back}
            else:
                raise HTTPException(404, f"no action {action!r}: reroute or close")
        except TicketError as exc:
            raise HTTPException(409, str(exc)) from exc
        address = request.client.host if request.client else None
        await self._journal(
            f"ticket_{'rerouted' if action == 'reroute' else 'closed'}", account.extension, address, **detail
        )
        return JSONResponse({"ticket": ticket})

    # -- reports -------------------------------------------------------------------------
    async def _report(self, request: Request) -> Response:
        await supervisor_of(self.cti, request)
        params = dict(request.query_params)
        fmt = params.pop("format", "json")
        if fmt not in ("json", "csv"):
            raise HTTPException(400, "format is json or csv")
        s = self.sources
        try:
            query = parse_report(s.tenant, params, s.now())
            text = await run_report(s.records_db, query, s.journals, fmt, database_url=s.database_url)
        except ReportQueryError as exc:
            raise HTTPException(400, str(exc)) from exc
        if fmt == "csv":
            name = f"{s.tenant}-{query.by}-{query.start:%Y%m%d}.csv"
            return Response(
                text,
                media_type="text/csv; charset=utf-8",
                headers={"content-disposition": f'attachment; filename="{name}"'},
            )
        return JSONResponse(report_json(text) | {"tenant": s.tenant})

    # -- the journal ---------------------------------------------------------------------
    async def _journal(self, kind: str, extension: str, address: str | None, **detail: object) -> None:
        """A line in the agents' journal, durable on return."""
        await self.cti.journal.record(AgentEvent(self.cti.clock.now(), kind, extension, address, detail))


def _from_the_start(header: str | None) -> bool:
    """A request for the audio from its first byte: a new listen (not a seek)."""
    return header is None or header.replace(" ", "").lower().startswith("bytes=0-")


async def _until_closed(websocket: WebSocket, scope: trio.CancelScope) -> None:
    """Read (and drop) what the page sends, until it goes; then stop the board."""
    try:
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass
    finally:
        scope.cancel()


async def _to_pages(request: Request) -> Response:
    return RedirectResponse(f"{cookie_path(request)}/", status_code=308)


async def _json(request: Request) -> dict[str, Any]:
    if "application/json" not in request.headers.get("content-type", ""):
        raise HTTPException(415, "send JSON (Content-Type: application/json)")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise HTTPException(413, f"the request is larger than {MAX_BODY} bytes")
        chunks.append(chunk)
    try:
        data = json.loads(b"".join(chunks) or b"{}")
    except ValueError:
        raise HTTPException(400, "the body is not JSON") from None
    if not isinstance(data, dict):
        raise HTTPException(400, "send a JSON object")
    return data


def _bounded_int(text: str | None, default: int, low: int, high: int) -> int:
    try:
        value = int(text) if text else default
    except ValueError:
        raise HTTPException(400, f"{text!r} is not a number") from None
    return max(low, min(value, high))


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
    message = (
        f"no such resource: {request.scope['path']}" if status == 404 and detail == "Not Found" else detail
    )
    return JSONResponse({"error": message}, status_code=status)


def _search(sources: Sources, query: recs.RecordingSearch) -> list[recs.Found]:
    """The recordings search on the server's store: the SQLite file, or PostgreSQL."""
    if sources.database_url:
        return search_postgres(sources.database_url, query)
    return recs.search(sources.records_db, query)


def _find(sources: Sources, recording_id: str) -> tuple[recs.Found, str | None] | None:
    if sources.database_url:
        return find_postgres(sources.database_url, sources.tenant, recording_id)
    return recs.find(sources.records_db, sources.tenant, recording_id)
