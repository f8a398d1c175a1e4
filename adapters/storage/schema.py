"""SQLite connections and schema versions for the durable stores (call records, outbox).

Place: under `records.py` and `ivr.adapters.messaging.store`. Every store opens its file with WAL
and `synchronous=FULL` (a committed record survives a crash and a power cut), and brings its
tables up to date through numbered migrations recorded in `schema_migrations`, one row per
(component, version), so several stores may share one file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from ivr.adapters.errors import AdapterError

Migration = tuple[int, Sequence[str]]

_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    component TEXT NOT NULL,
    version INTEGER NOT NULL,
    applied_at TEXT NOT NULL,
    PRIMARY KEY (component, version)
)"""


class SchemaError(AdapterError):
    """The database was written by a newer version of this program. Upgrade the program,
    or point it at another file; nothing was changed."""


def connect(path: Path | str) -> sqlite3.Connection:
    """A durable connection; used from one worker thread at a time."""
    conn = sqlite3.connect(path, timeout=10.0, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


def migrate(conn: sqlite3.Connection, component: str, migrations: Sequence[Migration]) -> int:
    """Apply the pending migrations of `component`, each in its own transaction; the version."""
    conn.execute(_MIGRATIONS_TABLE)
    current = schema_version(conn, component)
    known = max((version for version, _ in migrations), default=0)
    if current > known:
        raise SchemaError(f"{component} schema version {current} is newer than this program's {known}")
    for version, statements in sorted(migrations):
        if version > current:
            _apply(conn, component, version, statements)
    return max(current, known)


def prepare(path: Path, component: str, migrations: Sequence[Migration]) -> None:
    """Create `path` (and its folder) if missing and bring `component` up to date: what a
    store on its own file does once, before its first write."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = connect(path)
    try:
        migrate(conn, component, migrations)
    finally:
        conn.close()


def schema_version(conn: sqlite3.Connection, component: str) -> int:
    row = conn.execute(
        "SELECT max(version) FROM schema_migrations WHERE component = ?", (component,)
    ).fetchone()
    return int(row[0] or 0)


def _apply(conn: sqlite3.Connection, component: str, version: int, statements: Sequence[str]) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in statements:
            conn.execute(statement)
        conn.execute(
            "INSERT INTO schema_migrations (component, version, applied_at) VALUES (?, ?, ?)",
            (component, version, datetime.now(UTC).isoformat()),
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
