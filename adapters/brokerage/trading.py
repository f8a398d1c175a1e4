"""Phone orders (电话委托): place, query and cancel limit orders under the A-share rules.

`place_order` is idempotent on its key and commits the order row before it answers, so a
confirmation read to the caller is never lost and a retried call never buys twice.
Buys freeze cash (amount plus fees); sells freeze shares; cancelling releases what is left.
"""

from __future__ import annotations

import sqlite3
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ivr.adapters.brokerage import rules
from ivr.adapters.brokerage.account_info import sellable_qty
from ivr.adapters.brokerage.clock import current_trading_date, in_trading_session
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
from ivr.adapters.brokerage.notifications import notify_order

OPEN_STATUSES = ("new", "partially_filled")
STATUS_WORDS = {
    "new": ("已报，尚未成交", "accepted, not yet filled"),
    "partially_filled": ("部分成交", "partially filled"),
    "filled": ("全部成交", "filled"),
    "cancelled": ("已撤单", "cancelled"),
    "rejected": ("已拒绝", "rejected"),
}
SIDES = {"buy": "buy", "sell": "sell", "b": "buy", "s": "sell", "1": "buy", "2": "sell"}
MARKETS = {"sh": "SH", "sz": "SZ", "1": "SH", "2": "SZ"}


def order_answer(row: sqlite3.Row, name: str = "", name_en: str = "") -> dict[str, Any]:
    zh, en = STATUS_WORDS[row["status"]]
    return {
        "found": True,
        "ok": row["status"] != "rejected",
        "order_no": row["order_no"],
        "account": row["account_no"],
        "market": row["market"],
        "side": row["side"],
        "code": row["code"],
        "name": name,
        "name_en": name_en,
        "qty": row["qty"],
        "price": yuan(row["price_fen"]),
        "status": row["status"],
        "status_zh": zh,
        "status_en": en,
        "filled_qty": row["filled_qty"],
        "created_at": row["created_at"],
        **rules.reason_texts(row["reason"]),
    }


def _names(conn: sqlite3.Connection, code: str) -> tuple[str, str]:
    row = conn.execute("SELECT name, name_en FROM quotes WHERE code = ?", (code,)).fetchone()
    return (row[0], row[1]) if row else ("", "")


def _refusal(conn: sqlite3.Connection, order: dict[str, Any], now: datetime | None) -> str | None:
    """The first rule the order breaks, as a reason code; None when it may go."""
    account = conn.execute(
        "SELECT trading_locked FROM accounts WHERE account_no = ?", (order["account"],)
    ).fetchone()
    if account is None:
        return "unknown_account"
    if account[0]:
        return "account_locked"
    if order["side"] is None:
        return "bad_side"
    quote = conn.execute("SELECT * FROM quotes WHERE code = ?", (order["code"],)).fetchone()
    if quote is None:
        return "unknown_code"
    if order["market"] != quote["market"]:
        return "market_mismatch"
    if quote["suspended"]:
        return "suspended"
    if not in_trading_session(now):
        return "market_closed"
    price, qty = order["price"], order["qty"]
    if price is None:
        return "bad_price"
    limits = rules.price_limits(yuan(quote["prev_close_fen"]), quote["code"], bool(quote["st"]))
    if reason := rules.check_price(price, limits):
        return reason
    if qty is None:
        return "bad_quantity"
    if order["side"] == "buy":
        if reason := rules.check_buy_quantity(quote["code"], qty):
            return reason
        cash = conn.execute(
            "SELECT available_fen FROM cash WHERE account_no = ?", (order["account"],)
        ).fetchone()
        return "insufficient_cash" if fen(rules.buy_cost(qty, price)) > cash[0] else None
    position = conn.execute(
        "SELECT * FROM positions WHERE account_no = ? AND code = ?", (order["account"], quote["code"])
    ).fetchone()
    today = current_trading_date(now).isoformat()
    sellable = sellable_qty(position, today) if position else 0
    reason = rules.check_sell_quantity(quote["code"], qty, sellable)
    if reason == "insufficient_shares" and position and qty <= position["qty"] - position["sell_frozen"]:
        return "t_plus_one"
    return reason


