"""Reading one customer's history from the stores that hold it, by index only.

Place: the I/O half of `ivr.adapters.history`, under the CTI's `history` command. The
sources are one tenant's: the call records (shared by tenants, so every query names the
tenant), its back office (`brokerage.sqlite3`: customers, orders, transfers, tickets), its
outbox (messages and their delivery state) and its campaign store (outbound attempts). A
missing source is an empty section. Every query is an equality on an indexed column and a
range on the next one, newest first with a LIMIT, so a history costs a few index probes
however large the tables grow, and never holds a lock a call needs (read-only connections,
WAL). The indexes it needs are created once at start-up (`ensure_indexes`, recorded in
each file's `schema_migrations` as component `customer_history`). With a shared database
(`HistorySources.database`), the calls, messages and attempts sections are read there
(`postgres.py`: every instance's calls), the back office's from its file as before.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Literal

import psycopg

from ivr.adapters.history.model import (
    SECTIONS,
    AttemptLine,
    CallLine,
    Customer,
    History,
    Line,
    MessageLine,
    OrderLine,
    Page,
    Section,
    TicketLine,
    TransferLine,
)
from ivr.adapters.history.postgres import HistoryDatabase, PostgresHistory
from ivr.adapters.storage.schema import Migration, connect, migrate

log = logging.getLogger(__name__)
COMPONENT = "customer_history"
LIMIT = 10  # lines per section by default
MAX_LIMIT = 50
MAX_PATH = 60  # nodes shown of one call's path
MAX_KEYS = 20  # accounts or numbers of one customer that are searched
MAX_LINKED = 20  # latest orders and transfers whose calls join the customer's calls
NEWEST = "\uffff"  # a cursor after every timestamp
SHARED_SECTIONS: tuple[Section, ...] = ("calls", "messages", "attempts")  # on the database, if shared
BACK_OFFICE_FILE = "brokerage.sqlite3"  # ivr.adapters.brokerage.module's default
CAMPAIGNS_FILE = "campaigns.sqlite3"  # ivr.adapters.dialer.hosting's

INDEXES: dict[str, Sequence[Migration]] = {
    "records": [
        (1, ["CREATE INDEX IF NOT EXISTS calls_tenant_caller ON calls (tenant, caller, started_at)"])
    ],
    "brokerage": [
        (
            1,
            [
                "CREATE INDEX IF NOT EXISTS accounts_customer ON accounts (customer_id, account_no)",
                "CREATE INDEX IF NOT EXISTS caller_numbers_customer ON caller_numbers (customer_id, number)",
                "CREATE INDEX IF NOT EXISTS orders_account ON orders (account_no, created_at)",
                "CREATE INDEX IF NOT EXISTS transfers_account ON transfers (account_no, created_at)",
                "CREATE INDEX IF NOT EXISTS tickets_account ON complaint_tickets (account_no, created_at)",
                "CREATE INDEX IF NOT EXISTS tickets_caller ON complaint_tickets (caller, created_at)",
            ],
        )
    ],
    "outbox": [(1, ["CREATE INDEX IF NOT EXISTS outbox_recipient ON outbox (recipient, created_at)"])],
    "campaigns": [
        (
            1,
            [
                "CREATE INDEX IF NOT EXISTS campaign_attempts_number"
                " ON campaign_attempts (number, started_at)",
                # `ivr report --by campaign` reads attempts by time
                "CREATE INDEX IF NOT EXISTS campaign_attempts_started ON campaign_attempts (started_at)",
            ],
        )
    ],
}


@dataclass(frozen=True, slots=True)
class HistorySources:
    """One tenant's stores (`tenant` as the call records name it; "" for a plain folder);
    `database`: where the records, outbox and campaigns are when they are shared (then
    their files are None)."""

    tenant: str
    records: Path | None
    brokerage: Path | None = None
    outbox: Path | None = None
    campaigns: Path | None = None
    database: HistoryDatabase | None = None

    def files(self) -> Iterator[tuple[str, Path]]:
        for name in ("records", "brokerage", "outbox", "campaigns"):
            path: Path | None = getattr(self, name)
            if path is not None:
                yield name, path


@dataclass(frozen=True, slots=True)
class Who:
    """Whose history: an account (a customer the agent searched for or the flow identified),
    else the number that called."""

    account: str = ""
    caller: str = ""


def ensure_indexes(sources: HistorySources) -> None:
    """Create the indexes the history reads through, in each source that exists; never
    raises (a store it cannot index is logged and tried again at its first read)."""
    for name, path in sources.files():
        _ensure(name, path)


def _ensure(source: str, path: Path) -> bool:
    """The source's indexes, made if missing (False: its owner has not made its tables yet)."""
    if not path.is_file():
        return False
    try:
        conn = connect(path)
    except sqlite3.Error as exc:
        log.warning("customer history: cannot open %s: %s", path, exc)
        return False
    try:
        migrate(conn, COMPONENT, INDEXES[source])
        return True
    except sqlite3.IntegrityError:  # another tenant's desk made them at the same moment (shared records)
        return True
    except sqlite3.Error as exc:  # no tables yet, locked, read-only: the history reads on, slower
        log.warning("customer history: no indexes in %s yet: %s", path, exc)
        return False
    finally:
        conn.close()


