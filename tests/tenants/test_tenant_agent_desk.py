"""A tenant's agent desktop follows the version its new calls get: the agent flows and the
order form come from that version's service (its labels, its own operations), a version the
order form cannot use is refused at publishing, and a tenant whose agents file names
operations its service lacks is unavailable (its calls get 503), the others unharmed. Each
tenant's desk reads customer histories from that tenant's stores and calls only."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import trio
from tenants_support import hosting_file, running, tenant_folder, write

from ivr.adapters.cti.accounts import hash_password
from ivr.adapters.cti.testing import DeskConnector
from ivr.adapters.history import Who
from ivr.adapters.hosting.versions import snapshot

MODULE = """\
from ivr.runtime.modules import Module

def quote(ctx, code):
    return {"found": True, "code": code, "name": "Alpha Bank", "name_en": "Alpha Bank", "market": "SH",
            "last": "10.00", "limit_up": "11.00", "limit_down": "9.00", "suspended": False}

def check(ctx, account, market, side, code, qty, price):
    return {"ok": True}

def place(ctx, account, market, side, code, qty, price, idempotency_key):
    return {"ok": True, "order_no": "A1", "status": "open"}

module = Module("desk", operations={"quote": quote, "check": check, "place": place})
"""

OPERATIONS = """\
module: module.py
operations:
  quote: {backend: module, params: [code]}
  check: {backend: module, params: [account, market, side, code, qty, price]}
  place:
    backend: module
    params: [account, market, side, code, qty, price, idempotency_key]
"""
PLACE = OPERATIONS[OPERATIONS.index("  place:") :]
MAIN_FLOW = "flow: main\nlanguages: [en]\nstart: bye\nnodes:\n  bye: {type: hangup, prompt: Goodbye.}\n"

PIN_FLOW = """\
flow: pin
languages: [en]
start: done
nodes:
  done: {type: return, outcome: ok}
"""


def agent_flows(label: str) -> str:
    return f"agent_flows:\n  pin:\n    label: {{en: {label}}}\n    outcomes: {{ok: {{en: fine}}}}\n"


def desk_tenant(root: Path, name: str, number: str, *, form: str) -> Path:
    folder = tenant_folder(
        root,
        name,
        {number: "main"},
        flows={
            "main": MAIN_FLOW,
            "pin": PIN_FLOW,
        },
        service_extra=OPERATIONS + agent_flows("PIN check"),
    )
    write(folder / "module.py", MODULE)
    write(
        root / f"{name}-agents.yaml",
        f'agents:\n  - extension: "8001"\n    name: Alice\n    password_hash: "{hash_password("pw-8001")}"\n'
        f"    phone: sip:8001@127.0.0.1:9\n    skills: {{desk: 3}}\ndesktop:\n  order_form: {form}\n",
    )
    return folder


FORM = "{quote: quote, check: check, place: place, readback_flow: pin}"


async def test_the_desk_offers_the_current_versions_agent_flows_and_orders_over_its_operations(
    tmp_path: Path,
) -> None:
    folder = desk_tenant(tmp_path, "alpha", "100", form=FORM)
    hosting_file(tmp_path, 'alpha: {folder: alpha, numbers: ["100"], agents: alpha-agents.yaml}\n')
    async with running(tmp_path, agent_line=lambda layout: DeskConnector()) as hosted:
        tenant = hosted.tenant("alpha")
        assert tenant.state == "serving" and tenant.agents.cti is not None and hosted.publisher is not None
        desk = tenant.agents.cti.server
        assert {name: dict(flow.label) for name, flow in desk.flows.items()} == {"pin": {"en": "PIN check"}}
        assert desk.orders is not None
        found = await desk.orders.quote("600000")
        assert found is not None and found.name == "Alpha Bank"

        service = (folder / "service.yaml").read_text(encoding="utf-8")
        relabelled = service.replace(agent_flows("PIN check"), agent_flows("PIN check v2"))
        files = snapshot(folder) | {"service.yaml": relabelled.encode()}
        outcome = await hosted.publisher.publish("alpha", files, author="li.na")
        assert outcome.ok, outcome.message
        assert dict(desk.flows["pin"].label) == {"en": "PIN check v2"}
        assert desk.orders is not None and tenant.current is not None and desk.orders is tenant.current.orders

        without_place = relabelled.replace(PLACE, "")
        assert "place:" not in without_place
        files = snapshot(folder) | {"service.yaml": without_place.encode()}
        refused = await hosted.publisher.publish("alpha", files, author="li.na")
        assert not refused.ok and "desktop.order_form names operation 'place'" in refused.message
        assert tenant.current is not None and tenant.current.id == "v2"
        assert dict(desk.flows["pin"].label) == {"en": "PIN check v2"}


async def test_an_order_form_the_service_cannot_serve_leaves_only_that_tenant_unavailable(
    tmp_path: Path,
) -> None:
    desk_tenant(tmp_path, "alpha", "100", form="{quote: quote, check: check, place: place_it}")
    desk_tenant(tmp_path, "beta", "200", form=FORM)
    hosting_file(
        tmp_path,
        'alpha: {folder: alpha, numbers: ["100"], agents: alpha-agents.yaml}\n'
        'beta: {folder: beta, numbers: ["200"], agents: beta-agents.yaml}\n',
    )
    async with running(tmp_path, agent_line=lambda layout: DeskConnector()) as hosted:
        alpha, beta = hosted.tenant("alpha"), hosted.tenant("beta")
        assert alpha.state == "unavailable" and "place_it" in alpha.reason
        assert beta.state == "serving" and beta.agents.cti is not None and beta.agents.cti.server.orders


async def test_each_tenants_desk_reads_the_histories_of_its_own_callers_only(tmp_path: Path) -> None:
    desk_tenant(tmp_path, "alpha", "100", form=FORM)
    desk_tenant(tmp_path, "beta", "200", form=FORM)
    hosting_file(
        tmp_path,
        'alpha: {folder: alpha, numbers: ["100"], agents: alpha-agents.yaml}\n'
        'beta: {folder: beta, numbers: ["200"], agents: beta-agents.yaml}\n',
    )
    async with running(tmp_path, agent_line=lambda layout: DeskConnector()) as hosted:
        alpha, beta = hosted.tenant("alpha"), hosted.tenant("beta")
        assert alpha.agents.cti is not None and beta.agents.cti is not None
        readers = [alpha.agents.cti.server.history, beta.agents.cti.server.history]
        assert all(reader is not None for reader in readers)
        with sqlite3.connect(tmp_path / "var" / "calls.sqlite3") as conn:  # a call of beta's caller 555
            conn.execute(
                "INSERT INTO calls (call_id, flow, caller, dialed, started_at, tenant)"
                " VALUES ('b1', 'main', '555', '200', '2026-12-01T01:00:00.000000+00:00', 'beta')"
            )
        found = [
            await trio.to_thread.run_sync(lambda r=reader: r.read(Who(caller="555")).page("calls").lines)  # type: ignore[union-attr]
            for reader in readers
        ]
        assert [len(lines) for lines in found] == [0, 1]
        assert (
            readers[1] is not None
            and readers[1].sources.outbox == tmp_path / "var" / "tenants" / "beta" / "outbox.sqlite3"
        )
