"""The hosted runtime's HTTP side: a Starlette application, served by hypercorn (trio).

Place: views over the server's state for operators, tenants and monitoring, and the one
write the API offers, publishing (docs/hosting.md and docs/tenants.md are the reference):

    GET  /health                        open: status, calls, capacity (tenants: operator only)
    GET  /metrics                       Prometheus text (the operator's)
    GET  /calls  /calls/recent?n=50     calls in progress / the last ended, newest first
    GET  /calls/{id}/trace              one call's nodes, prompts, inputs (secrets masked), and
                                        the messages it queued with their delivery state now
    GET  /calls/{id}/recordings         its recordings; GET /recordings/{id} plays one (WAV)
    GET  /usage?from=&to=[&tenant=]     metering per tenant and day
    GET  /tenants  /tenants/{t}         state, version, numbers, seats
    GET  /tenants/{t}/versions          every published version; POST one to publish it
    GET  /messages  /messages/{id}      the outbox: its messages (?status=&channel=&call=&n=),
                                        one with its attempts (docs/channels.md); hosted: the
                                        token's tenant, or ?tenant= for the operator
    GET  /tenants/{t}/messages  /tenants/{t}/messages/{id}     the same, for tenant t
    POST /sms/{channel}/inbound  /sms/{channel}/receipt   an SMS gateway's webhooks: a text in
                                        (its keyword's answer goes back as an SMS), a delivery
                                        receipt; the channel's shared secret, not a token
                                        (hosted: /tenants/{t}/sms/...; GET for the query style)
    POST /tenants/{t}/check             the diagnostics a publish would get
    GET  /tenants/{t}/versions/{a}/diff/{b}
    POST /tenants/{t}/rollback          {"version", "author"}
    /chat/  (a folder)  or  /tenants/{t}/chat/  (hosted): the web chat (docs/channels.md)
    /desktop/, /cti/  (a folder)  or  /tenants/{t}/desktop/, /tenants/{t}/cti/  (hosted):
                                        that tenant's agent desktop and CTI socket
    /supervisor/  or  /tenants/{t}/supervisor/   that tenant's supervisor pages (docs/reports.md)

Who sees what (`auth`): with a hosting file every view but /health needs a token; a
tenant's token sees only its own calls, traces, recordings, usage and versions (another
tenant's call is "not found", not "forbidden": its existence is not told), the operator's
token sees all. Without one, everything is open and there is nothing to publish. Errors
are JSON (`{"error": ...}`); nothing is cached.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import trio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ivr.adapters.hosting.auth import Caller, Tokens
from ivr.adapters.hosting.live import LiveCall, LiveCalls, trace_json
from ivr.adapters.hosting.metrics import CONTENT_TYPE, Metrics
from ivr.adapters.hosting.publishing import Outcome, Publisher
from ivr.adapters.hosting.sms import sms_webhooks
from ivr.adapters.hosting.tenants import Tenant
from ivr.adapters.hosting.versions import VersionError
from ivr.adapters.messaging.inbound import WebhookError
from ivr.adapters.storage import CallRecord, StoredRecording
from ivr.flowlang.hostingfile import HostingDecl
from ivr.runtime.acd import AcdStatistics
from ivr.runtime.acd.shared import CenterFigures
from ivr.runtime.acd.shared_acd import SharedAcd
from ivr.runtime.ports import CallEvent
from ivr.runtime.usage import CallUsage, RecordingUsage, SessionUsage, usage

JSON = "application/json"
NO_STORE = {"cache-control": "no-store"}
MAX_PUBLISH_BYTES = 32 * 2**20  # the JSON of a version: 20 MiB of files, base64 for audio
MAX_USAGE_DAYS = 366
MAX_WEBHOOK_BYTES = 64 * 1024


class Status(Protocol):
    """What /health reads from the server, at request time."""

    @property
    def calls_active(self) -> int: ...
    @property
    def calls_peak(self) -> int: ...
    @property
    def capacity(self) -> int: ...
    @property
    def compiled_max_calls(self) -> int: ...
    @property
    def draining(self) -> bool: ...
    @property
    def started(self) -> float: ...


class CallHistory(Protocol):
    """The durable side (`SqliteCallRecords` fits)."""

    async def get_call(self, call_id: str) -> CallRecord | None: ...
    async def events(self, call_id: str) -> list[CallEvent]: ...
    async def recordings(self, call_id: str) -> list[StoredRecording]: ...
    async def recording(self, recording_id: str) -> StoredRecording | None: ...
    async def usage_inputs(
        self, since: datetime, until: datetime, tenant: str | None = None
    ) -> tuple[list[CallUsage], list[SessionUsage], list[RecordingUsage]]: ...


class HttpApi:
    """The views; `app()` is the ASGI application that serves them."""

    def __init__(
        self,
        status: Status,
        live: LiveCalls,
        metrics: Metrics,
        history: CallHistory,
        tenants: Sequence[Tenant] = (),
        tokens: Tokens | None = None,
        publisher: Publisher | None = None,
        hosting: HostingDecl | None = None,
        chat: ASGIApp | None = None,
    ) -> None:
        self.status = status
        self.live = live
        self.metrics = metrics
        self.history = history
        self.tenants = {t.name: t for t in tenants}
        self.tokens = tokens or Tokens(open=True)
        self.publisher = publisher
        self.hosting = hosting
        self.chat = chat  # the web chat (ivr.adapters.hosting.chat), when served
        metrics.watch(self.gauges, self._acd_of_one)

    def app(self, extra: Sequence[BaseRoute] = ()) -> Starlette:
        """The Starlette app: these views, the tenants' desks, then `extra` routes."""
        desks = TenantDesks(self.tenants, hosted=self.hosting is not None)
        routes: list[BaseRoute] = [
            Route("/health", self._health, methods=["GET"]),
            Route("/metrics", self._metrics, methods=["GET"]),
            Route("/calls", self._calls, methods=["GET"]),
            Route("/calls/recent", self._recent, methods=["GET"]),
            Route("/calls/{call_id}/trace", self._trace, methods=["GET"]),
            Route("/calls/{call_id}/recordings", self._recordings, methods=["GET"]),
            Route("/recordings/{recording_id}", self._recording, methods=["GET"]),
            Route("/usage", self._usage, methods=["GET"]),
            Route("/tenants", self._tenant_list, methods=["GET"]),
            Route("/tenants/{tenant}", self._tenant, methods=["GET"]),
            Route("/tenants/{tenant}/versions", self._versions, methods=["GET", "POST"]),
            Route("/tenants/{tenant}/check", self._check, methods=["POST"]),
            Route("/tenants/{tenant}/rollback", self._rollback, methods=["POST"]),
            Route("/tenants/{tenant}/versions/{older}/diff/{newer}", self._diff, methods=["GET"]),
            Route("/tenants/{tenant}/versions/{version}/files", self._version_files, methods=["GET"]),
            Route("/messages", self._messages, methods=["GET"]),
            Route("/messages/{delivery_id}", self._messages, methods=["GET"]),
            Route("/tenants/{tenant}/messages", self._messages, methods=["GET"]),
            Route("/tenants/{tenant}/messages/{delivery_id}", self._messages, methods=["GET"]),
            Route("/sms/{channel}/{hook}", self._sms, methods=["GET", "POST"]),
            Route("/tenants/{tenant}/sms/{channel}/{hook}", self._sms, methods=["GET", "POST"]),
            *self._chat_routes(),
            Mount("/tenants/{tenant}", app=desks),
            Mount("/desktop", app=desks),
            Mount("/cti", app=desks),
            Mount("/supervisor", app=desks),
            *extra,
        ]
        return Starlette(
            routes=routes,
            exception_handlers={HTTPException: _error},
            middleware=[Middleware(Utf8QueryOnly)],
        )

    def _chat_routes(self) -> list[BaseRoute]:
        """/chat/ (a folder's one tenant) or /tenants/<t>/chat/ (hosted), before the desks."""
        if self.chat is None:
            return []
        where = "/tenants/{tenant}/chat" if self.hosting is not None else "/chat"
        return [Route(where, _to_folder, methods=["GET", "HEAD"]), Mount(where, app=self.chat)]

    # -- who -------------------------------------------------------------------------------
    def caller(self, request: Request) -> Caller:
        who = self.tokens.who(request.headers.get("authorization"))
        if who is None:
            raise HTTPException(401, "give your API token: Authorization: Bearer <token>")
        return who

    def operator(self, request: Request) -> Caller:
        who = self.caller(request)
        if not who.operator:
            raise HTTPException(403, "this needs the operator's token")
        return who

    def tenant_for(self, request: Request) -> Tenant:
        """The tenant in the path, if the caller may see it (else 404: none of theirs)."""
        who = self.caller(request)
        name = str(request.path_params["tenant"])
        tenant = self.tenants.get(name)
        if tenant is None or not who.sees(name):
            raise HTTPException(404, f"no tenant {name!r}")
        return tenant

    # -- views -----------------------------------------------------------------------------
    async def _health(self, request: Request) -> Response:
        who = self.tokens.who(request.headers.get("authorization"))
        health = self.health(who)
        center = await self._center_of_one()
        if center is not None:
            health["center"] = _center_health(center)
        return json_response(200, health)

    async def _metrics(self, request: Request) -> Response:
        self.operator(request)
        return Response(self.metrics.exposition(), 200, NO_STORE, CONTENT_TYPE)

    async def _calls(self, request: Request) -> Response:
        who = self.caller(request)
        calls = [c.summary() for c in self.live.active.values() if who.sees(c.tenant)]
        return json_response(200, {"calls": calls})

    async def _recent(self, request: Request) -> Response:
        who = self.caller(request)
        return json_response(200, {"calls": self.recent(_int(request, "n", 50), who)})

    async def _trace(self, request: Request) -> Response:
        return await self.trace(request.path_params["call_id"], self.caller(request))

    async def _recordings(self, request: Request) -> Response:
        who = self.caller(request)
        call_id = request.path_params["call_id"]
        if await self._call_tenant(call_id) is None or not who.sees(await self._call_tenant(call_id) or ""):
            return json_response(404, {"error": f"no call {call_id!r}"})
        found = await self.history.recordings(call_id)
        return json_response(200, {"recordings": [_recording_json(r) for r in found]})

    async def _recording(self, request: Request) -> Response:
        who = self.caller(request)
        recording_id = request.path_params["recording_id"]
        stored = await self.history.recording(recording_id)
        tenant = await self._call_tenant(stored.call_id) if stored is not None else None
        path = stored.recording.path if stored is not None else None
        if stored is None or tenant is None or not who.sees(tenant) or not path:
            return json_response(404, {"error": f"no recording {recording_id!r}"})
        try:
            audio = await trio.to_thread.run_sync(Path(path).read_bytes)
        except OSError:
            return json_response(404, {"error": f"recording {recording_id!r} has no audio file"})
        return Response(audio, 200, NO_STORE, "audio/wav")

    async def _usage(self, request: Request) -> Response:
        who = self.caller(request)
        tenant = request.query_params.get("tenant") or who.tenant
        if tenant is not None and not who.sees(tenant):
            return json_response(404, {"error": f"no tenant {tenant!r}"})
        zone = self.hosting.timezone if self.hosting else "UTC"
        try:
            first, last = _day_range(request.query_params.get("from"), request.query_params.get("to"), zone)
        except ValueError as exc:
            return json_response(400, {"error": str(exc)})
        since, until = _midnight(first, zone), _midnight(last, zone)
        inputs = await self.history.usage_inputs(since, until, tenant)
        rows = usage(*inputs, zone=zone, first=first, last=last, now=datetime.now(UTC))
        return json_response(
            200, {"timezone": zone, "from": first, "to": last, "days": [r.row() for r in rows]}
        )

    async def _tenant_list(self, request: Request) -> Response:
        who = self.caller(request)
        return json_response(
            200, {"tenants": [t.status() for t in self.tenants.values() if who.sees(t.name)]}
        )

    async def _tenant(self, request: Request) -> Response:
        return json_response(200, self.tenant_for(request).status())

    async def _versions(self, request: Request) -> Response:
        tenant = self.tenant_for(request)
        publisher = self._publisher()
        if request.method == "GET":
            current = publisher.current.get(tenant.name)
            found = await trio.to_thread.run_sync(publisher.versions, tenant.name)
            versions = [v.to_json() | {"current": v.id == current} for v in found]
            return json_response(200, {"tenant": tenant.name, "versions": versions})
        body = await _json_body(request, MAX_PUBLISH_BYTES)
        files = _files(body)
        author, note = _text(body, "author"), _text(body, "note")
        outcome = await publisher.publish(tenant.name, files, author=author, note=note)
        return _outcome(outcome, created=True)

    async def _check(self, request: Request) -> Response:
        tenant = self.tenant_for(request)
        body = await _json_body(request, MAX_PUBLISH_BYTES)
        return _outcome(await self._publisher().check(tenant.name, _files(body)))

    async def _rollback(self, request: Request) -> Response:
        tenant = self.tenant_for(request)
        body = await _json_body(request, 64 * 1024)
        version = _text(body, "version")
        outcome = await self._publisher().rollback(
            tenant.name, version, author=_text(body, "author"), note=_text(body, "note")
        )
        return _outcome(outcome, created=True)

    async def _diff(self, request: Request) -> Response:
        tenant = self.tenant_for(request)
        older, newer = request.path_params["older"], request.path_params["newer"]
        try:
            text = await trio.to_thread.run_sync(self._publisher().diff, tenant.name, older, newer)
        except VersionError as exc:
            return json_response(404, {"error": str(exc)})
        return json_response(200, {"tenant": tenant.name, "from": older, "to": newer, "diff": text})

    async def _version_files(self, request: Request) -> Response:
        """A version's text files (flows, service, tests); audio is listed by name only."""
        tenant = self.tenant_for(request)
        version = request.path_params["version"]
        try:
            files = await trio.to_thread.run_sync(self._publisher().files, tenant.name, version)
        except VersionError as exc:
            return json_response(404, {"error": str(exc)})
        texts = {n: d.decode("utf-8", "replace") for n, d in files.items() if not n.endswith(".wav")}
        audio = sorted(n for n in files if n.endswith(".wav"))
        return json_response(200, {"tenant": tenant.name, "version": version, "files": texts, "audio": audio})

    async def _messages(self, request: Request) -> Response:
        """A tenant's outbox: its messages, or one with its attempts (`MessagesApi`)."""
        tenant = self._messages_tenant(request)
        if tenant.messaging is None:
            raise HTTPException(503, f"tenant {tenant.name!r} is {tenant.state}: its outbox is not open")
        api = tenant.messaging.api
        delivery_id = request.path_params.get("delivery_id")
        if delivery_id is None:
            query = {name: request.query_params.getlist(name) for name in request.query_params}
            return json_response(200, await api.listing(query))
        status, body = await api.one(str(delivery_id))
        return json_response(status, body)

    async def _sms(self, request: Request) -> Response:
        """An SMS gateway's webhook: a text in, or a delivery receipt (docs/channels.md). The
        gateway proves itself with the channel's shared secret, not an API token."""
        hook, channel = request.path_params["hook"], str(request.path_params["channel"])
        if hook not in ("inbound", "receipt"):
            raise HTTPException(404, f"no such resource: {request.scope['path']} (inbound or receipt)")
        name = request.path_params.get("tenant")
        if name is None and self.hosting is None and len(self.tenants) == 1:
            tenant = next(iter(self.tenants.values()))
        elif name is None or name not in self.tenants:
            raise HTTPException(404, f"no tenant {name!r}" if name else "use /tenants/<name>/sms/...")
        else:
            tenant = self.tenants[str(name)]
        try:
            webhooks = sms_webhooks(tenant)
        except WebhookError as exc:
            raise HTTPException(exc.status, str(exc)) from None
        body = await _body(request, MAX_WEBHOOK_BYTES)
        headers = {k.lower(): v for k, v in request.headers.items()}
        query = request.scope.get("query_string", b"")
        handle = webhooks.inbound if hook == "inbound" else webhooks.receipt
        status, answer = await handle(channel, headers, query, body)
        return json_response(status, answer)

    def _messages_tenant(self, request: Request) -> Tenant:
        """The tenant in the path; else `?tenant=`, the token's tenant, or a folder's one."""
        if "tenant" in request.path_params:
            return self.tenant_for(request)
        who = self.caller(request)
        name = request.query_params.get("tenant") or who.tenant
        if name is None and self.hosting is None and len(self.tenants) == 1:
            return next(iter(self.tenants.values()))
        if name is None:
            raise HTTPException(400, "name the tenant: /tenants/<name>/messages or /messages?tenant=<name>")
        tenant = self.tenants.get(name)
        if tenant is None or not who.sees(name):
            raise HTTPException(404, f"no tenant {name!r}")
        return tenant

    def _publisher(self) -> Publisher:
        if self.publisher is None:
            raise HTTPException(404, "publishing needs a hosting file (docs/tenants.md)")
        return self.publisher

    # -- what they show --------------------------------------------------------------------
    def health(self, who: Caller | None = None) -> dict[str, object]:
        s = self.status
        prerendered = f"{self.metrics.prerendered}/{self.metrics.static_prompts}"
        starting = any(t.state == "starting" for t in self.tenants.values())
        health: dict[str, object] = {
            "status": "draining" if s.draining else "starting" if starting else "ok",
            "calls_active": s.calls_active,
            "calls_peak": s.calls_peak,
            "capacity": s.capacity,
            "compiled_max_calls": s.compiled_max_calls,
            "uptime_seconds": round(time.monotonic() - s.started, 1),
            "prompts_prerendered": prerendered,
        }
        load = self.metrics.load
        if load is not None:
            health["load"] = {
                "overloaded": load.overloaded,
                "event_loop_lag_ms": round(1000 * load.loop_lag, 1),
                "sip_thread_lag_ms": round(1000 * load.pj_lag, 1),
                "sip_thread_queue": load.pj_queue,
                "call_setup_wait_ms": round(1000 * load.setup_wait, 1),
                "sip_call_slots_used": load.pj_slots,
                "sip_backlog_kib": round(load.sip_backlog / 1024, 1),
            }
        if who is not None and self.hosting is not None:
            health["tenants"] = {t.name: t.state for t in self.tenants.values() if who.sees(t.name)}
        stats = self._acd_of_one()
        if stats is not None and (self.hosting is None):
            health |= _acd_health(stats)
        return health

    def _acd_of_one(self) -> AcdStatistics | None:
        """A folder's ACD (the metrics and health it has always had)."""
        if self.hosting is not None or len(self.tenants) != 1:
            return None
        acd = next(iter(self.tenants.values())).agents.acd
        return acd.statistics() if acd is not None else None

    async def _center_of_one(self) -> CenterFigures | None:
        """A folder's center-wide queue figures, when its calls wait in the shared ACD."""
        if self.hosting is not None or len(self.tenants) != 1:
            return None
        routing = next(iter(self.tenants.values())).agents.routing
        return await routing.figures() if isinstance(routing, SharedAcd) else None

    def gauges(self) -> dict[str, float]:
        s = self.status
        return {
            "ivr_calls_active": s.calls_active,
            "ivr_calls_peak": s.calls_peak,
            "ivr_capacity": s.capacity,
            "ivr_compiled_max_calls": s.compiled_max_calls,
            "ivr_uptime_seconds": time.monotonic() - s.started,
            "ivr_draining": int(s.draining),
        }

    def recent(self, n: int, who: Caller) -> list[dict[str, object]]:
        calls = [c for c in self.live.recent.values() if who.sees(c.tenant)][-max(0, min(n, 1000)) :]
        return [c.summary() for c in reversed(calls)] if n > 0 else []

    async def trace(self, call_id: str, who: Caller) -> Response:
        call: LiveCall | None = self.live.find(call_id)
        if call is not None:
            if not who.sees(call.tenant):
                return json_response(404, {"error": f"no call {call_id!r}"})
            body = trace_json(call.summary(), list(call.trace))
            return json_response(200, body | await self._messages_of(call.tenant, call_id))
        record = await self.history.get_call(call_id)
        if record is None or not who.sees(record.tenant):
            return json_response(404, {"error": f"no call {call_id!r}"})
        summary = {
            "id": record.call_id,
            "tenant": record.tenant,
            "version": record.version,
            "caller": record.caller,
            "dialed": record.dialed,
            "flow": record.flow,
            "channel": record.channel,
            "started": record.started_at.isoformat(),
            "ended": record.ended_at.isoformat() if record.ended_at else None,
            "how": record.how,
        }
        body = trace_json(summary, await self.history.events(call_id))
        return json_response(200, body | await self._messages_of(record.tenant, call_id))

    async def _messages_of(self, tenant: str, call_id: str) -> dict[str, object]:
        """`{"messages": [...]}`: what the call queued, as its tenant's outbox holds it now
        (sent, retrying, dead); nothing when that outbox is not open."""
        messaging = self.tenants[tenant].messaging if tenant in self.tenants else None
        if messaging is None:
            return {}
        found = await messaging.outbox.messages(call_id=call_id, limit=100)
        return {"messages": [m.summary() for m in reversed(found)]}

    async def _call_tenant(self, call_id: str) -> str | None:
        call = self.live.find(call_id)
        if call is not None:
            return call.tenant
        record = await self.history.get_call(call_id)
        return record.tenant if record is not None else None


