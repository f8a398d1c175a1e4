"""The back office's SQLite database: where it lives, its schema, migrations and connections.

Hosted, the file is in the tenant's data directory (`ivr.adapters.brokerage.module` runs
each operation inside `using_database`); used directly (tests, scripts) it is
`$IVR_BROKERAGE_DB`, default `var/brokerage.sqlite3` relative to the working directory.
It is created, migrated and seeded with the demo data on first use. Every operation opens
its own connection (`connect`), so worker threads never share one; WAL mode lets readers
run beside a writer. Money and prices are stored as integer fen (0.01 yuan) and leave this
module as `Decimal`.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from ivr.adapters.brokerage.clock import shanghai_now
from ivr.adapters.errors import AdapterError

DEFAULT_PATH = Path("var/brokerage.sqlite3")
ENV_VAR = "IVR_BROKERAGE_DB"

SCHEMA_V1 = """
CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    name_en TEXT NOT NULL,
    id_number TEXT NOT NULL UNIQUE,
    vip_tier TEXT NOT NULL DEFAULT 'standard' CHECK (vip_tier IN ('standard', 'gold', 'platinum')),
    email TEXT,
    fax TEXT,
    mobile TEXT
);
CREATE TABLE caller_numbers (
    number TEXT PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id)
);
CREATE TABLE accounts (
    account_no TEXT PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    is_primary INTEGER NOT NULL DEFAULT 1,
    trading_pin_hash TEXT NOT NULL,
    fund_pin_hash TEXT NOT NULL,
    trading_locked INTEGER NOT NULL DEFAULT 0,
    fund_locked INTEGER NOT NULL DEFAULT 0,
    locked_at TEXT,
    opened_on TEXT NOT NULL
);
CREATE TABLE auth_failures (
    scope TEXT NOT NULL CHECK (scope IN ('account', 'caller')),
    subject TEXT NOT NULL,
    pin_kind TEXT NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0,
    last_failure_at TEXT,
    locked_until TEXT,
    PRIMARY KEY (scope, subject, pin_kind)
);
CREATE TABLE bank_links (
    id INTEGER PRIMARY KEY,
    account_no TEXT NOT NULL REFERENCES accounts(account_no),
    bank_name TEXT NOT NULL,
    bank_name_en TEXT NOT NULL,
    card_last4 TEXT NOT NULL,
    bank_balance_fen INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'reported_lost'))
);
CREATE TABLE cash (
    account_no TEXT PRIMARY KEY REFERENCES accounts(account_no),
    available_fen INTEGER NOT NULL CHECK (available_fen >= 0),
    frozen_fen INTEGER NOT NULL DEFAULT 0 CHECK (frozen_fen >= 0)
);
CREATE TABLE positions (
    account_no TEXT NOT NULL REFERENCES accounts(account_no),
    code TEXT NOT NULL,
    qty INTEGER NOT NULL CHECK (qty >= 0),
    bought_today INTEGER NOT NULL DEFAULT 0,   -- not sellable until the next trading day
    bought_on TEXT,                            -- the trading date `bought_today` belongs to
    sell_frozen INTEGER NOT NULL DEFAULT 0,    -- held by open sell orders
    cost_fen INTEGER NOT NULL DEFAULT 0,       -- total cost basis
    PRIMARY KEY (account_no, code)
);
CREATE TABLE quotes (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_en TEXT NOT NULL,
    market TEXT NOT NULL CHECK (market IN ('SH', 'SZ')),
    st INTEGER NOT NULL DEFAULT 0,
    suspended INTEGER NOT NULL DEFAULT 0,
    industry TEXT NOT NULL,
    industry_en TEXT NOT NULL,
    listed_on TEXT NOT NULL,
    trade_date TEXT NOT NULL,
    prev_close_fen INTEGER NOT NULL,
    open_fen INTEGER NOT NULL,
    last_fen INTEGER NOT NULL,
    high_fen INTEGER NOT NULL,
    low_fen INTEGER NOT NULL,
    volume INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE quote_history (
    code TEXT NOT NULL REFERENCES quotes(code),
    trade_date TEXT NOT NULL,
    open_fen INTEGER NOT NULL,
    high_fen INTEGER NOT NULL,
    low_fen INTEGER NOT NULL,
    close_fen INTEGER NOT NULL,
    volume INTEGER NOT NULL,
    PRIMARY KEY (code, trade_date)
);
CREATE TABLE orders (
    order_no TEXT PRIMARY KEY,
    account_no TEXT NOT NULL,
    market TEXT NOT NULL,
    side TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    code TEXT NOT NULL,
    qty INTEGER NOT NULL,
    price_fen INTEGER NOT NULL,
    status TEXT NOT NULL
        CHECK (status IN ('new', 'partially_filled', 'filled', 'cancelled', 'rejected')),
    filled_qty INTEGER NOT NULL DEFAULT 0,
    filled_amount_fen INTEGER NOT NULL DEFAULT 0,
    fees_fen INTEGER NOT NULL DEFAULT 0,
    frozen_fen INTEGER NOT NULL DEFAULT 0,      -- cash still held for this buy
    reason TEXT NOT NULL DEFAULT '',
    trade_date TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE
);
CREATE INDEX orders_open ON orders(status) WHERE status IN ('new', 'partially_filled');
CREATE TABLE transactions (
    id INTEGER PRIMARY KEY,
    account_no TEXT NOT NULL,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,      -- buy, sell, bank_to_broker, broker_to_bank, dividend
    code TEXT,
    qty INTEGER,
    price_fen INTEGER,
    amount_fen INTEGER NOT NULL,   -- signed: what it did to cash
    ref TEXT
);
CREATE INDEX transactions_account ON transactions(account_no, at);
CREATE TABLE transfers (
    transfer_no TEXT PRIMARY KEY,
    account_no TEXT NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('bank_to_broker', 'broker_to_bank')),
    amount_fen INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('done', 'rejected')),
    reason TEXT NOT NULL DEFAULT '',
    trade_date TEXT NOT NULL,
    created_at TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE
);
CREATE TABLE card_loss_reports (
    report_no TEXT PRIMARY KEY,
    account_no TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('card', 'passbook')),
    caller TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE complaint_tickets (
    ticket_no TEXT PRIMARY KEY,
    caller TEXT,
    account_no TEXT,
    recording_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    department TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open',
    created_at TEXT NOT NULL
);
CREATE TABLE statements (
    statement_no TEXT PRIMARY KEY,
    account_no TEXT NOT NULL,
    period TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


class BrokerageError(AdapterError):
    """A back-office operation could not run (unknown account, bad arguments, conflicting
    idempotency key). The flow takes the lookup's `on_error` edge; the message says why."""


def _migrate_v1(conn: sqlite3.Connection) -> None:
    for statement in SCHEMA_V1.split(";\n"):
        if statement.strip():
            conn.execute(statement)
    from ivr.adapters.brokerage.seed import seed_demo_data  # seed builds on this module

    seed_demo_data(conn)


def _migrate_v2(conn: sqlite3.Connection) -> None:
    """The demo customers' ID numbers get valid check characters (loss reports check them)."""
    from ivr.adapters.brokerage.seed import ID_NUMBER_FIXES

    for old, new in ID_NUMBER_FIXES:
        conn.execute("UPDATE customers SET id_number = ? WHERE id_number = ?", (new, old))


def _migrate_v3(conn: sqlite3.Connection) -> None:
    """Order notifications (a row per fill or cancel, read by the notification campaign)."""
    from ivr.adapters.brokerage.notifications import migrate

    migrate(conn)


def _migrate_v4(conn: sqlite3.Connection) -> None:
    """The service desk's ticket log and the call backs asked for when a ticket is closed."""
    from ivr.adapters.brokerage.desk import migrate

    migrate(conn)


# Append-only: migration N takes the database from user_version N-1 to N.
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (
    _migrate_v1,
    _migrate_v2,
    _migrate_v3,
    _migrate_v4,
)


_DATABASE: ContextVar[Path | None] = ContextVar("brokerage_database", default=None)


def database_path() -> Path:
    """The database of the running operation (`using_database`), else `$IVR_BROKERAGE_DB`,
    else `var/brokerage.sqlite3`."""
    return _DATABASE.get() or Path(os.environ.get(ENV_VAR) or DEFAULT_PATH)


@contextmanager
def using_database(path: Path) -> Iterator[Path]:
    """Within the block (this thread's context), operations use the database at `path`: the
    tenant module (`ivr.adapters.brokerage.module`) runs each operation inside one."""
    token = _DATABASE.set(path)
    try:
        yield path
    finally:
        _DATABASE.reset(token)


def _migrate(conn: sqlite3.Connection) -> None:
    if conn.execute("PRAGMA user_version").fetchone()[0] >= len(MIGRATIONS):
        return
    with transaction(conn):
        # Re-read under the write lock: another process may have migrated meanwhile.
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for number in range(version, len(MIGRATIONS)):
            MIGRATIONS[number](conn)
            conn.execute(f"PRAGMA user_version = {number + 1}")


@contextmanager
def connect(path: str | Path | None = None) -> Iterator[sqlite3.Connection]:
    """A fresh connection to a ready (created, migrated, seeded) database, closed on exit.
    Autocommit mode: writes go through `transaction`."""
    target = Path(path) if path is not None else database_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(target, timeout=10.0, isolation_level=None)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")  # a confirmed order survives power loss
        conn.execute("PRAGMA foreign_keys = ON")
        _migrate(conn)
        yield conn
    finally:
        conn.close()


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT: the write lock is taken up front, so read-then-write
    checks (cash, holdings, caps) cannot race another call."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def fen(amount: Decimal) -> int:
    """Yuan (Decimal, at most two places) to integer fen."""
    return int((amount * 100).to_integral_value())


def yuan(value: int) -> Decimal:
    return (Decimal(value) / 100).quantize(Decimal("0.01"))


def timestamp(now: datetime | None = None) -> str:
    return shanghai_now(now).isoformat(timespec="seconds")


def next_number(conn: sqlite3.Connection, name: str, start: int) -> str:
    """The next number of a sequence (order, ticket, report...), as digits; call inside a
    transaction so the number and the row it names commit together."""
    row = conn.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
    value = start if row is None else row[0] + 1
    conn.execute(
        "INSERT INTO counters(name, value) VALUES (?, ?) "
        "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
        (name, value),
    )
    return str(value)


def get_account(conn: sqlite3.Connection, account: object) -> sqlite3.Row:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM accounts WHERE account_no = ?", (str(account),)
    ).fetchone()
    if row is None:
        raise BrokerageError(f"unknown account {account!r}")
    return row