def tenant_sources(
    tenant: str, records: Path, *, data_dir: Path, root: Path, outbox: Path, database_url: str | None = None
) -> HistorySources:
    """A hosted tenant's stores where hosting keeps them: the back office in its module data
    (`brokerage.sqlite3`), the campaign store in its root, its outbox; with a database URL,
    the records, campaigns and outbox in the database (the tenant's schema `tenant_<name>`)."""
    brokerage = data_dir / BACK_OFFICE_FILE
    if database_url:
        shared = HistoryDatabase(database_url, f"tenant_{tenant}")
        return HistorySources(tenant, None, brokerage=brokerage, database=shared)
    campaigns = root / CAMPAIGNS_FILE
    return HistorySources(tenant, records, brokerage=brokerage, outbox=outbox, campaigns=campaigns)


class HistoryReader:
    """Reads histories for one tenant; synchronous (run it in a worker thread)."""

    def __init__(self, sources: HistorySources) -> None:
        self.sources = sources
        self.trace: Callable[[str, str], None] | None = None  # (source, statement): tests check plans
        self._indexed: set[str] = set()  # sources whose indexes exist (made on first read)
        self.shared = PostgresHistory(sources.database) if sources.database is not None else None

    def close(self) -> None:
        """End the connections kept to the shared database (none on SQLite)."""
        if self.shared is not None:
            self.shared.close()

    def read(self, who: Who, *, limit: int = LIMIT) -> History:
        """The customer and the newest `limit` lines of every section."""
        return self.read_sections(who, SECTIONS, limit=limit)

    def read_sections(
        self, who: Who, sections: Iterable[Section], *, before: str | None = None, limit: int = LIMIT
    ) -> History:
        """The customer and, for each section, the newest `limit` lines older than `before`
        (a `Page.more` cursor)."""
        limit = max(1, min(limit, MAX_LIMIT))
        cursor = before or NEWEST
        customer = self.customer(who)
        pages: dict[Section, Page] = {}
        for section in sections:
            pages[section] = _page(self._lines(section, customer, cursor, limit + 1), limit)
        return History(customer, pages)

    def customer(self, who: Who) -> Customer:
        numbers = (who.caller,) if who.caller else ()
        unknown = Customer(False, numbers=numbers, addresses=numbers)
        with self._open("brokerage") as conn:
            if conn is None:
                return unknown
            if who.account:
                query, key = "SELECT customer_id FROM accounts WHERE account_no = ?", who.account
            elif who.caller:
                query, key = "SELECT customer_id FROM caller_numbers WHERE number = ?", who.caller
            else:
                return unknown
            try:
                row = conn.execute(query, (key,)).fetchone()
                return unknown if row is None else _customer(conn, int(row[0]))
            except sqlite3.Error as exc:  # a back office without these tables, or a broken file
                log.warning("customer history: cannot read the customer from the back office: %s", exc)
                return unknown

    # -- sections ---------------------------------------------------------------------------
    def _lines(self, section: Section, customer: Customer, before: str, limit: int) -> list[Line]:
        if self.shared is not None and section in SHARED_SECTIONS:
            try:
                return self._shared_lines(self.shared, section, customer, before, limit)
            except psycopg.Error as exc:  # out of reach, or a table not made yet
                log.warning("customer history: cannot read %s from the database: %s", section, exc)
                return []
        readers: dict[Section, tuple[str, Callable[[sqlite3.Connection], list[Line]]]] = {
            "calls": ("records", lambda c: self._calls(c, customer, before, limit)),
            "orders": ("brokerage", lambda c: _orders(c, customer.accounts, before, limit)),
            "transfers": ("brokerage", lambda c: _transfers(c, customer.accounts, before, limit)),
            "tickets": ("brokerage", lambda c: _tickets(c, customer, before, limit)),
            "messages": ("outbox", lambda c: _messages(c, customer.addresses, before, limit)),
            "attempts": ("campaigns", lambda c: _attempts(c, customer.numbers, before, limit)),
        }
        source, read = readers[section]
        with self._open(source) as conn:
            if conn is None:
                return []
            try:
                return read(conn)
            except sqlite3.Error as exc:  # a store without that table (yet), or a broken file
                log.warning("customer history: cannot read %s from %s: %s", section, source, exc)
                return []

    def _shared_lines(
        self, shared: PostgresHistory, section: Section, customer: Customer, before: str, limit: int
    ) -> list[Line]:
        if section == "calls":
            numbers, linked = customer.numbers[:MAX_KEYS], self._linked_calls(customer)
            return shared.calls(self.sources.tenant, numbers, linked, before, limit, MAX_PATH)
        if section == "messages":
            return shared.messages(customer.addresses[:MAX_KEYS], before, limit)
        return shared.attempts(customer.numbers[:MAX_KEYS], before, limit)

    def _calls(self, conn: sqlite3.Connection, customer: Customer, before: str, limit: int) -> list[Line]:
        """The calls from the customer's numbers, and those their latest orders and transfers
        were made in (a customer who called from a number not on file)."""
        columns = "call_id, flow, caller, started_at, ended_at, how"
        rows: list[tuple[str, str, str, str, str | None, str | None]] = []
        for number in customer.numbers[:MAX_KEYS]:
            rows += conn.execute(
                f"SELECT {columns} FROM calls"
                " WHERE tenant = ? AND caller = ? AND started_at < ? ORDER BY started_at DESC LIMIT ?",
                (self.sources.tenant, number, before, limit),
            ).fetchall()
        for call_id in set(self._linked_calls(customer)) - {row[0] for row in rows}:
            rows += conn.execute(
                f"SELECT {columns} FROM calls WHERE call_id = ? AND tenant = ? AND started_at < ?",
                (call_id, self.sources.tenant, before),
            ).fetchall()
        rows = sorted(rows, key=lambda row: row[3], reverse=True)[:limit]
        return [
            CallLine(call_id, started, ended, how, flow, caller, _path(conn, call_id))
            for call_id, flow, caller, started, ended, how in rows
        ]

    def _linked_calls(self, customer: Customer) -> list[str]:
        """The calls the customer's latest orders and transfers name (MAX_LINKED of each)."""
        if not customer.accounts:
            return []
        with self._open("brokerage") as conn:
            if conn is None:
                return []
            try:
                lines = [
                    *_orders(conn, customer.accounts, NEWEST, MAX_LINKED),
                    *_transfers(conn, customer.accounts, NEWEST, MAX_LINKED),
                ]
            except sqlite3.Error:
                return []
        return [line.call_id for line in lines if isinstance(line, OrderLine | TransferLine) and line.call_id]

    @contextmanager
    def _open(self, source: str) -> Iterator[sqlite3.Connection | None]:
        path: Path | None = getattr(self.sources, source)
        if path is None or not path.is_file():
            yield None
            return
        if source not in self._indexed and _ensure(source, path):
            self._indexed.add(source)
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)) as conn:
            if self.trace is not None:
                trace = self.trace
                conn.set_trace_callback(lambda statement: trace(source, statement))
            yield conn


