"""The hosted runtime's HTTP side: a small hand-written ASGI app, served by hypercorn (trio).

Place: read-only views over the server's state for operators and monitoring:

    GET /health               {"status", "calls_active", "capacity", "compiled_max_calls", ...,
                               "agents": {state: n}, "queues": {name: {...}}} (with an ACD)
    GET /metrics              Prometheus text (queue and agent gauges with an ACD)
    GET /calls                calls in progress: id, caller, dialed, flow, node, started
    GET /calls/recent?n=50    the last ended calls, newest first, with how they ended
    GET /calls/{id}/trace     one call's nodes, prompts, inputs (secrets masked), operations

Traces come from memory for live and recent calls, else from the SQLite call records.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import parse_qs

from ivr.adapters.hosting.live import LiveCalls, trace_json
from ivr.adapters.hosting.metrics import Metrics
from ivr.runtime.acd import AcdStatistics
from ivr.runtime.ports import CallEvent

Scope = Mapping[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]
JSON = "application/json"
PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"


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
    """The durable side, for calls no longer in memory (`SqliteCallRecords` fits)."""

    async def get_call(self, call_id: str) -> Any: ...
    async def events(self, call_id: str) -> list[CallEvent]: ...


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str = JSON


class HttpApi:
    """The ASGI application (HTTP and lifespan scopes)."""

    def __init__(
        self,
        status: Status,
        live: LiveCalls,
        metrics: Metrics,
        history: CallHistory,
        acd: Callable[[], AcdStatistics] | None = None,
    ) -> None:
        self.status = status
        self.live = live
        self.metrics = metrics
        self.history = history
        self.acd = acd  # the ACD's `statistics`, when agents are configured

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        response = await self.respond(scope["method"], scope["path"], scope.get("query_string", b""))
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [
                    (b"content-type", response.content_type.encode()),
                    (b"content-length", str(len(response.body)).encode()),
                    (b"cache-control", b"no-store"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": response.body})

    async def respond(self, method: str, path: str, query: bytes) -> Response:
        if method not in ("GET", "HEAD"):
            return _json(405, {"error": "only GET is served"})
        parts = [p for p in path.split("/") if p]
        match parts:
            case ["health"]:
                return _json(200, self.health())
            case ["metrics"]:
                return Response(200, self.metrics_text().encode(), PROMETHEUS)
            case ["calls"]:
                return _json(200, {"calls": [c.summary() for c in self.live.active.values()]})
            case ["calls", "recent"]:
                return _json(200, {"calls": self.recent(_int(query, "n", 50))})
            case ["calls", call_id, "trace"]:
                return await self.trace(call_id)
        return _json(404, {"error": f"no such resource: {path}"})

    def health(self) -> dict[str, object]:
        s = self.status
        health: dict[str, object] = {
            "status": "draining" if s.draining else "ok",
            "calls_active": s.calls_active,
            "calls_peak": s.calls_peak,
            "capacity": s.capacity,
            "compiled_max_calls": s.compiled_max_calls,
            "uptime_seconds": round(time.monotonic() - s.started, 1),
            "prompts_prerendered": f"{self.metrics.tts_prerendered}/{self.metrics.tts_static_prompts}",
        }
        load = self.metrics.load
        if load is not None:
            health["load"] = {
                "overloaded": load.overloaded,
                "event_loop_lag_ms": round(1000 * load.loop_lag, 1),
                "sip_thread_lag_ms": round(1000 * load.pj_lag, 1),
                "sip_thread_queue": load.pj_queue,
            }
        if self.acd is not None:
            health |= _acd_health(self.acd())
        return health

    def metrics_text(self) -> str:
        s = self.status
        gauges: dict[str, float] = {
            "ivr_calls_active": s.calls_active,
            "ivr_calls_peak": s.calls_peak,
            "ivr_capacity": s.capacity,
            "ivr_compiled_max_calls": s.compiled_max_calls,
            "ivr_uptime_seconds": time.monotonic() - s.started,
            "ivr_draining": int(s.draining),
        }
        return self.metrics.render(gauges, self.acd() if self.acd is not None else None)

    def recent(self, n: int) -> list[dict[str, object]]:
        calls = list(self.live.recent.values())[-max(0, min(n, 1000)) :]
        return [c.summary() for c in reversed(calls)] if n > 0 else []

    async def trace(self, call_id: str) -> Response:
        call = self.live.find(call_id)
        if call is not None:
            return _json(200, trace_json(call.summary(), list(call.trace)))
        record = await self.history.get_call(call_id)
        if record is None:
            return _json(404, {"error": f"no call {call_id!r}"})
        summary = {
            "id": record.call_id,
            "caller": record.caller,
            "dialed": record.dialed,
            "flow": record.flow,
            "started": record.started_at.isoformat(),
            "ended": record.ended_at.isoformat() if record.ended_at else None,
            "how": record.how,
        }
        return _json(200, trace_json(summary, await self.history.events(call_id)))


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


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def _json(status: int, body: object) -> Response:
    return Response(status, json.dumps(body, ensure_ascii=False, default=_default).encode())


def _default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _int(query: bytes, name: str, default: int) -> int:
    values = parse_qs(query.decode(errors="replace")).get(name)
    try:
        return int(values[0]) if values else default
    except ValueError:
        return default