def _parsed(
    account: object, market: object, side: object, code: object, qty: object, price: object
) -> dict[str, Any]:
    return {
        "account": str(account).strip(),
        "market": MARKETS.get(str(market).strip().lower(), str(market).strip().upper()),
        "side": SIDES.get(str(side).strip().lower()),
        "code": str(code).strip(),
        "qty": rules.parse_quantity(qty),
        "price": rules.parse_decimal(price),
    }


def check_order(
    account: str,
    market: str,
    side: str,
    code: str,
    qty: int | str,
    price: Decimal | str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Whether `place_order` would take this order now, without placing it (an agent checks
    an order before reading it back): `{ok, reason, reason_zh, reason_en, name, name_en,
    amount, cost}`; the same rules in the same order, so the same refusal and words."""
    order = _parsed(account, market, side, code, qty, price)
    with connect() as conn, transaction(conn):
        roll_to(conn, current_trading_date(now), now)
        reason = _refusal(conn, order, now)
        name, name_en = _names(conn, order["code"])
    amount = (order["price"] or Decimal(0)) * (order["qty"] or 0)
    cost = rules.buy_cost(order["qty"] or 0, order["price"] or Decimal(0)) if order["side"] == "buy" else None
    return {
        "ok": reason is None,
        **rules.reason_texts(reason or ""),
        "name": name,
        "name_en": name_en,
        "amount": amount.quantize(Decimal("0.01")),
        "cost": None if cost is None else cost.quantize(Decimal("0.01")),
    }


def place_order(
    account: str,
    market: str,
    side: str,
    code: str,
    qty: int | str,
    price: Decimal | str,
    idempotency_key: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Place a limit order. `{ok, order_no, status, reason, reason_zh, reason_en, ...}`:
    a refused order is stored as `rejected` with its reason, so the same key always gets
    the same answer."""
    key = str(idempotency_key).strip()
    if not key:
        raise BrokerageError("place_order needs an idempotency_key")
    order = _parsed(account, market, side, code, qty, price)
    with connect() as conn, transaction(conn):
        existing = conn.execute("SELECT * FROM orders WHERE idempotency_key = ?", (key,)).fetchone()
        if existing is not None:
            if (existing["account_no"], existing["code"], existing["side"]) != (
                order["account"],
                order["code"],
                order["side"],
            ):
                raise BrokerageError(f"idempotency key {key!r} was used for a different order")
            return {**order_answer(existing, *_names(conn, str(existing["code"]))), "duplicate": True}
        today = current_trading_date(now)
        roll_to(conn, today, now)
        reason = _refusal(conn, order, now)
        row = _insert_order(conn, order, key, reason, today, now)
        return {**order_answer(row, *_names(conn, str(order["code"]))), "duplicate": False}


def _insert_order(
    conn: sqlite3.Connection, order: dict[str, Any], key: str, reason: str | None, today: date,
    now: datetime | None,
) -> sqlite3.Row:  # fmt: skip
    number = next_number(conn, "order", 5000001)
    price, qty = order["price"] or Decimal(0), order["qty"] or 0
    frozen = fen(rules.buy_cost(qty, price)) if reason is None and order["side"] == "buy" else 0
    conn.execute(
        "INSERT INTO orders(order_no, account_no, market, side, code, qty, price_fen, status, frozen_fen,"
        " reason, trade_date, created_at, updated_at, idempotency_key)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (number, order["account"], order["market"], order["side"] or "buy", order["code"], qty,
         fen(price), "rejected" if reason else "new", frozen, reason or "", today.isoformat(),
         timestamp(now), timestamp(now), key),
    )  # fmt: skip
    if reason is None and order["side"] == "buy":
        conn.execute(
            "UPDATE cash SET available_fen = available_fen - ?, frozen_fen = frozen_fen + ? "
            "WHERE account_no = ?",
            (frozen, frozen, order["account"]),
        )
    elif reason is None:
        conn.execute(
            "UPDATE positions SET sell_frozen = sell_frozen + ? WHERE account_no = ? AND code = ?",
            (qty, order["account"], order["code"]),
        )
    row: sqlite3.Row = conn.execute("SELECT * FROM orders WHERE order_no = ?", (number,)).fetchone()
    return row


