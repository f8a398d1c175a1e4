"""The campaign routes ask the server's guard first: with a hosting file only the operator's
token may see or control campaigns (the server passes `HttpApi.operator`)."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request

from ivr.adapters.dialer.http import campaign_routes


class Control:
    registry = CollectorRegistry()

    def __init__(self) -> None:
        self.listed: list[str] = []

    def overview(self) -> dict[str, object]:
        return {"campaigns": {}, "runs": []}

    async def add_do_not_call(self, number: str) -> bool:
        self.listed.append(number)
        return True

    def do_not_call_count(self) -> int:
        return len(self.listed)

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the routes asked for {name} of a refused request")


def operator_only(request: Request) -> None:
    if request.headers.get("authorization") != "Bearer op":
        raise HTTPException(403, "this needs the operator's token")


async def test_a_request_without_the_operators_token_is_refused_before_anything_runs() -> None:
    control = Control()
    app = Starlette(routes=campaign_routes(control, guard=operator_only))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ivr") as client:
        refused = await client.post("/campaigns/do-not-call", json={"number": "13800138000"})
        tenant = await client.get("/campaigns", headers={"authorization": "Bearer tenant"})
        allowed = await client.post(
            "/campaigns/do-not-call", json={"number": "13800138000"}, headers={"authorization": "Bearer op"}
        )
    assert (refused.status_code, tenant.status_code, allowed.status_code) == (403, 403, 201)
    assert control.listed == ["13800138000"]
