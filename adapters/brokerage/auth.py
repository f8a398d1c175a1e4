"""Who is calling, and is the PIN right: caller-id recognition and PIN checks with locks.

Three consecutive wrong PINs lock the account's PIN of that kind (until a branch unlocks it)
and three wrong PINs from one caller number lock that number for a day. Counters and locks
live in the database, so a restart forgets nothing. PINs are compared as salted slow hashes
in constant time and are never logged, stored or returned.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from typing import Any

from ivr.adapters.brokerage.clock import shanghai_now
from ivr.adapters.brokerage.db import connect, timestamp, transaction
from ivr.adapters.brokerage.pins import verify_pin

MAX_FAILURES = 3
CALLER_LOCK = timedelta(hours=24)


def identify_caller(caller: str) -> dict[str, Any]:
    """Recognise a customer by caller number: `found`, `vip`, `vip_tier`, `account` (the
    primary account), `account_count`, `customer_name`, `caller_locked`."""
    with connect() as conn:
        rows = conn.execute(
            "SELECT c.name, c.name_en, c.vip_tier, a.account_no, a.is_primary FROM caller_numbers n "
            "JOIN customers c ON c.id = n.customer_id JOIN accounts a ON a.customer_id = c.id "
            "WHERE n.number = ? ORDER BY a.is_primary DESC, a.account_no",
            (str(caller),),
        ).fetchall()
        locked = _caller_locked(conn, str(caller), None)
    if not rows:
        return {"found": False, "vip": False, "vip_tier": "", "account": "", "account_count": 0,
                "customer_name": "", "customer_name_en": "", "caller_locked": locked}  # fmt: skip
    first = rows[0]
    return {
        "found": True,
        "vip": first["vip_tier"] != "standard",
        "vip_tier": first["vip_tier"],
        "account": first["account_no"],
        "account_count": len(rows),
        "customer_name": first["name"],
        "customer_name_en": first["name_en"],
        "caller_locked": locked,
    }


def verify_trading_pin(
    account: str, pin: str, caller: str = "", now: datetime | None = None
) -> dict[str, Any]:
    """`{ok, locked, attempts_left}` for the trading PIN (交易密码)."""
    return _verify(str(account), str(pin), str(caller or ""), "trading", now)


def verify_fund_pin(account: str, pin: str, caller: str = "", now: datetime | None = None) -> dict[str, Any]:
    """`{ok, locked, attempts_left}` for the fund PIN (资金密码) that guards transfers."""
    return _verify(str(account), str(pin), str(caller or ""), "fund", now)


def _caller_locked(conn: sqlite3.Connection, caller: str, now: datetime | None) -> bool:
    if not caller:
        return False
    row = conn.execute(
        "SELECT locked_until FROM auth_failures WHERE scope = 'caller' AND subject = ? AND pin_kind = 'any'",
        (caller,),
    ).fetchone()
    return bool(row and row[0] and datetime.fromisoformat(row[0]) > shanghai_now(now))


def _verify(account: str, pin: str, caller: str, kind: str, now: datetime | None) -> dict[str, Any]:
    with connect() as conn:
        row = conn.execute(
            f"SELECT {kind}_pin_hash AS hash, {kind}_locked AS locked FROM accounts WHERE account_no = ?",
            (account,),
        ).fetchone()
        # Hash before looking at locks, so every answer costs the same time.
        matches = verify_pin(pin, row["hash"] if row else None)
        with transaction(conn):
            if (row and row["locked"]) or _caller_locked(conn, caller, now):
                return {"ok": False, "locked": True, "attempts_left": 0}
            if matches:
                conn.execute(
                    "DELETE FROM auth_failures WHERE (scope = 'account' AND subject = ? AND pin_kind = ?)"
                    " OR (scope = 'caller' AND subject = ?)",
                    (account, kind, caller),
                )
                return {"ok": True, "locked": False, "attempts_left": MAX_FAILURES}
            return _record_failure(conn, account if row else "", caller, kind, now)


def _bump(conn: sqlite3.Connection, scope: str, subject: str, kind: str, now: datetime | None) -> int:
    conn.execute(
        "INSERT INTO auth_failures(scope, subject, pin_kind, failures, last_failure_at) "
        "VALUES (?, ?, ?, 1, ?) "
        "ON CONFLICT(scope, subject, pin_kind) DO UPDATE SET failures = failures + 1, "
        "last_failure_at = excluded.last_failure_at",
        (scope, subject, kind, timestamp(now)),
    )
    failures: int = conn.execute(
        "SELECT failures FROM auth_failures WHERE scope = ? AND subject = ? AND pin_kind = ?",
        (scope, subject, kind),
    ).fetchone()[0]
    return failures


def _record_failure(
    conn: sqlite3.Connection, account: str, caller: str, kind: str, now: datetime | None
) -> dict[str, Any]:
    left = MAX_FAILURES
    if account:
        failures = _bump(conn, "account", account, kind, now)
        left = min(left, MAX_FAILURES - failures)
        if failures >= MAX_FAILURES:
            conn.execute(
                f"UPDATE accounts SET {kind}_locked = 1, locked_at = ? WHERE account_no = ?",
                (timestamp(now), account),
            )
    if caller:
        failures = _bump(conn, "caller", caller, "any", now)
        left = min(left, MAX_FAILURES - failures)
        if failures >= MAX_FAILURES:
            until = (shanghai_now(now) + CALLER_LOCK).isoformat(timespec="seconds")
            conn.execute(
                "UPDATE auth_failures SET locked_until = ? WHERE scope = 'caller' AND subject = ? "
                "AND pin_kind = 'any'",
                (until, caller),
            )
    left = max(left, 0)
    return {"ok": False, "locked": left == 0, "attempts_left": left}


IDENTITY = "identity"  # the auth_failures kind for ID-number checks (loss reports without a PIN)
ANONYMOUS = "anonymous"  # callers without a number share one counter: no way round the lock


def identity_locked(conn: sqlite3.Connection, caller: str, now: datetime | None) -> bool:
    """Whether the caller number may not try ID-number checks now (three mismatches)."""
    row = conn.execute(
        "SELECT locked_until FROM auth_failures WHERE scope = 'caller' AND subject = ? AND pin_kind = ?",
        (caller or ANONYMOUS, IDENTITY),
    ).fetchone()
    return bool(row and row[0] and datetime.fromisoformat(row[0]) > shanghai_now(now))


def identity_mismatch(conn: sqlite3.Connection, caller: str, now: datetime | None) -> int:
    """Count an ID number that did not match its account; lock the caller number for a day
    at the third. Returns the tries left."""
    subject = caller or ANONYMOUS
    failures = _bump(conn, "caller", subject, IDENTITY, now)
    if failures >= MAX_FAILURES:
        until = (shanghai_now(now) + CALLER_LOCK).isoformat(timespec="seconds")
        conn.execute(
            "UPDATE auth_failures SET locked_until = ? "
            "WHERE scope = 'caller' AND subject = ? AND pin_kind = ?",
            (until, subject, IDENTITY),
        )
    return max(MAX_FAILURES - failures, 0)


def identity_matched(conn: sqlite3.Connection, caller: str) -> None:
    conn.execute(
        "DELETE FROM auth_failures WHERE scope = 'caller' AND subject = ? AND pin_kind = ?",
        (caller or ANONYMOUS, IDENTITY),
    )
