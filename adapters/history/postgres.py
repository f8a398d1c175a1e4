"""The customer's history sections that live on the shared database: calls, messages, attempts.

Place: beside `sqlite.py`, under the same `HistoryReader`. With a database URL every
instance writes the call records (table `calls`, `events`), and each tenant's outbox and
campaign attempts (its schema `tenant_<name>`) in PostgreSQL (docs/cluster.md), so an
agent at instance B sees the calls a customer made through instance A. The back office
(orders, transfers, tickets) stays the module's own SQLite file. The queries are the
SQLite reader's: an equality on an indexed column and a range on the next one, newest
first with a LIMIT (indexes: `calls_tenant_caller` and `outbox_recipient`, made by the
records' and the outbox's migrations; `campaign_attempts_number`), on read-only
connections. Synchronous, in the reader's worker thread; a few connections are kept
between reads (`close` ends them).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql

from ivr.adapters.history.model import AttemptLine, CallLine, Line, MessageLine
from ivr.adapters.postgres.database import CONNECT_TIMEOUT, Connection
from ivr.adapters.storage.codec import encode_time

NO_BOUND = "infinity"  # the cursor before every time
Trace = Callable[[str, str, Sequence[object]], None]  # (source, statement, parameters)


@dataclass(frozen=True, slots=True)
class HistoryDatabase:
    """Where the shared sections are: the database and the tenant's schema."""

    url: str
    schema: str


class PostgresHistory:
    """Reads the calls, messages and attempts sections; keeps up to `size` idle connections."""

    def __init__(self, where: HistoryDatabase, *, size: int = 2) -> None:
        self.where = where
        self.trace: Trace | None = None  # tests check the plans of the statements
        self._size = size
        self._idle: list[Connection] = []
        self._lock = threading.Lock()

    def calls(
        self,
        tenant: str,
        numbers: Sequence[str],
        linked: Sequence[str],
        before: str,
        limit: int,
        path_length: int,
    ) -> list[Line]:
        """The tenant's calls from `numbers`, and the `linked` ones (by id), newest first."""
        columns = "call_id, flow, caller, started_at, ended_at, how"
        bound = _bound(before)
        with self._connection() as conn:
            rows: list[tuple[Any, ...]] = []
            for number in numbers:
                rows += self._rows(
                    conn,
                    "records",
                    f"SELECT {columns} FROM calls WHERE tenant = %s AND caller = %s"
                    " AND started_at < %s::timestamptz ORDER BY started_at DESC LIMIT %s",
                    (tenant, number, bound, limit),
                )
            others = sorted(set(linked) - {row[0] for row in rows})
            if others:
                rows += self._rows(
                    conn,
                    "records",
                    f"SELECT {columns} FROM calls WHERE call_id = ANY(%s) AND tenant = %s"
                    " AND started_at < %s::timestamptz",
                    (others, tenant, bound),
                )
            rows = sorted(rows, key=lambda row: row[3], reverse=True)[:limit]
            return [
                CallLine(
                    call_id,
                    encode_time(started),
                    _time(ended),
                    how,
                    flow,
                    caller,
                    self._path(conn, call_id, path_length),
                )
                for call_id, flow, caller, started, ended, how in rows
            ]

    def messages(self, addresses: Sequence[str], before: str, limit: int) -> list[Line]:
        query = sql.SQL(
            "SELECT delivery_id, channel, kind, recipient, status, created_at, sent_at, call_id"
            " FROM {}.outbox WHERE recipient = %s AND created_at < %s::timestamptz"
            " ORDER BY created_at DESC LIMIT %s"
        ).format(sql.Identifier(self.where.schema))
        rows = self._per_key(query, "outbox", addresses, before, limit)
        return [
            MessageLine(did, channel, kind, to, status, encode_time(created), _time(sent), call)
            for did, channel, kind, to, status, created, sent, call in _newest(rows, 5, limit)
        ]

    def attempts(self, numbers: Sequence[str], before: str, limit: int) -> list[Line]:
        schema = sql.Identifier(self.where.schema)
        query = sql.SQL(
            "SELECT a.attempt_id, r.campaign, a.run_id, a.number, a.started_at, a.outcome, a.disposition"
            " FROM {}.campaign_attempts a JOIN {}.campaign_runs r ON r.run_id = a.run_id"
            " WHERE a.number = %s AND a.started_at < %s::timestamptz ORDER BY a.started_at DESC LIMIT %s"
        ).format(schema, schema)
        rows = self._per_key(query, "campaigns", numbers, before, limit)
        return [
            AttemptLine(aid, campaign, run, number, encode_time(started), outcome, disposition)
            for aid, campaign, run, number, started, outcome, disposition in _newest(rows, 4, limit)
        ]

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    # -- plumbing -------------------------------------------------------------------------
    def _per_key(
        self, query: sql.Composed, source: str, keys: Sequence[str], before: str, limit: int
    ) -> list[tuple[Any, ...]]:
        bound = _bound(before)
        with self._connection() as conn:
            rows: list[tuple[Any, ...]] = []
            for key in keys:
                rows += self._rows(conn, source, query, (key, bound, limit))
            return rows

    def _path(self, conn: Connection, call_id: str, length: int) -> tuple[str, ...]:
        rows = self._rows(
            conn,
            "records",
            "SELECT node FROM events WHERE call_id = %s AND kind = 'node_entered' ORDER BY seq LIMIT %s",
            (call_id, length),
        )
        return tuple(str(node) for (node,) in rows if node)

    def _rows(
        self, conn: Connection, source: str, query: str | sql.Composed, args: Sequence[object]
    ) -> list[tuple[Any, ...]]:
        if self.trace is not None:
            self.trace(source, query if isinstance(query, str) else query.as_string(conn), args)
        return conn.execute(query, args).fetchall()

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            url = self.where.url
            conn = psycopg.connect(
                url, connect_timeout=CONNECT_TIMEOUT, application_name="ivr-history", autocommit=True
            )
            conn.execute("SET TIME ZONE 'UTC'")
            conn.execute("SET default_transaction_read_only = on")
        try:
            yield conn
        finally:
            with self._lock:
                keep = not (conn.closed or conn.broken) and len(self._idle) < self._size
                if keep:
                    self._idle.append(conn)
            if not keep:
                conn.close()


def _bound(before: str) -> str:
    """The cursor as PostgreSQL reads a time: a page's `more` (this module's own text), an
    ISO time (UTC unless it says), or none (a cursor that is not a time: from the newest)."""
    try:
        at = datetime.fromisoformat(before)
    except ValueError:
        return NO_BOUND
    return (at if at.tzinfo is not None else at.replace(tzinfo=UTC)).isoformat()


def _time(at: datetime | None) -> str | None:
    return None if at is None else encode_time(at)


def _newest(rows: list[tuple[Any, ...]], at: int, limit: int) -> list[tuple[Any, ...]]:
    return sorted(rows, key=lambda row: row[at], reverse=True)[:limit]
