"""The fund company's back office for its hotline: a tenant module in one file.

A plain-folder tenant's module (its service file says `module: module.py`): the server loads
this file once, calls `create()` for the tenant, awaits `start` (which creates and seeds
`fund.sqlite3` in the tenant's own data directory) and calls the operations below as
`function(ctx, **params)` in the tenant's worker threads. Demo data only: five funds with
today's NAV, three subscription applications and the callback requests callers leave.

It imports only the standard library and the module API, as a one-file module must.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import trio

from ivr.runtime.modules import Module, ModuleContext

DATABASE = "fund.sqlite3"

SCHEMA = """
CREATE TABLE IF NOT EXISTS funds (
    code TEXT PRIMARY KEY, name TEXT NOT NULL, name_en TEXT NOT NULL,
    nav TEXT NOT NULL, nav_date TEXT NOT NULL, change_pct TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS subscriptions (
    application TEXT PRIMARY KEY, fund TEXT NOT NULL REFERENCES funds(code),
    amount TEXT NOT NULL, status TEXT NOT NULL CHECK (status IN ('received', 'confirmed', 'rejected')),
    confirm_date TEXT);
CREATE TABLE IF NOT EXISTS callbacks (
    ticket INTEGER PRIMARY KEY AUTOINCREMENT, caller TEXT NOT NULL, topic TEXT NOT NULL,
    created_at TEXT NOT NULL);
"""

FUNDS = [
    ("110011", "易方达优质精选混合", "E Fund Quality Select Hybrid", "4.3721", "2026-11-26", "1.23"),
    ("161725", "招商中证白酒指数", "China Merchants CSI Liquor Index", "1.0815", "2026-11-26", "-0.87"),
    ("000001", "华夏成长混合", "ChinaAMC Growth Hybrid", "1.2090", "2026-11-26", "0.15"),
    ("519674", "银河创新成长混合", "Galaxy Innovation Growth Hybrid", "6.5402", "2026-11-26", "2.41"),
    ("005827", "易方达蓝筹精选混合", "E Fund Blue Chip Select Hybrid", "2.0146", "2026-11-26", "0.00"),
]
SUBSCRIPTIONS = [
    ("20261101", "110011", "10000.00", "confirmed", "2026-11-03"),
    ("20261102", "161725", "5000.00", "received", None),
    ("20261103", "519674", "200.00", "rejected", None),
]
STATUS_WORDS = {
    "received": ("已受理，正在确认中", "received and awaiting confirmation"),
    "confirmed": ("已确认成功", "confirmed"),
    "rejected": ("未成功，款项将退回原账户", "not successful; the money goes back to your account"),
}
TOPICS = {"1": ("申购赎回", "subscriptions and redemptions"), "2": ("账户资料", "account details")}


def database(ctx: ModuleContext) -> Path:
    return ctx.data_dir / DATABASE


@contextmanager
def _connect(ctx: ModuleContext) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(database(ctx), timeout=5.0, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")  # a callback request is kept before "done"
        yield conn
    finally:
        conn.close()


def _seed(ctx: ModuleContext) -> None:
    with _connect(ctx) as conn:
        conn.executescript(SCHEMA)
        conn.executemany("INSERT OR IGNORE INTO funds VALUES (?, ?, ?, ?, ?, ?)", FUNDS)
        conn.executemany("INSERT OR IGNORE INTO subscriptions VALUES (?, ?, ?, ?, ?)", SUBSCRIPTIONS)


async def start(ctx: ModuleContext) -> None:
    """Create and seed the database before the first call."""
    await trio.to_thread.run_sync(_seed, ctx)
    ctx.log.info("fund back office at %s", database(ctx))


def fund_nav(ctx: ModuleContext, code: str) -> dict[str, object]:
    """Today's net asset value of a fund: `found`, names, `nav`, `nav_date`, `change_pct`."""
    with _connect(ctx) as conn:
        row = conn.execute("SELECT * FROM funds WHERE code = ?", (str(code),)).fetchone()
    if row is None:
        return {"found": False, "code": str(code), "name": "", "name_en": ""}
    _, name, name_en, nav, nav_date, change = row
    return {
        "found": True,
        "code": str(code),
        "name": name,
        "name_en": name_en,
        "nav": Decimal(nav),
        "nav_date": nav_date,
        "change_pct": Decimal(change),
    }


def subscription_status(ctx: ModuleContext, application: str) -> dict[str, object]:
    """Where a subscription application stands: `found`, the fund, the amount, the status
    in words (`status_zh`, `status_en`) and, once confirmed, `confirm_date`."""
    with _connect(ctx) as conn:
        row = conn.execute(
            "SELECT s.fund, f.name, f.name_en, s.amount, s.status, s.confirm_date FROM subscriptions s"
            " JOIN funds f ON f.code = s.fund WHERE s.application = ?",
            (str(application),),
        ).fetchone()
    if row is None:
        return {"found": False, "application": str(application)}
    fund, name, name_en, amount, status, confirmed = row
    zh, en = STATUS_WORDS[status]
    return {
        "found": True,
        "application": str(application),
        "fund": fund,
        "name": name,
        "name_en": name_en,
        "amount": Decimal(amount),
        "status": status,
        "status_zh": zh,
        "status_en": en,
        "confirm_date": confirmed or "",
    }


def request_callback(ctx: ModuleContext, caller: str, topic: str) -> dict[str, object]:
    """Keep a callback request (durable before it returns): the `ticket` number to read back."""
    zh, en = TOPICS.get(str(topic), TOPICS["1"])
    with _connect(ctx) as conn:
        cursor = conn.execute(
            "INSERT INTO callbacks (caller, topic, created_at) VALUES (?, ?, ?)",
            (str(caller), zh, datetime.now(UTC).isoformat(timespec="seconds")),
        )
        ticket = cursor.lastrowid
    return {"ticket": f"{ticket:06d}", "topic_zh": zh, "topic_en": en}


def create() -> Module:
    return Module(
        name="fund",
        operations={
            "fund_nav": fund_nav,
            "subscription_status": subscription_status,
            "request_callback": request_callback,
        },
        start=start,
    )
