"""SQL databases for the SQL backend: SQLite (stdlib `sqlite3`) and PostgreSQL (psycopg 3).

Place: below `sql.py`, above the connection pool. A database runs a list of statements with
bound named parameters in one worker thread; statements that may write run in one
transaction (SQLite: `BEGIN IMMEDIATE`, so a busy database shows at the start and not halfway).
SQLite connections use WAL and `synchronous=FULL`: an order written here survives power loss.
"""

from __future__ import annotations

import importlib
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from ivr.adapters.data.errors import BackendFailure
from ivr.adapters.data.pool import ConnectionPool
from ivr.adapters.data.sqlvalues import Row, rows_to_dicts, to_pyformat

BUSY_TIMEOUT_SECONDS = 2.0
_RETRYABLE_SQLITE = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}


@dataclass(frozen=True)
class Outcome:
    """What the last statement produced: rows (when it returns any columns) and a row count."""

    rows: list[Row] | None
    rowcount: int


class Database(Protocol):
    """A database the SQL backend can run statements on."""

    label: str

    async def execute(self, statements: Sequence[str], params: dict[str, object], *, write: bool) -> Outcome:
        """Run the statements (in one transaction when `write`); raise `BackendFailure`."""
        ...

    async def aclose(self) -> None: ...


class SqliteDatabase:
    """A SQLite file, reached through a small pool of connections in worker threads."""

    def __init__(self, path: Path, *, pool_size: int = 4) -> None:
        self.label = str(path)
        self._pool: ConnectionPool[sqlite3.Connection] = ConnectionPool(
            lambda: _connect_sqlite(path),
            interrupt=sqlite3.Connection.interrupt,
            close=sqlite3.Connection.close,
            size=pool_size,
        )

    async def execute(self, statements: Sequence[str], params: dict[str, object], *, write: bool) -> Outcome:
        try:
            return await self._pool.run(lambda conn: _run_sqlite(conn, statements, params, write))
        except sqlite3.Error as exc:
            retryable = getattr(exc, "sqlite_errorcode", 0) & 0xFF in _RETRYABLE_SQLITE
            raise BackendFailure(f"{type(exc).__name__}: {exc}", retryable=retryable) from exc

    async def aclose(self) -> None:
        await self._pool.aclose()


class PostgresDatabase:
    """A PostgreSQL server through psycopg 3's blocking driver in worker threads."""

    def __init__(self, url: str, psycopg: Any, *, pool_size: int = 4) -> None:
        self.label = redact(url)
        self._psycopg = psycopg
        self._pool: ConnectionPool[Any] = ConnectionPool(
            lambda: psycopg.connect(url, autocommit=True),
            interrupt=lambda conn: conn.cancel(),
            close=lambda conn: conn.close(),
            size=pool_size,
        )

    async def execute(self, statements: Sequence[str], params: dict[str, object], *, write: bool) -> Outcome:
        translated = [to_pyformat(s) for s in statements]
        try:
            return await self._pool.run(lambda conn: _run_postgres(conn, translated, params))
        except self._psycopg.Error as exc:
            # Class 08 (connection), 40 (serialization, deadlock) and 57 map to OperationalError.
            retryable = isinstance(exc, self._psycopg.OperationalError)
            raise BackendFailure(f"{type(exc).__name__}: {exc}", retryable=retryable) from exc

    async def aclose(self) -> None:
        await self._pool.aclose()


class Databases:
    """Every database the service's operations use, each opened once and shared."""

    def __init__(self, base_dir: Path) -> None:
        self._base_dir = base_dir
        self._opened: dict[str, Database] = {}

    def get(self, url: str) -> Database:
        """The database for a URL or path; raises ValueError with a message for the user."""
        if url not in self._opened:
            self._opened[url] = open_database(url, self._base_dir)
        return self._opened[url]

    async def aclose(self) -> None:
        for database in self._opened.values():
            await database.aclose()


def open_database(url: str, base_dir: Path) -> Database:
    """Resolve a database URL (or a plain path) relative to the service; raise ValueError."""
    if url.startswith(("postgresql://", "postgres://")):
        try:
            psycopg = importlib.import_module("psycopg")
        except ImportError as exc:
            raise ValueError(
                f"database {redact(url)} needs the PostgreSQL driver: pip install 'psycopg[binary]'"
            ) from exc
        return PostgresDatabase(url, psycopg)
    path = sqlite_path(url, base_dir)
    if not path.is_file():
        raise ValueError(f"SQLite database {path} does not exist (create it and its tables first)")
    return SqliteDatabase(path)


def sqlite_path(url: str, base_dir: Path) -> Path:
    """`sqlite:///relative.db`, `sqlite:////absolute.db` or a plain path; relative to base_dir."""
    if url.startswith("sqlite:///"):
        url = url.removeprefix("sqlite:///")
    elif "://" in url or url.startswith("sqlite:"):
        raise ValueError(f"unsupported database URL {redact(url)!r} (use sqlite:///path or postgresql://...)")
    return base_dir / url


def redact(url: str) -> str:
    """A URL fit for messages and logs: any password is replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _connect_sqlite(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def _run_sqlite(
    conn: sqlite3.Connection, statements: Sequence[str], params: dict[str, object], write: bool
) -> Outcome:
    if write:
        conn.execute("BEGIN IMMEDIATE")
    try:
        outcome = _run_all(conn.cursor(), statements, params)
        if write:
            conn.execute("COMMIT")
        return outcome
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _run_postgres(conn: Any, statements: Sequence[str], params: dict[str, object]) -> Outcome:
    with conn.transaction():
        return _run_all(conn.cursor(), statements, params)


def _run_all(cursor: Any, statements: Sequence[str], params: dict[str, object]) -> Outcome:
    outcome = Outcome(None, 0)
    for statement in statements:
        cursor.execute(statement, params)
        rows = _fetch(cursor)
        outcome = Outcome(rows, cursor.rowcount if rows is None else len(rows))
    return outcome


def _fetch(cursor: Any) -> list[Row] | None:
    if cursor.description is None:
        return None
    columns = [d[0] for d in cursor.description]
    return rows_to_dicts(columns, cursor.fetchall())
