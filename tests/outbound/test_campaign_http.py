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
from ivr.runtime.campaigns.runner import Added, CampaignError


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


class Adding(Control):
    def __init__(self) -> None:
        super().__init__()
        self.lists: list[tuple[str, str]] = []

    async def add_contacts(self, run_id: str, csv_text: str) -> Added:
        if run_id != "june":
            raise CampaignError(f"there is no run {run_id!r}")
        self.lists.append((run_id, csv_text))
        return Added(run_id, ("k1",), 1)


async def test_contacts_are_added_to_a_run_from_a_csv_body() -> None:
    control = Adding()
    app = Starlette(routes=campaign_routes(control))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ivr") as client:
        added = await client.post("/campaigns/runs/june/contacts", content="key,phone\nk1,10900\nk0,10901\n")
        empty = await client.post("/campaigns/runs/june/contacts", content="")
        missing = await client.post("/campaigns/runs/july/contacts", content="key,phone\nk1,1\n")
    assert (added.status_code, added.json()) == (200, {"run": "june", "added": 1, "already": 1})
    assert empty.status_code == 400 and "key,phone" in empty.json()["error"]
    assert missing.status_code == 404 and "no run 'july'" in missing.json()["error"]
    assert control.lists == [("june", "key,phone\nk1,10900\nk0,10901\n")]