class Utf8QueryOnly:
    """Refuse a query string that is not UTF-8 (400; a WebSocket is closed) before Starlette
    sees it: Starlette decodes it as UTF-8 wherever it builds a URL (a trailing-slash
    redirect, `request.url`) and raised there, so such a request got a 500 (found by
    fuzzing, tests/fuzz; hypercorn refuses those bytes on the wire, other servers pass them)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            try:
                bytes(scope.get("query_string", b"")).decode("utf-8")
            except UnicodeDecodeError:
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                answer = json_response(400, {"error": "the query string is not UTF-8 (percent-encode it)"})
                await answer(scope, receive, send)
                return
        await self.app(scope, receive, send)


class TenantDesks:
    """The agent desktops and supervisor pages, by tenant, as they come up (a tenant's agents
    start with it): `/tenants/<name>/desktop/...` (hosted) or `/desktop/...` (a folder's one
    tenant) goes to that tenant's CTI app, `.../supervisor/...` to its supervisor pages,
    with the prefix taken off the path (and kept in the scope as `ivr.prefix`)."""

    def __init__(self, tenants: Mapping[str, Tenant], *, hosted: bool) -> None:
        self.tenants = tenants
        self.hosted = hosted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return
        path: str = scope["path"]
        tenant: Tenant | None
        if self.hosted:
            name = str(scope.get("path_params", {}).get("tenant", ""))
            tenant = self.tenants.get(name)
            path = path.removeprefix(f"/tenants/{name}")
        else:
            tenant = next(iter(self.tenants.values())) if len(self.tenants) == 1 else None
        app = _desk_app(tenant, path)
        if app is None:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            await json_response(404, {"error": f"no such resource: {scope['path']}"})(scope, receive, send)
            return
        prefix = f"/tenants/{tenant.name}" if self.hosted and tenant is not None else ""
        scope = {**scope, "path": path, "raw_path": path.encode(), "root_path": "", "ivr.prefix": prefix}
        inner: Any = send  # the CTI app is typed with read-only messages
        await app(scope, receive, inner)


def _desk_app(tenant: Tenant | None, path: str) -> Any:
    """The tenant's app for `path`: its desktop and CTI socket, or its supervisor pages."""
    agents = tenant.agents if tenant is not None else None
    if agents is None:
        return None
    if agents.supervisor is not None and agents.supervisor.handles(path):
        return agents.supervisor
    return agents.cti if agents.cti is not None and path.startswith(("/desktop", "/cti/")) else None


