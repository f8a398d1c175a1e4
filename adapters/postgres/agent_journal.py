"""`PostgresAgentJournal`: the agents' journal (`AgentJournal`) on the shared database.

Place: what `ivr.adapters.cti.audit.SqliteAgentJournal` is in one instance's
`agent-journal.sqlite3`, in the tenant's schema (`tenant_<name>`) that every instance
shares (docs/cluster.md): log-ins, failed log-ins, lock-outs, log-outs, states, history
looks, supervisors' listens, each line stamped with the instance that wrote it. So the
supervisors' audit log (`latest`), the not-ready report and `ivr report --by agent` see
every instance's lines. The same contract as the SQLite and memory journals
(tests/cti/test_cti_audit.py). The center-wide login gate (`ivr.adapters.postgres.logins`)
and the desktops' tokens (`ivr.adapters.postgres.tokens`) share its connections and schema.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from ivr.adapters.cti.audit import AgentEvent, AgentJournal
from ivr.adapters.cti.throttle import LoginLimits
from ivr.adapters.postgres import logins, tokens
from ivr.adapters.postgres.database import Connection, Database, open_database
from ivr.adapters.postgres.migrations import migrate
from ivr.adapters.postgres.values import pg_text, utc
from ivr.adapters.storage.schema import Migration

COMPONENT = "cti_agent_journal"
MIGRATIONS: list[Migration] = [
    (
        1,
        [
            """CREATE TABLE agent_journal (
                id BIGSERIAL PRIMARY KEY, at TIMESTAMPTZ NOT NULL, kind TEXT NOT NULL,
                extension TEXT, address TEXT, detail TEXT NOT NULL,
                instance TEXT NOT NULL DEFAULT '')""",
            "CREATE INDEX agent_journal_extension ON agent_journal (extension, id)",
            "CREATE INDEX agent_journal_kind ON agent_journal (kind, id)",
            "CREATE INDEX agent_journal_at ON agent_journal (at)",  # reports: state lines by time
        ],
    ),
]
_COLUMNS = "at, kind, extension, address, detail"
Row = tuple[datetime, str, str | None, str | None, str]


@asynccontextmanager
async def open_postgres_agent_journal(
    url: str, *, instance: str = "", schema: str | None = None
) -> AsyncIterator[PostgresAgentJournal]:
    """The journal (and the login gate's table) on `url`, migrated, for the block; `schema`:
    the tenant's own."""
    async with open_database(url, size=2, name="ivr-agent-journal", schema=schema) as db:
        await db.run(lambda conn: _migrate(conn, schema))
        yield PostgresAgentJournal(db, instance)


def _migrate(conn: Connection, schema: str | None) -> None:
    migrate(conn, COMPONENT, MIGRATIONS, schema=schema)
    migrate(conn, logins.COMPONENT, logins.MIGRATIONS, schema=schema)
    migrate(conn, tokens.COMPONENT, tokens.MIGRATIONS, schema=schema)


class PostgresAgentJournal:
    """Create with `open_postgres_agent_journal`; each line commits before `record` returns."""

    def __init__(self, db: Database, instance: str = "") -> None:
        self.db = db
        self.instance = instance

    def login_gate(self, limits: LoginLimits) -> logins.PostgresLoginGate:
        """The center-wide login gate with these limits, on the journal's connections."""
        return logins.PostgresLoginGate(self.db, limits)

    def token_book(self, ttl: float) -> tokens.PostgresTokenBook:
        """The center-wide desktop tokens, valid `ttl` seconds, on the journal's connections."""
        return tokens.PostgresTokenBook(self.db, ttl, self.instance)

    async def record(self, event: AgentEvent) -> None:
        row = (
            utc(event.at),
            pg_text(event.kind),
            _text(event.extension),
            _text(event.address),
            json.dumps(dict(event.detail)),  # ASCII: no NUL or lone surrogate reaches the server
            self.instance,
        )
        await self.db.run(
            lambda c: c.execute(
                "INSERT INTO agent_journal (at, kind, extension, address, detail, instance)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                row,
            )
        )

    async def events(self, extension: str | None = None, kind: str | None = None) -> list[AgentEvent]:
        """In the order written (across instances: the order their lines committed)."""
        where: list[str] = []
        args: list[Any] = []
        if extension is not None:
            where.append("extension = %s")
            args.append(pg_text(extension))
        if kind is not None:
            where.append("kind = %s")
            args.append(pg_text(kind))
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        query = f"SELECT {_COLUMNS} FROM agent_journal{clause} ORDER BY id"
        rows: list[Row] = await self.db.run(lambda c: c.execute(query, args).fetchall())
        return [_event(row) for row in rows]

    async def latest(self, kinds: Sequence[str], limit: int) -> list[AgentEvent]:
        """The newest lines of these kinds, from the newest back (the index on kind, id)."""
        wanted = [pg_text(kind) for kind in kinds]
        rows: list[Row] = await self.db.run(
            lambda c: c.execute(
                f"SELECT {_COLUMNS} FROM agent_journal WHERE kind = ANY(%s) ORDER BY id DESC LIMIT %s",
                (wanted, limit),
            ).fetchall()
        )
        return [_event(row) for row in rows]


def _text(value: str | None) -> str | None:
    return None if value is None else pg_text(value)


def _event(row: Row) -> AgentEvent:
    at, kind, extension, address, detail = row
    return AgentEvent(at, kind, extension, address, json.loads(detail))


def _implements_the_port(journal: PostgresAgentJournal) -> AgentJournal:
    return journal  # mypy checks here that the class satisfies the CTI's journal protocol
