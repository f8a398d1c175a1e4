"""Order notifications: a row per fill or cancel of a phone order, for the outbound campaign
that calls the customer (`order_notices` in flows/service.yaml, docs/outbound.md). The
tables of price alerts (`alerts.py`) are created here too, in the same migration.

Place: the matching simulator (`matching.py`) and the day roll (`trading.roll_to`) call
`notify_order` inside the transaction that fills or cancels the order, so the row commits
with the fill or not at all: a crash never loses a notification or writes it twice. The
campaign's contact query reads the rows (`SELECT ... FROM order_notifications`) every few
seconds and adds each to its standing run by its `key` (`n<id>`): a row read again is
ignored, so nobody is called twice for one fill.

Every order in the back office was placed by phone (`trading.place_order` is the phone
order desk). A customer without a registered mobile number gets no notification.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from ivr.adapters.brokerage.db import timestamp, yuan

SCHEMA = """
CREATE TABLE IF NOT EXISTS order_notifications (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('fill', 'cancel')),
    order_no TEXT NOT NULL,
    account_no TEXT NOT NULL,
    account_last4 TEXT NOT NULL,
    phone TEXT NOT NULL,
    name TEXT NOT NULL,
    side TEXT NOT NULL,
    code TEXT NOT NULL,
    stock TEXT NOT NULL,
    qty INTEGER NOT NULL,
    price TEXT NOT NULL,
    sms_text TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS price_alerts (
    alert_no TEXT PRIMARY KEY,
    account_no TEXT NOT NULL,
    code TEXT NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('above', 'below')),
    target_fen INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    fired_at TEXT,
    idempotency_key TEXT NOT NULL UNIQUE
);
CREATE INDEX IF NOT EXISTS price_alerts_armed ON price_alerts(code) WHERE fired_at IS NULL;
CREATE TABLE IF NOT EXISTS alert_notifications (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    alert_no TEXT NOT NULL UNIQUE,
    account_no TEXT NOT NULL,
    phone TEXT NOT NULL,
    name TEXT NOT NULL,
    code TEXT NOT NULL,
    stock TEXT NOT NULL,
    direction TEXT NOT NULL,
    target TEXT NOT NULL,
    last TEXT NOT NULL,
    sms_text TEXT NOT NULL,
    created_at TEXT NOT NULL
)
"""
KIND_WORDS = {"fill": "成交", "cancel": "已撤单"}
SIDE_WORDS = {"buy": "买入", "sell": "卖出"}


def migrate(conn: sqlite3.Connection) -> None:
    """Migration 3 of the back office: order notifications, price alerts and theirs."""
    for statement in SCHEMA.split(";\n"):
        conn.execute(statement)


def notify_order(
    conn: sqlite3.Connection, order: sqlite3.Row, kind: str, qty: int, price_fen: int, now: datetime | None
) -> int | None:
    """Record that `order` filled `qty` at `price_fen` (or was cancelled with `qty` left), in
    the caller's transaction; the row's id, or None when the customer has no mobile."""
    who = conn.execute(
        "SELECT c.mobile, c.name FROM accounts a JOIN customers c ON c.id = a.customer_id "
        "WHERE a.account_no = ?",
        (order["account_no"],),
    ).fetchone()
    if who is None or not who["mobile"]:
        return None
    stock = conn.execute("SELECT name FROM quotes WHERE code = ?", (order["code"],)).fetchone()
    stock_name = stock[0] if stock else order["code"]
    price = str(yuan(price_fen))
    account = str(order["account_no"])
    text = (
        f"【95500】尊敬的{who['name']}，您尾号{account[-4:]}账户的{SIDE_WORDS.get(order['side'], '')}委托"
        f"{order['order_no']}（{stock_name} {order['code']}）{KIND_WORDS[kind]}：{qty}股"
        + (f"，成交价{price}元。" if kind == "fill" else "。")
    )
    cursor = conn.execute(
        "INSERT INTO order_notifications(key, kind, order_no, account_no, account_last4, phone, name, side, "
        "code, stock, qty, price, sms_text, created_at) "
        "VALUES ('', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (kind, order["order_no"], account, account[-4:], who["mobile"], who["name"], order["side"],
         order["code"], stock_name, qty, price, text, timestamp(now)),
    )  # fmt: skip
    row_id = int(cursor.lastrowid or 0)
    conn.execute("UPDATE order_notifications SET key = ? WHERE id = ?", (f"n{row_id}", row_id))
    return row_id