# -- helpers ---------------------------------------------------------------------------------


async def _to_folder(request: Request) -> Response:
    """/chat -> /chat/: the page's relative links need the folder's slash."""
    return Response(status_code=307, headers={"location": request.url.path + "/"})


def _acd_health(stats: AcdStatistics) -> dict[str, object]:
    states: dict[str, int] = {}
    for agent in stats.agents.values():
        states[agent.state.value] = states.get(agent.state.value, 0) + 1
    queues = {
        q.name: {
            "waiting": q.waiting,
            "longest_wait_seconds": round(q.longest_wait, 1),
            "answered": q.answered,
            "abandoned": q.abandoned,
            "service_level": None if q.service_level is None else round(q.service_level, 1),
        }
        for q in sorted(stats.queues.values(), key=lambda q: q.name)
    }
    return {"agents": {"logged_in": len(stats.agents), **states}, "queues": queues}


def _center_health(figures: CenterFigures) -> dict[str, object]:
    """The center's figures (every instance on the database): `center` in /health."""
    queues = {
        q.queue: {"waiting": q.waiting, "longest_wait_seconds": round(q.longest_wait, 1)}
        for q in sorted(figures.queues.values(), key=lambda q: q.queue)
    }
    agents: dict[str, int] = {"logged_in": sum(figures.agents.values())}
    agents |= {state: n for state, n in sorted(figures.agents.items()) if n}
    return {"agents": agents, "queues": queues}