def _customer(conn: sqlite3.Connection, customer_id: int) -> Customer:
    name, name_en, tier, email, fax, mobile = conn.execute(
        "SELECT name, name_en, vip_tier, email, fax, mobile FROM customers WHERE id = ?", (customer_id,)
    ).fetchone()
    accounts = [
        row[0]
        for row in conn.execute(
            "SELECT account_no FROM accounts WHERE customer_id = ? ORDER BY account_no LIMIT ?",
            (customer_id, MAX_KEYS),
        )
    ]
    numbers = [
        row[0]
        for row in conn.execute(
            "SELECT number FROM caller_numbers WHERE customer_id = ? ORDER BY number LIMIT ?",
            (customer_id, MAX_KEYS),
        )
    ]
    numbers += [mobile] if mobile and mobile not in numbers else []
    addresses = [*numbers, *(a for a in (email, fax) if a)]
    return Customer(True, name, name_en, tier, tuple(accounts), tuple(numbers), tuple(addresses))


def _path(conn: sqlite3.Connection, call_id: str) -> tuple[str, ...]:
    rows = conn.execute(
        "SELECT node FROM events WHERE call_id = ? AND kind = 'node_entered' ORDER BY seq LIMIT ?",
        (call_id, MAX_PATH),
    )
    return tuple(str(node) for (node,) in rows if node)


