"""Price alerts (到价提醒): "call me when 600519 reaches 1,800 (or falls to 1,600)".

`set_price_alert` stores an alert for an authenticated caller (idempotent on its key, like
orders); the market data's watcher `fire_alerts` runs inside each tick of the matching
simulator, after the quotes move, in the tick's transaction: an alert whose quote crossed
its target is spent (`fired_at`) and leaves one `alert_notifications` row, both or
neither, so an alert calls once. The `price_alerts` campaign of flows/service.yaml follows
those rows (docs/outbound.md).
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ivr.adapters.brokerage import rules
from ivr.adapters.brokerage.db import (
    BrokerageError,
    connect,
    fen,
    get_account,
    next_number,
    timestamp,
    transaction,
    yuan,
)

DIRECTIONS = {"above": "above", "below": "below", "1": "above", "2": "below"}
MAX_ARMED = 20  # alerts one account may have waiting
WORDS = {"above": "涨到", "below": "跌到"}


def set_price_alert(
    account: str, code: str, direction: str, price: Decimal | str, idempotency_key: str,
    now: datetime | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Arm an alert: `{ok, alert_no, code, name, direction, price, last, reason...}`. Refused
    (ok false): an unknown code, a price that is not a price, a target the quote is already
    past, or too many alerts waiting."""
    key = str(idempotency_key).strip()
    if not key:
        raise BrokerageError("set_price_alert needs an idempotency_key")
    side = DIRECTIONS.get(str(direction).strip().lower())
    if side is None:
        raise BrokerageError(f"direction {direction!r}: above or below")
    with connect() as conn, transaction(conn):
        get_account(conn, account)
        existing = conn.execute("SELECT * FROM price_alerts WHERE idempotency_key = ?", (key,)).fetchone()
        if existing is not None:
            return {**_answer(conn, existing), "duplicate": True}
        quote = conn.execute("SELECT * FROM quotes WHERE code = ?", (str(code),)).fetchone()
        target = _price(price)
        refusal = _refusal(conn, str(account), quote, side, target)
        if refusal is not None:
            return {"ok": False, "code": str(code), "direction": side, **rules.reason_texts(refusal)}
        assert target is not None and quote is not None
        alert_no = next_number(conn, "price_alert", 700001)
        conn.execute(
            "INSERT INTO price_alerts(alert_no, account_no, code, direction, target_fen, created_at, "
            "idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (alert_no, str(account), quote["code"], side, fen(target), timestamp(now), key),
        )
        row = conn.execute("SELECT * FROM price_alerts WHERE alert_no = ?", (alert_no,)).fetchone()
        return _answer(conn, row)


def _price(value: Decimal | str) -> Decimal | None:
    try:
        price = Decimal(str(value))
    except InvalidOperation:
        return None
    if not price.is_finite() or price <= 0 or price != price.quantize(Decimal("0.01")):
        return None
    return price


def _refusal(
    conn: sqlite3.Connection, account: str, quote: sqlite3.Row | None, side: str, target: Decimal | None
) -> str | None:
    if quote is None:
        return "unknown_code"
    if target is None:
        return "bad_price"
    last = yuan(quote["last_fen"])
    if (side == "above" and target <= last) or (side == "below" and target >= last):
        return "alert_already_crossed"
    armed = conn.execute(
        "SELECT COUNT(*) FROM price_alerts WHERE account_no = ? AND fired_at IS NULL", (account,)
    ).fetchone()[0]
    return "too_many_alerts" if armed >= MAX_ARMED else None


def _answer(conn: sqlite3.Connection, row: sqlite3.Row) -> dict[str, Any]:
    quote = conn.execute(
        "SELECT name, name_en, last_fen FROM quotes WHERE code = ?", (row["code"],)
    ).fetchone()
    return {
        "ok": True,
        "alert_no": row["alert_no"],
        "code": row["code"],
        "name": quote["name"],
        "name_en": quote["name_en"],
        "direction": row["direction"],
        "price": yuan(row["target_fen"]),
        "last": yuan(quote["last_fen"]),
        "fired": row["fired_at"] is not None,
        "duplicate": False,
        **rules.reason_texts(""),
    }


def fire_alerts(conn: sqlite3.Connection, now: datetime | None) -> int:
    """The watcher, in the caller's transaction (a tick's, after the quotes moved): each
    armed alert whose quote reached its target is spent and leaves one notification row.
    How many fired."""
    crossed = conn.execute(
        "SELECT a.*, q.last_fen, q.name AS stock, c.mobile, c.name AS customer FROM price_alerts a "
        "JOIN quotes q ON q.code = a.code JOIN accounts acc ON acc.account_no = a.account_no "
        "JOIN customers c ON c.id = acc.customer_id WHERE a.fired_at IS NULL AND "
        "((a.direction = 'above' AND q.last_fen >= a.target_fen) OR "
        "(a.direction = 'below' AND q.last_fen <= a.target_fen)) ORDER BY a.alert_no"
    ).fetchall()
    for alert in crossed:
        conn.execute(
            "UPDATE price_alerts SET fired_at = ? WHERE alert_no = ?", (timestamp(now), alert["alert_no"])
        )
        if alert["mobile"]:
            _notify(conn, alert, now)
    return len(crossed)


def _notify(conn: sqlite3.Connection, alert: sqlite3.Row, now: datetime | None) -> None:
    target, last = str(yuan(alert["target_fen"])), str(yuan(alert["last_fen"]))
    text = (
        f"【95500】尊敬的{alert['customer']}，您设置的到价提醒：{alert['stock']}（{alert['code']}）"
        f"已{WORDS[alert['direction']]}{target}元，最新价{last}元。"
    )
    cursor = conn.execute(
        "INSERT INTO alert_notifications(key, alert_no, account_no, phone, name, code, stock, direction, "
        "target, last, sms_text, created_at) VALUES ('', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (alert["alert_no"], alert["account_no"], alert["mobile"], alert["customer"], alert["code"],
         alert["stock"], alert["direction"], target, last, text, timestamp(now)),
    )  # fmt: skip
    row_id = int(cursor.lastrowid or 0)
    conn.execute("UPDATE alert_notifications SET key = ? WHERE id = ?", (f"a{row_id}", row_id))
