"""Order notifications end to end in one process, on the brokerage's real back office and
the flows/ project: a phone order that the matching simulator fills becomes one contact of
the `order_notices` standing run (read again, still one), the customer keys the account's
last four digits and hears the fill; a customer nobody reaches after the retries gets one
SMS with the same news through the outbox. A price alert whose quote crosses (even back and
forth) makes exactly one contact of the `price_alerts` run and one call. A complaint ticket
closed "call the customer back" calls the complainant once with the outcome."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
import trio
from trio.testing import MockClock

from ivr.adapters.brokerage import operations as op
from ivr.adapters.brokerage.alerts import fire_alerts
from ivr.adapters.brokerage.db import ENV_VAR, connect, transaction
from ivr.adapters.brokerage.matching import match_once
from ivr.adapters.brokerage.testing import fresh_database, trading_time
from ivr.adapters.dialer.follow import feed_once, standing_run
from ivr.flowlang.ir import Project
from ivr.flowlang.project import load_project
from ivr.runtime.campaigns.runner import CampaignRunner, open_campaigns
from ivr.runtime.context import CallPorts
from ivr.runtime.engine import Engine
from ivr.runtime.ports import DialRequest
from ivr.runtime.testing import (
    FixtureOperations,
    MemoryCallRecords,
    MemoryChannels,
    ScriptedRouting,
    VirtualWallClock,
)
from ivr.runtime.testing.campaigns import Answer, MemoryCampaignStore, ScriptedDialer

FLOWS = Path(__file__).parents[2] / "flows"
NOW = trading_time(10, 0)
ACCOUNT = "31000002"


@pytest.fixture(scope="module")
def project() -> Project:
    loaded, diagnostics = load_project([FLOWS])
    assert [d for d in diagnostics if d.is_error] == []
    return loaded


@pytest.fixture
def back_office(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = fresh_database(tmp_path / "brokerage.sqlite3")
    monkeypatch.setenv(ENV_VAR, str(path))
    return path


def a_phone_order_fills(key: str) -> str:
    limit_up = op.get_quote(code="600000")["limit_up"]
    placed = op.place_order(
        account=ACCOUNT, market="SH", side="buy", code="600000", qty=300, price=str(limit_up),
        idempotency_key=key, now=NOW,
    )  # fmt: skip
    match_once(now=NOW)
    assert op.order_status(account=ACCOUNT, order_no=placed["order_no"])["status"] == "filled"
    return str(placed["order_no"])


@asynccontextmanager
async def notifier(
    project: Project, dialer: ScriptedDialer, sms: MemoryChannels
) -> AsyncIterator[CampaignRunner]:
    clock = VirtualWallClock(datetime(2026, 3, 2, 2, 0, tzinfo=UTC))
    ports = CallPorts(FixtureOperations({}), MemoryChannels(), ScriptedRouting(), MemoryCallRecords(), clock)
    store = MemoryCampaignStore()
    async with open_campaigns(project, store, dialer, Engine(project, ports), clock, messages=sms) as runner:
        yield runner


async def until_settled(runner: CampaignRunner, run_id: str) -> None:
    with trio.fail_after(24 * 3600):
        while runner.progress(run_id).state != "completed":
            await runner.wait_changed()


async def test_a_filled_phone_order_calls_the_customer_once_who_hears_the_fill_after_the_digits(
    project: Project, back_office: Path, autojump_clock: MockClock
) -> None:
    order_no = a_phone_order_fills("fill-1")
    dialer, sms = ScriptedDialer(lambda request: Answer("answered", keys="0002")), MemoryChannels()
    decl = project.service.campaigns["order_notices"]  # type: ignore[union-attr]
    async with notifier(project, dialer, sms) as runner:
        run_id = await standing_run(runner, decl)
        assert await feed_once(runner, decl, back_office.parent, run_id) == 1
        assert await feed_once(runner, decl, back_office.parent, run_id) == 0  # read again: no new contact
        await until_settled(runner, run_id)
        progress = runner.progress(run_id)
    [request] = dialer.placed
    with connect(back_office) as conn:
        mobile = conn.execute(
            "SELECT c.mobile FROM accounts a JOIN customers c ON c.id = a.customer_id WHERE a.account_no = ?",
            (ACCOUNT,),
        ).fetchone()[0]
    assert request.number == mobile and request.trunk == "carrier"
    heard = [p.text for p in dialer.legs[request.attempt_id].prompts]
    asked = next(i for i, text in enumerate(heard) if "后四位" in text)
    told = next(i for i, text in enumerate(heard) if "已成交" in text)
    assert asked < told and f"委托{order_no}，浦发银行，300股，已成交" in heard[told]
    assert progress.dispositions == {"told": 1} and sms.outbox == []


async def test_a_customer_nobody_reaches_gets_one_sms_after_the_last_retry(
    project: Project, back_office: Path, autojump_clock: MockClock
) -> None:
    order_no = a_phone_order_fills("fill-2")

    def never_answers(request: DialRequest) -> Answer:
        return Answer("no_answer", after=30)

    dialer, sms = ScriptedDialer(never_answers), MemoryChannels()
    decl = project.service.campaigns["order_notices"]  # type: ignore[union-attr]
    async with notifier(project, dialer, sms) as runner:
        run_id = await standing_run(runner, decl)
        await feed_once(runner, decl, back_office.parent, run_id)
        await until_settled(runner, run_id)
    assert len(dialer.placed) == 3  # the first try and `no_answer: {times: 2}` retries
    [message] = sms.outbox
    assert message.channel == "sms" and message.to == dialer.placed[0].number
    assert message.message is not None and order_no in message.message and "300股" in message.message
    assert message.origin is not None and message.origin.call_id == dialer.placed[-1].attempt_id


async def test_a_price_alert_crossing_makes_exactly_one_contact_and_one_call(
    project: Project, back_office: Path, autojump_clock: MockClock
) -> None:
    start = op.get_quote(code="600519")["last"]
    op.set_price_alert(
        account=ACCOUNT,
        code="600519",
        direction="above",
        price=str(start + 5),
        idempotency_key="alert-1",
        now=NOW,
    )
    with connect(back_office) as conn, transaction(conn):  # the market crosses the alert price, twice
        for price in (start + 6, start, start + 7):
            conn.execute("UPDATE quotes SET last_fen = ? WHERE code = '600519'", (int(price * 100),))
            fire_alerts(conn, NOW)
    dialer, sms = ScriptedDialer(), MemoryChannels()
    decl = project.service.campaigns["price_alerts"]  # type: ignore[union-attr]
    async with notifier(project, dialer, sms) as runner:
        run_id = await standing_run(runner, decl)
        added = [await feed_once(runner, decl, back_office.parent, run_id) for _ in range(3)]
        await until_settled(runner, run_id)
        progress = runner.progress(run_id)
    assert added == [1, 0, 0] and progress.contacts == 1
    [request] = dialer.placed
    heard = " ".join(p.text for p in dialer.legs[request.attempt_id].prompts)
    assert f"已涨到{start + 5}元" in heard and "贵州茅台" in heard
    assert progress.dispositions == {"told": 1} and sms.outbox == []


async def test_a_ticket_closed_with_a_call_back_calls_the_complainant_once_who_hears_the_outcome(
    project: Project, back_office: Path, autojump_clock: MockClock
) -> None:
    ticket = op.file_complaint(caller="13900139000", account=ACCOUNT, recording_id="rec-1", topic="fees")
    op.close_complaint(ticket["ticket_no"], "已退还多收的佣金", by="8002", call_back=True, now=NOW)
    dialer, sms = ScriptedDialer(), MemoryChannels()
    decl = project.service.campaigns["complaint_callbacks"]  # type: ignore[union-attr]
    async with notifier(project, dialer, sms) as runner:
        run_id = await standing_run(runner, decl)
        added = [await feed_once(runner, decl, back_office.parent, run_id) for _ in range(2)]
        await until_settled(runner, run_id)
        progress = runner.progress(run_id)
    assert added == [1, 0] and progress.dispositions == {"told": 1}
    [request] = dialer.placed
    assert request.number == "13900139000"
    heard = " ".join(p.text for p in dialer.legs[request.attempt_id].prompts)
    assert "您关于费用的投诉" in heard and "已处理完毕：已退还多收的佣金" in heard
