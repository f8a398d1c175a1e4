"""Account enquiries: cash, positions, recent transactions, statements and contact details."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from decimal import Decimal
from typing import Any

from ivr.adapters.brokerage.clock import current_trading_date
from ivr.adapters.brokerage.db import connect, get_account, next_number, timestamp, transaction, yuan
from ivr.adapters.brokerage.material import statement_document

KINDS = {
    "buy": ("买入", "bought"),
    "sell": ("卖出", "sold"),
    "bank_to_broker": ("银行转证券", "transfer in from bank"),
    "broker_to_bank": ("证券转银行", "transfer out to bank"),
}


def sellable_qty(row: sqlite3.Row, today: str) -> int:
    """Shares that may be sold today: shares bought today settle on the next trading day."""
    bought_today = row["bought_today"] if row["bought_on"] == today else 0
    return int(row["qty"] - bought_today - row["sell_frozen"])


def _position_items(conn: sqlite3.Connection, account: str, today: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT p.*, q.name, q.name_en, q.last_fen FROM positions p JOIN quotes q ON q.code = p.code "
        "WHERE p.account_no = ? AND p.qty > 0 ORDER BY p.code",
        (account,),
    ).fetchall()
    items = []
    for row in rows:
        value = yuan(row["last_fen"] * row["qty"])
        cost = yuan(row["cost_fen"])
        items.append({
            "code": row["code"], "name": row["name"], "name_en": row["name_en"], "qty": row["qty"],
            "sellable": sellable_qty(row, today), "last": yuan(row["last_fen"]), "market_value": value,
            "cost": cost, "profit": value - cost,
        })  # fmt: skip
    return items


def cash_balance(account: str, now: datetime | None = None) -> dict[str, Any]:
    """`available`, `frozen`, `market_value` of holdings and `total_assets`, in yuan."""
    with connect() as conn:
        get_account(conn, account)
        row = conn.execute("SELECT * FROM cash WHERE account_no = ?", (str(account),)).fetchone()
        items = _position_items(conn, str(account), current_trading_date(now).isoformat())
    available, frozen = yuan(row["available_fen"]), yuan(row["frozen_fen"])
    market_value = sum((item["market_value"] for item in items), Decimal("0.00"))
    return {
        "currency": "CNY",
        "available": available,
        "frozen": frozen,
        "market_value": market_value,
        "total_assets": available + frozen + market_value,
    }


def positions(account: str, now: datetime | None = None) -> dict[str, Any]:
    """`count` and `items` (code, name, qty, sellable, last, market_value, cost, profit)."""
    with connect() as conn:
        get_account(conn, account)
        items = _position_items(conn, str(account), current_trading_date(now).isoformat())
    return {"count": len(items), "items": items}


def recent_transactions(account: str, n: int | str = 5) -> dict[str, Any]:
    """The last `n` cash movements, newest first: `count` and `items` (date, kind_zh/en,
    code, name, qty, price, amount)."""
    limit = max(1, min(int(str(n)), 20))
    with connect() as conn:
        get_account(conn, account)
        rows = conn.execute(
            "SELECT t.*, q.name, q.name_en FROM transactions t LEFT JOIN quotes q ON q.code = t.code "
            "WHERE t.account_no = ? ORDER BY t.at DESC, t.id DESC LIMIT ?",
            (str(account), limit),
        ).fetchall()
    items = []
    for row in rows:
        zh, en = KINDS.get(row["kind"], (row["kind"], row["kind"]))
        items.append({
            "date": row["at"][:10], "kind": row["kind"], "kind_zh": zh, "kind_en": en,
            "code": row["code"] or "", "name": row["name"] or "", "name_en": row["name_en"] or "",
            "qty": row["qty"] or 0, "price": yuan(row["price_fen"] or 0), "amount": yuan(row["amount_fen"]),
        })  # fmt: skip
    return {"count": len(items), "items": items}


def prepare_statement(account: str, now: datetime | None = None) -> dict[str, Any]:
    """Build this month's statement (stored, numbered) and return it as `document` (cash,
    positions and the last 20 transactions, for a PDF) with the customer's `email`, `fax`
    and `mobile` for the send channels."""
    balance = cash_balance(account, now)
    held = positions(account, now)
    moves = recent_transactions(account, 20)
    period = current_trading_date(now).strftime("%Y-%m")
    lines = [f"Statement {period} account {account}", f"Available cash: {balance['available']} CNY",
             f"Frozen cash: {balance['frozen']} CNY", f"Market value: {balance['market_value']} CNY",
             "Positions:"]  # fmt: skip
    lines += [f"  {i['code']} {i['name']} {i['qty']} @ {i['last']}" for i in held["items"]]
    lines += ["Recent transactions:"]
    lines += [f"  {m['date']} {m['kind']} {m['code']} {m['qty']} {m['amount']}" for m in moves["items"]]
    body = "\n".join(lines)
    with connect() as conn:
        customer = conn.execute(
            "SELECT c.name, c.name_en, c.email, c.fax, c.mobile FROM accounts a "
            "JOIN customers c ON c.id = a.customer_id WHERE a.account_no = ?",
            (str(account),),
        ).fetchone()
        with transaction(conn):
            number = next_number(conn, "statement", 80000001)
            conn.execute(
                "INSERT INTO statements VALUES (?, ?, ?, ?, ?)",
                (number, str(account), period, body, timestamp(now)),
            )
    document = statement_document(str(account), period, number, customer, balance, held, moves, now)
    return {
        "statement_no": number,
        "period": period,
        "document": document,
        "email": customer["email"] or "",
        "fax": customer["fax"] or "",
        "mobile": customer["mobile"] or "",
        "has_email": bool(customer["email"]),
        "has_fax": bool(customer["fax"]),
    }