def _recording_json(stored: StoredRecording) -> dict[str, object]:
    r = stored.recording
    return {
        "id": r.recording_id,
        "seconds": r.duration,
        "ended_by": r.ended_by,
        "kind": stored.metadata.get("kind"),
        "audio": f"/recordings/{r.recording_id}" if r.path else None,
    }


def _outcome(outcome: Outcome, *, created: bool = False) -> Response:
    if outcome.ok:
        return json_response(201 if created else 200, outcome.to_json())
    status = 422 if outcome.diagnostics else 409 if outcome.version is not None else 400
    return json_response(status, outcome.to_json())


async def _body(request: Request, limit: int) -> bytes:
    size, chunks = 0, []
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"the request is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _json_body(request: Request, limit: int) -> dict[str, Any]:
    raw = await _body(request, limit)
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise HTTPException(400, f"send JSON ({exc})") from exc
    if not isinstance(body, dict):
        raise HTTPException(400, "send a JSON object")
    return body


def _files(body: Mapping[str, Any]) -> dict[str, bytes]:
    """`files` (path -> UTF-8 text) and `audio` (path -> base64) of a publish request."""
    files, audio = body.get("files", {}), body.get("audio", {})
    if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
        raise HTTPException(400, '"files" maps paths to the text of each file')
    if not isinstance(audio, dict) or not all(isinstance(v, str) for v in audio.values()):
        raise HTTPException(400, '"audio" maps paths to base64 WAV data')
    out = {str(name): text.encode("utf-8") for name, text in files.items()}
    for name, data in audio.items():
        try:
            out[str(name)] = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise HTTPException(400, f"audio {name!r} is not base64") from exc
    return out