def _newest(rows: Iterable[Sequence[object]], at: int, limit: int) -> list[Sequence[object]]:
    return sorted(rows, key=lambda row: str(row[at]), reverse=True)[:limit]


def _per_key(
    conn: sqlite3.Connection, query: str, keys: Sequence[str], before: str, limit: int
) -> list[Sequence[object]]:
    rows: list[Sequence[object]] = []
    for key in keys[:MAX_KEYS]:
        rows += conn.execute(query, (key, before, limit)).fetchall()
    return rows


def _orders(conn: sqlite3.Connection, accounts: Sequence[str], before: str, limit: int) -> list[Line]:
    rows = _per_key(
        conn,
        "SELECT order_no, account_no, side, code, qty, price_fen, status, filled_qty, created_at,"
        " idempotency_key FROM orders WHERE account_no = ? AND created_at < ?"
        " ORDER BY created_at DESC LIMIT ?",
        accounts,
        before,
        limit,
    )
    lines: list[Line] = []
    for no, account, side, code, qty, price, status, filled, created, key in _newest(rows, 8, limit):
        call_id, by = _placed_in(str(key))
        lines.append(
            OrderLine(
                str(no),
                str(account),
                str(side),
                str(code),
                int(str(qty)),
                _yuan(price),
                str(status),
                int(str(filled)),
                str(created),
                call_id,
                by,
            )
        )
    return lines


def _transfers(conn: sqlite3.Connection, accounts: Sequence[str], before: str, limit: int) -> list[Line]:
    rows = _per_key(
        conn,
        "SELECT transfer_no, account_no, direction, amount_fen, status, created_at, idempotency_key"
        " FROM transfers WHERE account_no = ? AND created_at < ? ORDER BY created_at DESC LIMIT ?",
        accounts,
        before,
        limit,
    )
    return [
        TransferLine(
            str(no),
            str(account),
            str(direction),
            _yuan(amount),
            str(status),
            str(created),
            _placed_in(str(key))[0],
        )
        for no, account, direction, amount, status, created, key in _newest(rows, 5, limit)
    ]


