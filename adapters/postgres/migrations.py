"""Versioned schemas on PostgreSQL: `schema_migrations(component, version, applied_at)`.

Place: under every PostgreSQL store, as `ivr.adapters.storage.schema` is under the SQLite
ones (the same `Migration` lists: a version and its statements). Several instances start
together against one database, so a component is migrated inside one transaction that
first takes a transaction-scoped advisory lock: the second instance waits, then finds the
versions applied and does nothing. A store whose connections use a schema of their own
(a tenant's campaigns) gets it created here, under the same lock, with its own
`schema_migrations`. A database written by a newer program is refused
(`SchemaError`) and left unchanged. DDL is transactional in PostgreSQL: a failing
migration leaves no half-made table behind.
"""

from __future__ import annotations

from collections.abc import Sequence

from psycopg import sql

from ivr.adapters.postgres.database import Connection
from ivr.adapters.storage.schema import Migration, SchemaError

# One lock for every component's migrations (`pg_advisory_xact_lock(bigint)`): "ivr-schema".
LOCK_KEY = int.from_bytes(b"ivr-schm", "big") & 0x7FFF_FFFF_FFFF_FFFF

_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    component TEXT NOT NULL,
    version INTEGER NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (component, version)
)"""


def migrate(
    conn: Connection, component: str, migrations: Sequence[Migration], *, schema: str | None = None
) -> int:
    """Apply the pending migrations of `component` (run inside `Database.run`'s
    transaction; `schema`: the one the connection's search path names, created if new);
    the version the database is at afterwards."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
    if schema is not None:  # the connections' own schema (`Database.schema`)
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    conn.execute(_TABLE)
    current = schema_version(conn, component)
    known = max((version for version, _ in migrations), default=0)
    if current > known:
        raise SchemaError(f"{component} schema version {current} is newer than this program's {known}")
    for version, statements in sorted(migrations):
        if version > current:
            for statement in statements:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (component, version) VALUES (%s, %s)", (component, version)
            )
    return max(current, known)


def schema_version(conn: Connection, component: str) -> int:
    row = conn.execute(
        "SELECT max(version) FROM schema_migrations WHERE component = %s", (component,)
    ).fetchone()
    return int(row[0] or 0) if row else 0
