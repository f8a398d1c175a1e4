"""The hosted runtime's HTTP side: a Starlette application, served by hypercorn (trio).

Place: read-only views over the server's state for operators and monitoring:

    GET /health               {"status", "calls_active", "capacity", "compiled_max_calls", ...,
                               "agents": {state: n}, "queues": {name: {...}}} (with an ACD)
    GET /metrics              Prometheus text (queue and agent gauges with an ACD)
    GET /calls                calls in progress: id, caller, dialed, flow, node, started
    GET /calls/recent?n=50    the last ended calls, newest first, with how they ended
    GET /calls/{id}/trace     one call's nodes, prompts, inputs (secrets masked), operations

Traces come from memory for live and recent calls, else from the SQLite call records.
Starlette runs on anyio, which runs on trio here; errors are JSON (`{"error": ...}`) and
nothing is cached (`Cache-Control: no-store`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ivr.adapters.hosting.live import LiveCalls, trace_json
from ivr.adapters.hosting.metrics import CONTENT_TYPE, Metrics
from ivr.runtime.acd import AcdStatistics
from ivr.runtime.ports import CallEvent

JSON = "application/json"
NO_STORE = {"cache-control": "no-store"}


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


class HttpApi:
    """The views; `app()` is the ASGI application that serves them."""

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
        metrics.watch(self.gauges, acd)

    def app(self, extra: Sequence[BaseRoute] = ()) -> Starlette:
        """The Starlette app: these views, then `extra` routes (mounted apps) after them."""
        routes: list[BaseRoute] = [
            Route("/health", self._health, methods=["GET"]),
            Route("/metrics", self._metrics, methods=["GET"]),
            Route("/calls", self._calls, methods=["GET"]),
            Route("/calls/recent", self._recent, methods=["GET"]),
            Route("/calls/{call_id}/trace", self._trace, methods=["GET"]),
            *extra,
        ]
        return Starlette(routes=routes, exception_handlers={HTTPException: _error})

    # -- views -----------------------------------------------------------------------------
    async def _health(self, request: Request) -> Response:
        return json_response(200, self.health())

    async def _metrics(self, request: Request) -> Response:
        return Response(self.metrics.exposition(), 200, NO_STORE, CONTENT_TYPE)

    async def _calls(self, request: Request) -> Response:
        return json_response(200, {"calls": [c.summary() for c in self.live.active.values()]})

    async def _recent(self, request: Request) -> Response:
        return json_response(200, {"calls": self.recent(_int(request, "n", 50))})

    async def _trace(self, request: Request) -> Response:
        return await self.trace(request.path_params["call_id"])

    # -- what they show --------------------------------------------------------------------
    def health(self) -> dict[str, object]:
        s = self.status
        health: dict[str, object] = {
            "status": "draining" if s.draining else "ok",
            "calls_active": s.calls_active,
            "calls_peak": s.calls_peak,
            "capacity": s.capacity,
            "compiled_max_calls": s.compiled_max_calls,
            "uptime_seconds": round(time.monotonic() - s.started, 1),
            "prompts_prerendered": f"{self.metrics.prerendered}/{self.metrics.static_prompts}",
        }
        if self.acd is not None:
            health |= _acd_health(self.acd())
        return health

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

    def recent(self, n: int) -> list[dict[str, object]]:
        calls = list(self.live.recent.values())[-max(0, min(n, 1000)) :]
        return [c.summary() for c in reversed(calls)] if n > 0 else []

    async def trace(self, call_id: str) -> Response:
        call = self.live.find(call_id)
        if call is not None:
            return json_response(200, trace_json(call.summary(), list(call.trace)))
        record = await self.history.get_call(call_id)
        if record is None:
            return json_response(404, {"error": f"no call {call_id!r}"})
        summary = {
            "id": record.call_id,
            "caller": record.caller,
            "dialed": record.dialed,
            "flow": record.flow,
            "started": record.started_at.isoformat(),
            "ended": record.ended_at.isoformat() if record.ended_at else None,
            "how": record.how,
        }
        return json_response(200, trace_json(summary, await self.history.events(call_id)))


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


def json_response(status: int, body: object, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON response (UTF-8, Chinese as is; Decimal and datetimes as text), never cached."""
    content = json.dumps(body, ensure_ascii=False, default=_default).encode()
    return Response(content, status, {**NO_STORE, **(headers or {})}, JSON)


async def _error(request: Request, exc: Exception) -> Response:
    """404, 405 and other HTTP errors as JSON, like every other answer of the API."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = f"no such resource: {request.url.path}"
    elif exc.status_code == 405:
        message = f"{request.method} is not served here"
    else:
        message = str(exc.detail)
    return json_response(exc.status_code, {"error": message}, exc.headers)


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