def order_status(account: str, order_no: str) -> dict[str, Any]:
    """`{found, status, status_zh, status_en, filled_qty, ...}` of one of the account's orders."""
    with connect() as conn:
        row = conn.execute(
            "SELECT * FROM orders WHERE order_no = ? AND account_no = ?", (str(order_no), str(account))
        ).fetchone()
        if row is None:
            return {
                "found": False,
                "order_no": str(order_no),
                "status": "",
                **rules.reason_texts("not_found"),
            }
        return order_answer(row, *_names(conn, row["code"]))


def release(conn: sqlite3.Connection, row: sqlite3.Row, status: str, now: datetime | None) -> None:
    """End an open order with `status`, giving back frozen cash or shares."""
    if row["side"] == "buy":
        conn.execute(
            "UPDATE cash SET available_fen = available_fen + ?, frozen_fen = frozen_fen - ? "
            "WHERE account_no = ?",
            (row["frozen_fen"], row["frozen_fen"], row["account_no"]),
        )
    else:
        conn.execute(
            "UPDATE positions SET sell_frozen = sell_frozen - ? WHERE account_no = ? AND code = ?",
            (row["qty"] - row["filled_qty"], row["account_no"], row["code"]),
        )
    conn.execute(
        "UPDATE orders SET status = ?, frozen_fen = 0, updated_at = ? WHERE order_no = ?",
        (status, timestamp(now), row["order_no"]),
    )


def cancel_order(account: str, order_no: str, now: datetime | None = None) -> dict[str, Any]:
    """Cancel what is left of an open order: `{ok, status, filled_qty, reason...}`."""
    with connect() as conn, transaction(conn):
        get_account(conn, account)
        row = conn.execute(
            "SELECT * FROM orders WHERE order_no = ? AND account_no = ?", (str(order_no), str(account))
        ).fetchone()
        if row is None:
            return {"ok": False, "found": False, "order_no": str(order_no), **rules.reason_texts("not_found")}
        if row["status"] not in OPEN_STATUSES:
            reason = {"filled": "already_filled", "cancelled": "already_cancelled"}.get(
                row["status"], "already_rejected"
            )
            return {
                **order_answer(row, *_names(conn, row["code"])),
                "ok": False,
                **rules.reason_texts(reason),
            }
        release(conn, row, "cancelled", now)
        row = conn.execute("SELECT * FROM orders WHERE order_no = ?", (row["order_no"],)).fetchone()
        return {**order_answer(row, *_names(conn, row["code"])), "ok": True}


def roll_to(conn: sqlite3.Connection, today: date, now: datetime | None) -> None:
    """Start a new trading day when the stored one is older: yesterday's last price becomes
    the previous close (archived to history) and unfilled day orders expire."""
    stale = conn.execute("SELECT * FROM quotes WHERE trade_date < ?", (today.isoformat(),)).fetchall()
    for quote in stale:
        conn.execute(
            "INSERT OR IGNORE INTO quote_history VALUES (?, ?, ?, ?, ?, ?, ?)",
            (quote["code"], quote["trade_date"], quote["open_fen"], quote["high_fen"], quote["low_fen"],
             quote["last_fen"], quote["volume"]),
        )  # fmt: skip
        conn.execute(
            "UPDATE quotes SET trade_date = ?, prev_close_fen = last_fen, open_fen = last_fen, "
            "high_fen = last_fen, low_fen = last_fen, volume = 0 WHERE code = ?",
            (today.isoformat(), quote["code"]),
        )
    expired = conn.execute(
        "SELECT * FROM orders WHERE status IN ('new', 'partially_filled') AND trade_date < ?",
        (today.isoformat(),),
    ).fetchall()
    for row in expired:
        release(conn, row, "cancelled", now)
        notify_order(conn, row, "cancel", row["qty"] - row["filled_qty"], row["price_fen"], now)
