"""Secrets audit, in process: a caller keys a wrong trading PIN, the right one and the fund
PIN through the brokerage flows on the real parts `ivr serve` composes (the folder as its one
tenant with the brokerage module and its demo back office, SQLite call records and outbox,
the ACD and the CTI desktop, the Starlette HTTP API), and nothing the
call leaves behind holds any of them: log lines at DEBUG, database rows and database files,
the trace, recent calls and metrics of the HTTP API, the agent's screen pop, the outbox, the
outcome, what the caller heard. The SIP side (wire, recording) is test_secrets_audit_sip.py.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest
import trio
import yaml
from audit_support import Evidence
from cti_support import MemoryTransport
from starlette.applications import Starlette

from ivr.adapters.brokerage.db import connect
from ivr.adapters.cti.session import Session
from ivr.adapters.cti.testing import DeskConnector
from ivr.adapters.hosting.http import HttpApi
from ivr.adapters.hosting.live import LiveCalls
from ivr.adapters.hosting.plan import plan_folder
from ivr.adapters.hosting.server import Hosted, ServerStatus, open_tenants
from ivr.adapters.hosting.testing import memory_call, shared_parts
from ivr.adapters.storage.records import open_sqlite_call_records
from ivr.runtime.engine import CallOutcome
from ivr.runtime.testing import MemoryCallLeg

ROOT = Path(__file__).parents[2]
CALLER, ACCOUNT = "13800138000", "31000001"  # the demo data's gold VIP
WRONG_PIN, TRADING_PIN, FUND_PIN = "468024", "135790", "246813"
ALWAYS_OPEN = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}

# (words of the prompt to wait for, keys to press): the English path through login (one
# wrong PIN first), a bank transfer behind the fund PIN, a statement by SMS, then an agent
SCRIPT = [
    ("For English, press 2", "2"),
    ("For quotes press 1", "5"),
    ("For bank transfers press 1", "1"),
    ("We found your account ending in", "1"),
    ("six-digit trading PIN", WRONG_PIN + "#"),
    ("six-digit trading PIN", TRADING_PIN + "#"),
    ("To move money from your bank press 1", "1"),
    ("six-digit fund PIN", FUND_PIN + "#"),
    ("Enter the amount", "100#"),
    ("You are about to move", "1"),
    ("To move money from your bank press 1", "9"),
    ("For quotes press 1", "2"),
    ("For your cash press 1", "4"),
    ("To send the statement by e-mail", "3"),
    ("For your cash press 1", "0"),
]


def served_flows(folder: Path) -> Path:
    """flows/ with its calendars open around the clock (the result must not depend on the hour)."""
    flows = folder / "flows"
    shutil.copytree(ROOT / "flows", flows, ignore=shutil.ignore_patterns("*.test.yaml"))
    service = yaml.safe_load((flows / "service.yaml").read_text(encoding="utf-8"))
    for calendar in service["calendars"].values():
        calendar["hours"], calendar["holidays"] = ALWAYS_OPEN, []
    (flows / "service.yaml").write_text(yaml.safe_dump(service, allow_unicode=True), encoding="utf-8")
    return flows


def _seed_back_office() -> None:
    with connect():
        pass


@dataclass
class Center:
    hosted: Hosted
    api: Starlette
    desk: MemoryTransport
    connector: DeskConnector
    data: Path


@asynccontextmanager
async def call_center(folder: Path, nursery: trio.Nursery) -> AsyncIterator[Center]:
    """The parts `ivr serve --flows` composes (the folder as its one tenant, its module, the
    ACD and desktop, records, outbox, the HTTP API), minus SIP and TTS, with agent 8001
    ready on the desktop."""
    flows = served_flows(folder)
    plan = plan_folder(flows)
    assert not [d for d in plan.diagnostics if d.is_error], plan.diagnostics
    data = folder / "data"
    data.mkdir()
    # the back office seeds its demo data (slow PIN hashes) on first use: before the call,
    # so its 2 s operation timeouts measure calls, not the seeding
    await trio.to_thread.run_sync(_seed_back_office)
    connector = DeskConnector(answer_after=0.2)
    async with AsyncExitStack() as stack:
        store = await stack.enter_async_context(open_sqlite_call_records(data / "calls.sqlite3"))
        live = LiveCalls()
        shared = shared_parts(store, data, live=live, agent_line=lambda layout: connector)
        shared = replace(shared, config=replace(shared.config, agents_file=ROOT / "config" / "agents.yaml"))
        hosted = await stack.enter_async_context(open_tenants(plan, shared, 10))
        await hosted.wait_started()
        [tenant] = hosted.tenants
        assert tenant.state == "serving", tenant.reason
        cti = tenant.agents.cti
        assert cti is not None
        desk = MemoryTransport()
        nursery.start_soon(Session(cti.server, desk).run)
        await desk.say({"id": "in", "command": "login", "token": await cti.server.tokens.issue("8001")})
        await desk.reply_to("in")
        await desk.say({"id": "r", "command": "state", "state": "ready"})
        await desk.reply_to("r")
        status = ServerStatus(hosted.admission, 1024, time.monotonic())
        api = HttpApi(status, live, shared.metrics, store, hosted.tenants).app()
        yield Center(hosted, api, desk, connector, data)


async def key_through(leg: MemoryCallLeg, script: list[tuple[str, str]]) -> None:
    """At each step, wait for the next prompt with those words, then press the keys."""
    seen = 0
    for words, keys in script:

        def shown(words: str = words, seen: int = seen) -> bool:
            return any(words in p.text for p in leg.prompts[seen:])

        with trio.move_on_after(30):
            await leg.wait_for(shown)
        if not shown():
            raise AssertionError(f"no prompt {words!r}; heard: {[p.text[:60] for p in leg.prompts[-6:]]}")
        seen = next(i for i in range(seen, len(leg.prompts)) if words in leg.prompts[i].text) + 1
        leg.press(keys)


async def desk_hangs_up_when_talking(desk: MemoryTransport, heard: list[dict[str, object]]) -> None:
    """The agent gets the screen pop, talks a moment and hangs up; done when the call ends."""
    hung_up = False
    while True:
        message = await desk.hear(timeout=60)
        heard.append(message)
        if message.get("event") == "connected" and not hung_up:
            await trio.sleep(0.3)
            await desk.say({"id": "bye", "command": "hangup", "call_id": message["call_id"]})
            hung_up = True
        elif message.get("event") == "ended":
            return


@pytest.mark.slow
async def test_no_pin_in_logs_records_trace_metrics_screen_pop_outbox_or_prompts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IVR_BROKERAGE_DB", str(tmp_path / "data" / "brokerage.sqlite3"))
    monkeypatch.setenv("IVR_BROKERAGE_ALWAYS_OPEN", "1")
    leg = MemoryCallLeg(call_id="audit-1", caller=CALLER, dialed="95500", seconds_per_char=0.002)
    heard: list[dict[str, object]] = []
    outcome: CallOutcome | None = None
    with caplog.at_level(logging.DEBUG):
        async with trio.open_nursery() as nursery, call_center(tmp_path, nursery) as center:

            async def call() -> None:
                nonlocal outcome
                _, _, outcome = await memory_call(center.hosted.admission, "95500", leg)

            async with trio.open_nursery() as calls:
                calls.start_soon(call)
                calls.start_soon(key_through, leg, SCRIPT)
                calls.start_soon(desk_hangs_up_when_talking, center.desk, heard)
            transport = httpx.ASGITransport(app=center.api)
            async with httpx.AsyncClient(transport=transport, base_url="http://ivr.test") as http:
                answers = {
                    path: await http.get(path)
                    for path in (
                        "/health",
                        "/metrics",
                        "/calls",
                        "/calls/recent?n=50",
                        f"/calls/{leg.call_id}/trace",
                        f"/calls/{leg.call_id}/recordings",
                        "/usage",
                        "/tenants",
                    )
                }
            nursery.cancel_scope.cancel()

    assert outcome is not None and outcome.how in ("completed", "flow_hangup"), outcome
    evidence = Evidence()
    evidence.add("logs (DEBUG)", caplog.text)
    evidence.add_files(center.data)
    for path, answer in answers.items():
        assert answer.status_code == 200, path
        evidence.add(f"HTTP {path}", answer.content)
    evidence.add("desktop messages", "\n".join(json.dumps(m, ensure_ascii=False) for m in heard))
    evidence.add("screen pops (connector)", repr(center.connector.offers))
    evidence.add("call outcome", repr(outcome))
    evidence.add("prompts heard", "\n".join(p.text for p in leg.prompts))

    # the call did what the audit needs: every PIN keyed, the transfer, the SMS, the screen pop
    trace = answers[f"/calls/{leg.call_id}/trace"].json()
    secret_inputs = [
        e["detail"] for e in trace["events"] if e["kind"] == "input" and e["detail"].get("value") == "***"
    ]
    assert [i["variable"] for i in secret_inputs] == ["pin", "pin", "fund_pin"], trace
    assert any("Done. The reference is" in p.text for p in leg.prompts)
    assert [e["detail"]["channel"] for e in trace["events"] if e["kind"] == "message"] == ["sms"]
    offered = [m for m in heard if m.get("event") == "offered"]
    assert offered and offered[0]["screen"]["account"] == ACCOUNT  # searchable, and searched
    assert evidence.hits(ACCOUNT), "the audit must see the account where it is shown"
    for name in ("calls.sqlite3", "outbox.sqlite3", "brokerage.sqlite3"):
        assert any(name in where for where in evidence.places), name

    for secret in (WRONG_PIN, TRADING_PIN, FUND_PIN):
        assert evidence.hits(secret) == [], secret