def _tickets(conn: sqlite3.Connection, customer: Customer, before: str, limit: int) -> list[Line]:
    columns = "ticket_no, account_no, topic, department, status, created_at, recording_id"
    rows = _per_key(
        conn,
        f"SELECT {columns} FROM complaint_tickets WHERE account_no = ? AND created_at < ?"
        " ORDER BY created_at DESC LIMIT ?",
        customer.accounts,
        before,
        limit,
    )
    rows += _per_key(
        conn,
        f"SELECT {columns} FROM complaint_tickets WHERE caller = ? AND created_at < ?"
        " ORDER BY created_at DESC LIMIT ?",
        customer.numbers,
        before,
        limit,
    )
    unique = {str(row[0]): row for row in rows}.values()
    return [
        TicketLine(
            str(no),
            None if account is None else str(account),
            str(topic),
            str(department),
            str(status),
            str(created),
            str(recording),
        )
        for no, account, topic, department, status, created, recording in _newest(unique, 5, limit)
    ]


def _messages(conn: sqlite3.Connection, addresses: Sequence[str], before: str, limit: int) -> list[Line]:
    rows = _per_key(
        conn,
        "SELECT delivery_id, channel, kind, recipient, status, created_at, sent_at, call_id FROM outbox"
        " WHERE recipient = ? AND created_at < ? ORDER BY created_at DESC LIMIT ?",
        addresses,
        before,
        limit,
    )
    return [
        MessageLine(
            str(did),
            str(channel),
            str(kind),
            str(to),
            str(status),
            str(created),
            None if sent is None else str(sent),
            None if call is None else str(call),
        )
        for did, channel, kind, to, status, created, sent, call in _newest(rows, 5, limit)
    ]


def _attempts(conn: sqlite3.Connection, numbers: Sequence[str], before: str, limit: int) -> list[Line]:
    rows = _per_key(
        conn,
        "SELECT a.attempt_id, r.campaign, a.run_id, a.number, a.started_at, a.outcome, a.disposition"
        " FROM campaign_attempts a JOIN campaign_runs r ON r.run_id = a.run_id"
        " WHERE a.number = ? AND a.started_at < ? ORDER BY a.started_at DESC LIMIT ?",
        numbers,
        before,
        limit,
    )
    return [
        AttemptLine(
            str(aid),
            str(campaign),
            str(run),
            str(number),
            str(started),
            None if outcome is None else str(outcome),
            None if disp is None else str(disp),
        )
        for aid, campaign, run, number, started, outcome, disp in _newest(rows, 4, limit)
    ]


def _page(lines: list[Line], limit: int) -> Page:
    if len(lines) <= limit:
        return Page(tuple(lines))
    shown = lines[:limit]
    return Page(tuple(shown), _when(shown[-1]))


def _when(line: Line) -> str:
    return line.started_at if isinstance(line, CallLine | AttemptLine) else line.created_at


def _placed_in(key: str) -> tuple[str | None, Literal["ivr", "agent", ""]]:
    """The call an order or transfer was made in, from its idempotency key: the IVR's
    `CALL-order-N` / `CALL-transfer-N`, the agent desktop's `CALL-desk-KEY`."""
    for marker in ("-order-", "-transfer-"):
        call, found, seq = key.rpartition(marker)
        if found and call and seq.isdigit():
            return call, "ivr"
    call, found, _ = key.partition("-desk-")
    return (call, "agent") if found and call else (None, "")


def _yuan(fen: object) -> str:
    return str((Decimal(int(str(fen))) / 100).quantize(Decimal("0.01")))