def _text(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name, "")
    if not isinstance(value, str):
        raise HTTPException(400, f'"{name}" is text')
    return value


def _day_range(start: str | None, end: str | None, zone: str) -> tuple[date, date]:
    """[from, to) as days; `to` defaults to tomorrow, `from` to 30 days before `to`."""
    today = datetime.now(ZoneInfo(zone)).date()
    try:
        last = date.fromisoformat(end) + timedelta(days=1) if end else today + timedelta(days=1)
        first = date.fromisoformat(start) if start else last - timedelta(days=30)
    except ValueError as exc:
        raise ValueError("give days as YYYY-MM-DD (from and to, both included)") from exc
    if first >= last:
        raise ValueError("`from` is after `to`")
    if (last - first).days > MAX_USAGE_DAYS:
        raise ValueError(f"at most {MAX_USAGE_DAYS} days at once")
    return first, last


def _midnight(day: date, zone: str) -> datetime:
    return datetime.combine(day, clock(0), ZoneInfo(zone))


def json_response(status: int, body: object, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON response (UTF-8, Chinese as is; Decimal and datetimes as text), never cached."""
    content = json.dumps(body, ensure_ascii=False, default=_default).encode()
    return Response(content, status, {**NO_STORE, **(headers or {})}, JSON)


async def _error(request: Request, exc: Exception) -> Response:
    """HTTP errors as JSON, like every other answer of the API."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404 and exc.detail in ("Not Found", None):
        # the scope's path, not request.url: building the URL decodes the query string as
        # UTF-8 and raised on one that is not (found by fuzzing, tests/fuzz)
        message = f"no such resource: {request.scope['path']}"
    elif exc.status_code == 405:
        message = f"{request.method} is not served here"
    else:
        message = str(exc.detail)
    headers = dict(exc.headers or {})
    if exc.status_code == 401:
        headers["www-authenticate"] = "Bearer"
    return json_response(exc.status_code, {"error": message}, headers)


def _default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _int(request: Request, name: str, default: int) -> int:
    try:
        return int(request.query_params.get(name, default))
    except ValueError:
        return default
