"""Bank-brokerage transfers (银证转账) and card or passbook loss reports (挂失).

Transfers are idempotent on their key, run only 9:00-16:00 on trading days, and are held
to a per-transfer cap and a per-day cap (both directions together).
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from decimal import Decimal
from typing import Any

from ivr.adapters.brokerage import rules
from ivr.adapters.brokerage.clock import current_trading_date, in_transfer_window
from ivr.adapters.brokerage.db import BrokerageError, connect, fen, next_number, timestamp, transaction, yuan

SINGLE_CAP = Decimal("500000.00")
DAILY_CAP = Decimal("1000000.00")
DIRECTIONS = {"bank_to_broker": "bank_to_broker", "broker_to_bank": "broker_to_bank", "1": "bank_to_broker",
              "2": "broker_to_bank"}  # fmt: skip


def _transfer_answer(row: sqlite3.Row, available: int) -> dict[str, Any]:
    return {
        "ok": row["status"] == "done",
        "transfer_no": row["transfer_no"],
        "direction": row["direction"],
        "amount": yuan(row["amount_fen"]),
        "available": yuan(available),
        **rules.reason_texts(row["reason"]),
    }


def _refusal(
    conn: sqlite3.Connection, account: str, direction: str, amount: Decimal | None, today: str,
    now: datetime | None,
) -> str | None:  # fmt: skip
    if not in_transfer_window(now):
        return "transfer_closed"
    if amount is None or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        return "bad_amount"
    if amount > SINGLE_CAP:
        return "over_single_cap"
    done_today = conn.execute(
        "SELECT COALESCE(SUM(amount_fen), 0) FROM transfers WHERE account_no = ? AND trade_date = ? "
        "AND status = 'done'",
        (account, today),
    ).fetchone()[0]
    if done_today + fen(amount) > fen(DAILY_CAP):
        return "over_daily_cap"
    bank = conn.execute(
        "SELECT * FROM bank_links WHERE account_no = ? ORDER BY id LIMIT 1", (account,)
    ).fetchone()
    if bank is None:
        return "no_bank_link"
    if bank["status"] != "active":
        return "card_reported_lost"
    if direction == "bank_to_broker" and bank["bank_balance_fen"] < fen(amount):
        return "insufficient_bank_balance"
    cash = conn.execute("SELECT available_fen FROM cash WHERE account_no = ?", (account,)).fetchone()
    if direction == "broker_to_bank" and cash[0] < fen(amount):
        return "insufficient_cash"
    return None


def transfer(
    account: str, direction: str, amount: Decimal | str, idempotency_key: str, now: datetime | None = None
) -> dict[str, Any]:
    """Move cash between the linked bank card and the brokerage account:
    `{ok, transfer_no, amount, available, reason, reason_zh, reason_en}`."""
    key = str(idempotency_key).strip()
    way = DIRECTIONS.get(str(direction).strip())
    if not key or way is None:
        raise BrokerageError("transfer needs direction bank_to_broker|broker_to_bank and an idempotency_key")
    account = str(account).strip()
    value = rules.parse_decimal(amount)
    with connect() as conn, transaction(conn):
        if conn.execute("SELECT 1 FROM accounts WHERE account_no = ?", (account,)).fetchone() is None:
            raise BrokerageError(f"unknown account {account!r}")
        existing = conn.execute("SELECT * FROM transfers WHERE idempotency_key = ?", (key,)).fetchone()
        if existing is None:
            today = current_trading_date(now).isoformat()
            reason = _refusal(conn, account, way, value, today, now)
            number = next_number(conn, "transfer", 70000001)
            moved = fen(value) if reason is None and value is not None else 0
            conn.execute(
                "INSERT INTO transfers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (number, account, way, moved, "rejected" if reason else "done", reason or "", today,
                 timestamp(now), key),
            )  # fmt: skip
            if reason is None:
                sign = 1 if way == "bank_to_broker" else -1
                conn.execute("UPDATE cash SET available_fen = available_fen + ? WHERE account_no = ?",
                             (sign * moved, account))  # fmt: skip
                conn.execute(
                    "UPDATE bank_links SET bank_balance_fen = bank_balance_fen - ? WHERE id = "
                    "(SELECT id FROM bank_links WHERE account_no = ? ORDER BY id LIMIT 1)",
                    (sign * moved, account),
                )
                conn.execute(
                    "INSERT INTO transactions(account_no, at, kind, amount_fen, ref) VALUES (?, ?, ?, ?, ?)",
                    (account, timestamp(now), way, sign * moved, number),
                )
            existing = conn.execute("SELECT * FROM transfers WHERE transfer_no = ?", (number,)).fetchone()
        available = conn.execute(
            "SELECT available_fen FROM cash WHERE account_no = ?", (account,)
        ).fetchone()[0]
        return _transfer_answer(existing, available)


def report_card_loss(
    account: str = "", id_number: str = "", kind: str = "card", caller: str = "", now: datetime | None = None
) -> dict[str, Any]:
    """Report the linked bank card (or the passbook) lost, by account number or ID number
    (a trailing X may be keyed as *). Transfers stop until a branch reissues it.
    `{ok, report_no, reason...}`."""
    if kind not in ("card", "passbook"):
        raise BrokerageError(f"kind must be card or passbook, not {kind!r}")
    with connect() as conn, transaction(conn):
        if account:
            row = conn.execute(
                "SELECT account_no FROM accounts WHERE account_no = ?", (str(account),)
            ).fetchone()
        else:
            row = conn.execute(
                "SELECT a.account_no FROM accounts a JOIN customers c ON c.id = a.customer_id "
                "WHERE c.id_number = ? ORDER BY a.is_primary DESC LIMIT 1",
                (str(id_number).replace("*", "X").upper(),),
            ).fetchone()
        if row is None:
            return {"ok": False, "report_no": "", **rules.reason_texts("unknown_account")}
        number = next_number(conn, "loss_report", 60000001)
        conn.execute(
            "INSERT INTO card_loss_reports VALUES (?, ?, ?, ?, ?)",
            (number, row[0], kind, str(caller) or None, timestamp(now)),
        )
        conn.execute("UPDATE bank_links SET status = 'reported_lost' WHERE account_no = ?", (row[0],))
        return {"ok": True, "report_no": number, "account": row[0], **rules.reason_texts("")}
