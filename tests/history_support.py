"""A seeded customer history, in the real stores: call records of two tenants, the demo back
office with orders, a transfer and tickets, an outbox with messages and a campaign store
with outbound attempts. Zhang Wei (account 31000001, calls from 13800138000) has four calls
at tenant `bank`; a fifth call from his number belongs to tenant `other`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import trio

from ivr.adapters.brokerage import db
from ivr.adapters.brokerage.desk import file_complaint
from ivr.adapters.brokerage.funds import transfer
from ivr.adapters.brokerage.trading import place_order
from ivr.adapters.history import HistorySources, ensure_indexes
from ivr.adapters.hosting.live import StampedRecords
from ivr.adapters.messaging.store import NewMessage, OutboxStore, open_outbox
from ivr.adapters.storage import open_sqlite_call_records
from ivr.adapters.storage.campaigns import open_sqlite_campaign_store
from ivr.runtime.campaigns.model import Attempt, AttemptOutcome, CampaignRun, Contact
from ivr.runtime.ports import CallEvent, CampaignStore, MessageOrigin

TENANT = "bank"
ZHANG = "13800138000"
ACCOUNT = "31000001"
T0 = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai, a Tuesday
# call id, tenant, caller, minutes after T0, how, nodes entered
CALLS = [
    ("c1", TENANT, ZHANG, 0, "completed", ["main.pick", "main.balance", "main.bye"]),
    ("c2", TENANT, ZHANG, 10, "hangup", ["main.pick", "main.agent"]),
    ("c3", TENANT, ZHANG, 20, "completed", ["main.pick", "orders.ask", "orders.place", "main.bye"]),
    ("c4", TENANT, ZHANG, 30, "completed", ["main.pick", "main.agent"]),
    ("x1", "other", ZHANG, 40, "completed", ["main.secret_of_other_tenant"]),
    ("l1", TENANT, "13900139000", 50, "completed", ["main.pick"]),
    ("s1", TENANT, "13333333333", 55, "hangup", ["main.pick"]),
]


def seed(root: Path) -> HistorySources:
    sources = HistorySources(
        TENANT,
        root / "calls.sqlite3",
        brokerage=root / "brokerage.sqlite3",
        outbox=root / "outbox.sqlite3",
        campaigns=root / "campaigns.sqlite3",
    )
    trio.run(_seed_stores, sources)
    seed_back_office(sources.brokerage or root)
    ensure_indexes(sources)
    return sources


async def _seed_stores(sources: HistorySources) -> None:
    assert sources.records is not None and sources.outbox is not None and sources.campaigns is not None
    async with (
        open_sqlite_call_records(sources.records) as records,
        open_sqlite_campaign_store(sources.campaigns) as campaigns,
    ):
        outbox = await open_outbox(sources.outbox)
        try:
            await fill_stores([records], outbox, campaigns)
        finally:
            await outbox.aclose()


async def fill_stores(
    records: Sequence[StampedRecords], outbox: OutboxStore, campaigns: CampaignStore
) -> None:
    """The calls (taken in turn by each of `records`: instances on one database), messages
    and outbound attempts of the story, into these stores."""
    for n, (call_id, tenant, caller, minutes, how, nodes) in enumerate(CALLS):
        store = records[n % len(records)]
        at = T0 + timedelta(minutes=minutes)
        await store.call_started(call_id, flow="main", caller=caller, dialed="95555", at=at, tenant=tenant)
        for k, node in enumerate(nodes):
            await store.call_event(CallEvent(call_id, "node_entered", at + timedelta(seconds=k), node, {}))
        await store.call_ended(call_id, how=how, at=at + timedelta(minutes=2))
    for n, (channel, to, kind, call) in enumerate(
        [
            ("sms", ZHANG, "order_confirmation", "c3"),
            ("email", "zhang.wei@example.com", "statement", None),
            ("sms", "13900139000", "order_confirmation", "l1"),
        ]
    ):
        origin = MessageOrigin(call, "orders", "confirm") if call else None
        message = NewMessage(f"m{n + 1}", channel, kind, to, "text", None, 6, origin)
        await outbox.add(message, T0 + timedelta(minutes=21 + n))
    run = CampaignRun("r1", "margin_call", "running", T0)
    await campaigns.create_run(run, [Contact("k1", ZHANG), Contact("k2", "13900139000")])
    attempts: list[tuple[str, str, int, AttemptOutcome, str | None]] = [
        ("k1", ZHANG, 60, "no_answer", None),
        ("k1", ZHANG, 70, "answered", "confirmed"),
        ("k2", "13900139000", 61, "busy", None),
    ]
    for n, (contact, number, minutes, outcome, disposition) in enumerate(attempts):
        at, attempt_id = T0 + timedelta(minutes=minutes), f"r1-{contact}-{n}"
        await campaigns.begin_attempt(Attempt(attempt_id, "r1", contact, n + 1, number, at))
        await campaigns.finish_attempt(
            attempt_id, outcome, at + timedelta(seconds=30), disposition=disposition
        )


def seed_back_office(path: Path) -> None:
    def at(minutes: int) -> datetime:
        return T0 + timedelta(minutes=minutes)

    with db.using_database(path):
        place_order(ACCOUNT, "SH", "buy", "600519", 100, "1400.00", "c3-order-1", now=at(21))
        place_order(ACCOUNT, "SH", "sell", "600519", 100, "1500.00", "c4-desk-abcdefgh", now=at(31))
        place_order("31000002", "SH", "buy", "601318", 100, "52.00", "l1-order-1", now=at(51))
        transfer(ACCOUNT, "bank_to_broker", "1000.00", "c3-transfer-1", now=at(22))
        file_complaint(ZHANG, ACCOUNT, "rec-1", "service", now=at(12))
        closed = file_complaint(ZHANG, ACCOUNT, "rec-0", "fees", now=at(2))
        with db.connect(path) as conn:
            close = "UPDATE complaint_tickets SET status = 'closed' WHERE ticket_no = ?"
            conn.execute(close, (closed["ticket_no"],))
