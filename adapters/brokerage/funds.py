"""Bank-brokerage transfers (银证转账) and card or passbook loss reports (挂失).

A loss report needs no PIN (a caller who lost their card may not know it, or may be locked
out): the holder's ID number and account are checked instead (`report_card_loss`).

Transfers are idempotent on their key, run only 9:00-16:00 on trading days, and are held
to a per-transfer cap and a per-day cap (both directions together).
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from decimal import Decimal
from typing import Any

from ivr.adapters.brokerage import auth, rules
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
    """Report the linked bank card (or the passbook) lost without a PIN: by the holder's ID
    number (an X keyed as *) and, when given, the fund account, which must be the holder's
    (else the primary account). Transfers stop until a branch reissues the card.

    The checks: the ID number must be well formed (its check character, GB 11643-1999); an
    ID number that fits no account (or not the one given) counts against the caller number,
    which is locked for ID checks for 24 hours at the third; an account without a linked
    card is refused; a card already reported answers with that report (`duplicate`).
    `{ok, report_no, account, duplicate, attempts_left, reason...}`."""
    if kind not in ("card", "passbook"):
        raise BrokerageError(f"kind must be card or passbook, not {kind!r}")
    holder = rules.id_number(id_number)
    if holder is None:
        return _loss_refused("bad_id_number")
    with connect() as conn, transaction(conn):
        if auth.identity_locked(conn, caller, now):
            return _loss_refused("identity_locked")
        row = _holders_account(conn, holder, str(account).strip())
        if row is None:
            left = auth.identity_mismatch(conn, caller, now)
            return _loss_refused("identity_locked" if left == 0 else "id_mismatch", left)
        auth.identity_matched(conn, caller)
        return _report(conn, row[0], kind, caller, now)


def _holders_account(conn: sqlite3.Connection, holder: str, account: str) -> sqlite3.Row | None:
    """The account (the given one, else the primary) of the customer with ID number `holder`."""
    query = (
        "SELECT a.account_no FROM accounts a JOIN customers c ON c.id = a.customer_id WHERE c.id_number = ?"
    )
    if account:
        row: sqlite3.Row | None = conn.execute(f"{query} AND a.account_no = ?", (holder, account)).fetchone()
        return row
    row = conn.execute(f"{query} ORDER BY a.is_primary DESC, a.account_no LIMIT 1", (holder,)).fetchone()
    return row


def _report(
    conn: sqlite3.Connection, account: str, kind: str, caller: str, now: datetime | None
) -> dict[str, Any]:
    link = conn.execute(
        "SELECT status FROM bank_links WHERE account_no = ? ORDER BY id LIMIT 1", (account,)
    ).fetchone()
    if link is None:
        return _loss_refused("no_bank_link")
    if link["status"] == "reported_lost":
        earlier = conn.execute(
            "SELECT report_no FROM card_loss_reports WHERE account_no = ? AND kind = ? "
            "ORDER BY created_at DESC, report_no DESC LIMIT 1",
            (account, kind),
        ).fetchone()
        if earlier is not None:
            return _loss_taken(earlier[0], account, duplicate=True)
    number = next_number(conn, "loss_report", 60000001)
    conn.execute(
        "INSERT INTO card_loss_reports VALUES (?, ?, ?, ?, ?)",
        (number, account, kind, str(caller) or None, timestamp(now)),
    )
    conn.execute("UPDATE bank_links SET status = 'reported_lost' WHERE account_no = ?", (account,))
    return _loss_taken(number, account, duplicate=False)


def _loss_taken(number: str, account: str, *, duplicate: bool) -> dict[str, Any]:
    return {"ok": True, "report_no": number, "account": account, "duplicate": duplicate,
            "attempts_left": auth.MAX_FAILURES, **rules.reason_texts("")}  # fmt: skip


def _loss_refused(reason: str, attempts_left: int = auth.MAX_FAILURES) -> dict[str, Any]:
    return {"ok": False, "report_no": "", "account": "", "duplicate": False,
            "attempts_left": attempts_left, **rules.reason_texts(reason)}  # fmt: skip
