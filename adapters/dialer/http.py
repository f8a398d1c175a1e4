"""The HTTP API of outbound campaigns: a small set of Starlette routes the hosting app mounts.

Place: beside the server's other views (`ivr.adapters.hosting.http`); `ivr campaign` is
its command-line client. JSON in and out; errors are `{"error": ...}` with 400 (a request
that cannot be done: unknown campaign, bad contact list, a state that forbids it), 404 (no
such run) or 409 (a run id taken).

    GET  /campaigns                         the declared campaigns and every run's progress
    POST /campaigns/{campaign}?run=ID       create a run: the body is this run's contact list
                                            (text/csv), or empty for the campaign's own list
    GET  /campaigns/runs/{run}              progress: contacts per state, attempts per outcome,
                                            dispositions, pace per minute, ETA
    POST /campaigns/runs/{run}/contacts     add contacts to a run (text/csv with a `key` column:
                                            a key the run has already is ignored)
    POST /campaigns/runs/{run}/{action}     start, pause, resume or stop
    GET  /campaigns/runs/{run}/attempts     every attempt with its outcome (?limit=N, newest first)
    GET  /campaigns/do-not-call             how many numbers are listed
    POST /campaigns/do-not-call             {"number": "..."}: list a number (an opt-out by phone)
    GET  /campaigns/metrics                 the outbound metrics, Prometheus text
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ivr.adapters.dialer.contacts import ContactListError
from ivr.runtime.campaigns.model import Attempt, Progress
from ivr.runtime.campaigns.runner import Added, CampaignError
from ivr.runtime.ports import StoreConflict

JSON = "application/json"
PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"
MAX_LIST_BYTES = 64 * 2**20
ACTIONS = ("start", "pause", "resume", "stop")


class CampaignControl(Protocol):
    """What the routes ask of the outbound side (`ivr.adapters.dialer.hosting.Outbound`)."""

    registry: CollectorRegistry

    def overview(self) -> dict[str, object]: ...
    async def create_run(self, campaign: str, run_id: str | None, csv_text: str | None) -> Progress: ...
    async def add_contacts(self, run_id: str, csv_text: str) -> Added: ...
    def progress(self, run_id: str) -> Progress: ...
    async def control(self, run_id: str, action: str) -> Progress: ...
    async def attempts(self, run_id: str) -> list[Attempt]: ...
    async def add_do_not_call(self, number: str) -> bool: ...
    def do_not_call_count(self) -> int: ...


def campaign_routes(control: CampaignControl, guard: Guard | None = None) -> list[BaseRoute]:
    """The routes, for the hosting app to mount among its own; `guard` sees each request
    first and raises (an HTTPException: 401/403) for a caller who may not run campaigns."""

    async def overview(request: Request) -> Response:
        return _json(200, control.overview())

    async def create(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_LIST_BYTES:
            return _error(413, f"a contact list is at most {MAX_LIST_BYTES // 2**20} MiB here")
        try:
            text = body.decode("utf-8-sig") if body.strip() else None
        except UnicodeDecodeError:
            return _error(400, "the contact list is not UTF-8 text")
        progress = await control.create_run(
            request.path_params["campaign"], request.query_params.get("run"), text
        )
        return _json(201, progress.as_json())

    async def add(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_LIST_BYTES:
            return _error(413, f"a contact list is at most {MAX_LIST_BYTES // 2**20} MiB here")
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError:
            return _error(400, "the contact list is not UTF-8 text")
        if not text.strip():
            return _error(400, "send the contacts to add as CSV with a header line, e.g. `key,phone,name`")
        added = await control.add_contacts(request.path_params["run"], text)
        return _json(200, added.as_json())

    async def one(request: Request) -> Response:
        return _json(200, control.progress(request.path_params["run"]).as_json())

    async def act(request: Request) -> Response:
        action = request.path_params["action"]
        if action not in ACTIONS:
            return _error(404, f"no action {action!r}: one of {', '.join(ACTIONS)}")
        return _json(200, (await control.control(request.path_params["run"], action)).as_json())

    async def attempts(request: Request) -> Response:
        limit = _limit(request.query_params.get("limit"))
        found = await control.attempts(request.path_params["run"])
        newest = sorted(found, key=lambda a: (a.started_at, a.attempt_id), reverse=True)[:limit]
        return _json(200, {"attempts": [_attempt(a) for a in newest], "total": len(found)})

    async def dnc_count(request: Request) -> Response:
        return _json(200, {"numbers": control.do_not_call_count()})

    async def dnc_add(request: Request) -> Response:
        try:
            number = json.loads(await request.body()).get("number")
        except (ValueError, AttributeError):
            return _error(400, 'send {"number": "13800138000"}')
        if not isinstance(number, str) or not await control.add_do_not_call(number):
            return _error(400, f"{number!r} is not a phone number")
        return _json(201, {"numbers": control.do_not_call_count()})

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(control.registry), media_type=PROMETHEUS)

    return [
        Route("/campaigns", _guarded(overview, guard), methods=["GET"]),
        Route("/campaigns/metrics", _guarded(metrics, guard), methods=["GET"]),
        Route("/campaigns/do-not-call", _guarded(dnc_count, guard), methods=["GET"]),
        Route("/campaigns/do-not-call", _guarded(dnc_add, guard), methods=["POST"]),
        Route("/campaigns/runs/{run}", _guarded(one, guard), methods=["GET"]),
        Route("/campaigns/runs/{run}/attempts", _guarded(attempts, guard), methods=["GET"]),
        Route("/campaigns/runs/{run}/contacts", _guarded(add, guard), methods=["POST"]),
        Route("/campaigns/runs/{run}/{action}", _guarded(act, guard), methods=["POST"]),
        Route("/campaigns/{campaign}", _guarded(create, guard), methods=["POST"]),
    ]


Endpoint = Callable[[Request], Awaitable[Response]]
Guard = Callable[[Request], object]


def _guarded(endpoint: Endpoint, guard: Guard | None = None) -> Endpoint:
    """Turn the control side's refusals into JSON errors (never a stack trace)."""

    async def guarded(request: Request) -> Response:
        if guard is not None:
            guard(request)
        try:
            return await endpoint(request)
        except StoreConflict as exc:
            return _error(409, str(exc))
        except CampaignError as exc:
            return _error(404 if "there is no run" in str(exc) else 400, str(exc))
        except ContactListError as exc:
            return _error(400, str(exc))

    return guarded


def _limit(text: str | None) -> int:
    try:
        return max(1, min(10_000, int(text))) if text else 100
    except ValueError:
        return 100


def _attempt(a: Attempt) -> dict[str, Any]:
    return {
        "attempt": a.attempt_id,
        "contact": a.contact_id,
        "n": a.n,
        "number": a.number,
        "started_at": a.started_at.isoformat(),
        "ended_at": a.ended_at.isoformat() if a.ended_at else None,
        "outcome": a.outcome,
        "disposition": a.disposition,
        "ran_flow": a.ran_flow,
        "detail": a.detail,
    }


def _json(status: int, body: object) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False), status, media_type=JSON, headers={"cache-control": "no-store"}
    )


def _error(status: int, message: str) -> Response:
    return _json(status, {"error": message})
