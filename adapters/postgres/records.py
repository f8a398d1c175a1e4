"""`PostgresCallRecords`: the `CallRecords` port (and its read helpers) on PostgreSQL.

Place: the outer ring; what `SqliteCallRecords` is for one server, this is for several
instances sharing one database (docs/cluster.md). The same methods, the same meaning, the
same conformance tests (`tests/adapters/test_records_conformance.py`,
`tests/adapters/test_records_stores.py`). Every write is committed before the method
returns; the writes of concurrent calls share transactions (group commit, `batch.py`).

Each call is stamped with the instance that owns it. Opening the store closes as
"interrupted" only the calls (and agent sessions) left open by this same instance: a
peer's open calls are alive on the peer. A call left open by a dead peer is closed by
whoever notices, with `recover_instance(peer)` (one `UPDATE ... RETURNING`: two instances
that notice together close each call once).

    async with open_postgres_call_records(url, instance="host-a:5060") as records:
        await records.call_started(...)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import psycopg
import trio

from ivr.adapters.postgres.batch import GroupCommit
from ivr.adapters.postgres.database import Connection, Database, DatabaseUnavailable, open_database
from ivr.adapters.postgres.migrations import migrate
from ivr.adapters.postgres.values import pg_text, utc
from ivr.adapters.storage.codec import decode_detail, encode_detail
from ivr.adapters.storage.reads import CallRecord, StoredRecording, as_channel
from ivr.adapters.storage.records import INTERRUPTED, RecordsError
from ivr.adapters.storage.schema import Migration
from ivr.runtime.ports import CallChannel, CallEvent, CallRecords, Recording
from ivr.runtime.usage import CallUsage, RecordingUsage, SessionUsage

T = TypeVar("T")
COMPONENT = "call_records"
MIGRATIONS: list[Migration] = [
    (
        1,
        [
            """CREATE TABLE calls (
                seq BIGSERIAL UNIQUE, call_id TEXT PRIMARY KEY, flow TEXT NOT NULL,
                caller TEXT NOT NULL, dialed TEXT NOT NULL, started_at TIMESTAMPTZ NOT NULL,
                ended_at TIMESTAMPTZ, how TEXT, tenant TEXT NOT NULL DEFAULT '',
                version TEXT NOT NULL DEFAULT '', channel TEXT NOT NULL DEFAULT 'phone',
                instance TEXT NOT NULL DEFAULT '')""",
            "CREATE INDEX calls_started_at ON calls (started_at)",
            "CREATE INDEX calls_tenant_started ON calls (tenant, started_at)",
            "CREATE INDEX calls_open ON calls (instance) WHERE ended_at IS NULL",
            """CREATE TABLE events (
                seq BIGSERIAL PRIMARY KEY, call_id TEXT NOT NULL, kind TEXT NOT NULL,
                at TIMESTAMPTZ NOT NULL, node TEXT, detail TEXT NOT NULL)""",
            "CREATE INDEX events_call ON events (call_id, seq)",
            """CREATE TABLE recordings (
                seq BIGSERIAL UNIQUE, recording_id TEXT PRIMARY KEY, call_id TEXT NOT NULL,
                duration TEXT NOT NULL, path TEXT, ended_by TEXT NOT NULL, metadata TEXT NOT NULL,
                stored_at TIMESTAMPTZ NOT NULL)""",
            "CREATE INDEX recordings_call ON recordings (call_id)",
            """CREATE TABLE agent_sessions (
                session_id BIGSERIAL PRIMARY KEY, tenant TEXT NOT NULL, agent TEXT NOT NULL,
                login_at TIMESTAMPTZ NOT NULL, seen_at TIMESTAMPTZ NOT NULL, logout_at TIMESTAMPTZ,
                instance TEXT NOT NULL DEFAULT '')""",
            "CREATE INDEX agent_sessions_tenant ON agent_sessions (tenant, login_at)",
            "CREATE INDEX agent_sessions_login ON agent_sessions (login_at)",
        ],
    ),
    # the customer's history on the desk: a caller's calls, newest first (ivr.adapters.history)
    (2, ["CREATE INDEX calls_tenant_caller ON calls (tenant, caller, started_at)"]),
]
USAGE_MARGIN = timedelta(days=2)  # as `ivr.adapters.storage.usage`: report days are not UTC days
_CALL_COLUMNS = "call_id, flow, caller, dialed, started_at, ended_at, how, tenant, version, channel"


@asynccontextmanager
async def open_postgres_call_records(
    url: str, *, instance: str = "", size: int = 4, max_batch: int = 256
) -> AsyncIterator[PostgresCallRecords]:
    """Open (migrating) the store on `url`, close this instance's calls left open, and run
    its group commit (`batch.py`) for the block."""
    async with open_database(url, size=size, name="ivr-records") as db:
        await db.run(lambda conn: migrate(conn, COMPONENT, MIGRATIONS))
        records = PostgresCallRecords(db, instance, GroupCommit(db, max_batch=max_batch))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(records.writer.serve)
            try:
                records.recovered_at_open = await records.recover_instance(instance)
                yield records
            finally:
                await records.writer.close()


class PostgresCallRecords:
    """The `CallRecords` port plus read helpers. Create with `open_postgres_call_records`."""

    def __init__(self, db: Database, instance: str, writer: GroupCommit) -> None:
        self.db = db
        self.instance = instance
        self.writer = writer  # every write goes through its group commit
        self.recovered_at_open: list[str] = []  # call ids closed as interrupted when opened

    async def call_started(
        self,
        call_id: str,
        *,
        flow: str,
        caller: str,
        dialed: str,
        at: datetime,
        tenant: str = "",
        version: str = "",
        channel: CallChannel = "phone",
    ) -> None:
        row = (
            call_id,
            flow,
            pg_text(caller),
            pg_text(dialed),
            utc(at),
            tenant,
            version,
            channel,
            self.instance,
        )
        await self._write(
            f"call {call_id!r} started",
            lambda c: c.execute(
                "INSERT INTO calls (call_id, flow, caller, dialed, started_at, tenant, version, channel,"
                " instance) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                row,
            ),
        )

    async def call_event(self, event: CallEvent) -> None:
        row = (event.call_id, event.kind, utc(event.at), event.node, _detail(event.detail))
        await self._write(
            f"event {event.kind!r} of call {event.call_id!r}",
            lambda c: c.execute(
                "INSERT INTO events (call_id, kind, at, node, detail) VALUES (%s, %s, %s, %s, %s)", row
            ),
        )

    async def call_ended(self, call_id: str, *, how: str, at: datetime) -> None:
        """Close the call; a second end of the same call is ignored (the first one stands)."""
        await self._write(f"end of call {call_id!r}", lambda c: _end_call(c, call_id, how, utc(at)))

    async def store_recording(
        self, call_id: str, recording: Recording, metadata: Mapping[str, object]
    ) -> None:
        row = (
            recording.recording_id,
            call_id,
            str(recording.duration),
            recording.path,
            recording.ended_by,
            _detail(metadata),
            datetime.now(UTC),
        )
        await self._write(
            f"recording {recording.recording_id!r} of call {call_id!r}",
            lambda c: c.execute(
                "INSERT INTO recordings (recording_id, call_id, duration, path, ended_by, metadata,"
                " stored_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                row,
            ),
        )

    # -- agents' logged-in time (seat-hours) -----------------------------------------------
    async def agent_logged_in(self, tenant: str, agent: str, at: datetime) -> int:
        row = (tenant, agent, utc(at), utc(at), self.instance)

        def insert(c: Connection) -> int:
            found = c.execute(
                "INSERT INTO agent_sessions (tenant, agent, login_at, seen_at, instance)"
                " VALUES (%s, %s, %s, %s, %s) RETURNING session_id",
                row,
            ).fetchone()
            assert found is not None
            return int(found[0])

        return await self._write(f"login of agent {agent!r}", insert)

    async def agents_seen(self, sessions: list[int], at: datetime) -> None:
        when = utc(at)
        await self._write(
            "agent sessions' heartbeat",
            lambda c: c.execute(
                "UPDATE agent_sessions SET seen_at = %s WHERE session_id = ANY(%s)", (when, sessions)
            ),
        )

    async def agent_logged_out(self, session: int, at: datetime) -> None:
        when = utc(at)
        await self._write(
            f"logout of agent session {session}",
            lambda c: c.execute(
                "UPDATE agent_sessions SET logout_at = %s, seen_at = %s"
                " WHERE session_id = %s AND logout_at IS NULL",
                (when, when, session),
            ),
        )

    # -- recovery ------------------------------------------------------------------------
    async def recover_interrupted(self, at: datetime | None = None) -> list[str]:
        """This instance's calls without an end, closed as "interrupted" (as at open)."""
        return await self.recover_instance(self.instance, at)

    async def recover_instance(self, instance: str, at: datetime | None = None) -> list[str]:
        """Close the calls `instance` left open as "interrupted" (at their last event) and
        its open agent sessions (at their last heartbeat); the call ids closed. For this
        instance at start-up, and for a dead peer by whoever notices it."""
        now = utc(at or datetime.now(UTC))
        return await self._write(f"recovery of instance {instance!r}", lambda c: _recover(c, instance, now))

    # -- reads ---------------------------------------------------------------------------
    async def get_call(self, call_id: str) -> CallRecord | None:
        row = await self._read(
            lambda c: c.execute(
                f"SELECT {_CALL_COLUMNS} FROM calls WHERE call_id = %s", (call_id,)
            ).fetchone()
        )
        return _call(row) if row else None

    async def instance_of(self, call_id: str) -> str | None:
        """The instance that took the call (None: no such call)."""
        row = await self._read(
            lambda c: c.execute("SELECT instance FROM calls WHERE call_id = %s", (call_id,)).fetchone()
        )
        return str(row[0]) if row else None

    async def list_calls(
        self,
        *,
        flow: str | None = None,
        how: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        tenant: str | None = None,
    ) -> list[CallRecord]:
        """Newest first; every filter is optional; `until` is exclusive."""
        where, params = ["TRUE"], list[object]()
        for clause, value in (
            ("tenant = %s", tenant),
            ("flow = %s", flow),
            ("how = %s", how),
            ("started_at >= %s", since and utc(since)),
            ("started_at < %s", until and utc(until)),
        ):
            if value is not None:
                where.append(clause)
                params.append(value)
        query = f"SELECT {_CALL_COLUMNS} FROM calls WHERE {' AND '.join(where)} ORDER BY seq DESC LIMIT %s"
        rows = await self._read(lambda c: c.execute(query, (*params, limit)).fetchall())
        return [_call(row) for row in rows]

    async def events(self, call_id: str) -> list[CallEvent]:
        rows = await self._read(
            lambda c: c.execute(
                "SELECT kind, at, node, detail FROM events WHERE call_id = %s ORDER BY seq", (call_id,)
            ).fetchall()
        )
        return [CallEvent(call_id, kind, at, node, decode_detail(detail)) for kind, at, node, detail in rows]

    async def recordings(self, call_id: str) -> list[StoredRecording]:
        rows = await self._read(
            lambda c: c.execute(
                "SELECT call_id, recording_id, duration, path, ended_by, metadata FROM recordings"
                " WHERE call_id = %s ORDER BY seq",
                (call_id,),
            ).fetchall()
        )
        return [_recording(row) for row in rows]

    async def order_recordings(self, order_no: str) -> list[StoredRecording]:
        """The recordings whose metadata lists `order_no` under `orders`."""
        rows = await self._read(
            lambda c: c.execute(
                "SELECT call_id, recording_id, duration, path, ended_by, metadata FROM recordings"
                " WHERE strpos(metadata, %s) > 0 ORDER BY seq",
                (order_no,),
            ).fetchall()
        )
        found = [_recording(row) for row in rows]  # the text search narrows; the JSON decides
        return [r for r in found if _lists(r.metadata.get("orders"), order_no)]

    async def recording(self, recording_id: str) -> StoredRecording | None:
        row = await self._read(
            lambda c: c.execute(
                "SELECT call_id, recording_id, duration, path, ended_by, metadata FROM recordings"
                " WHERE recording_id = %s",
                (recording_id,),
            ).fetchone()
        )
        return _recording(row) if row else None

    async def usage_inputs(
        self, since: datetime, until: datetime, tenant: str | None = None
    ) -> tuple[list[CallUsage], list[SessionUsage], list[RecordingUsage]]:
        """What `ivr.runtime.usage` adds up, around [since, until)."""
        return await self._read(
            lambda c: usage_rows(c, utc(since) - USAGE_MARGIN, utc(until) + USAGE_MARGIN, tenant)
        )

    async def _write(self, what: str, apply: Callable[[Connection], T]) -> T:
        try:
            return await self.writer.submit(apply)
        except (psycopg.Error, RecordsError, DatabaseUnavailable) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise RecordsError(f"could not record {what}: {reason}") from exc

    async def _read(self, query: Callable[[Connection], T]) -> T:
        return await self.db.run(query)


def _end_call(c: Connection, call_id: str, how: str, at: datetime) -> None:
    if c.execute("SELECT 1 FROM calls WHERE call_id = %s", (call_id,)).fetchone() is None:
        raise RecordsError(f"no call {call_id!r} was started")
    c.execute(
        "UPDATE calls SET ended_at = %s, how = %s WHERE call_id = %s AND ended_at IS NULL", (at, how, call_id)
    )


def _recover(c: Connection, instance: str, now: datetime) -> list[str]:
    c.execute(
        "UPDATE agent_sessions SET logout_at = seen_at WHERE logout_at IS NULL AND instance = %s", (instance,)
    )
    closed = c.execute(
        """UPDATE calls SET how = %s, ended_at = coalesce(
               (SELECT at FROM events WHERE events.call_id = calls.call_id ORDER BY seq DESC LIMIT 1),
               started_at)
           WHERE instance = %s AND ended_at IS NULL
           RETURNING call_id, seq""",
        (INTERRUPTED, instance),
    ).fetchall()
    call_ids = [str(call_id) for call_id, _ in sorted(closed, key=lambda row: int(row[1]))]
    detail = encode_detail({"recovered_at": now.isoformat(timespec="microseconds")})
    with c.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO events (call_id, kind, at, node, detail)"
            " VALUES (%s, 'call_interrupted', %s, NULL, %s)",
            [(call_id, now, detail) for call_id in call_ids],
        )
    return call_ids


def usage_rows(
    c: Connection, low: datetime, high: datetime, tenant: str | None
) -> tuple[list[CallUsage], list[SessionUsage], list[RecordingUsage]]:
    only = " AND c.tenant = %s" if tenant is not None else ""
    extra: tuple[str, ...] = (tenant,) if tenant is not None else ()
    calls: dict[str, tuple[str, datetime, datetime | None]] = {}
    for call_id, name, started, ended in c.execute(
        f"SELECT c.call_id, c.tenant, c.started_at, c.ended_at FROM calls c"
        f" WHERE c.started_at >= %s AND c.started_at < %s{only} ORDER BY c.seq",
        (low, high, *extra),
    ):
        calls[call_id] = (name, started, ended)
    talk: dict[str, list[tuple[datetime, datetime | None]]] = {}
    for call_id, kind, at in c.execute(
        "SELECT e.call_id, e.kind, e.at FROM events e JOIN calls c ON c.call_id = e.call_id"
        " WHERE e.kind IN ('agent_connected', 'agent_call_ended')"
        f" AND c.started_at >= %s AND c.started_at < %s{only} ORDER BY e.seq",
        (low, high, *extra),
    ):
        spans = talk.setdefault(call_id, [])
        if kind == "agent_connected":
            spans.append((at, None))
        elif spans and spans[-1][1] is None:
            spans[-1] = (spans[-1][0], at)
    call_rows = [
        CallUsage(name, started, ended, tuple(talk.get(call_id, ())))
        for call_id, (name, started, ended) in calls.items()
    ]
    only_s = " AND tenant = %s" if tenant is not None else ""
    sessions = [
        SessionUsage(name, agent, login, logout)
        for name, agent, login, logout in c.execute(
            "SELECT tenant, agent, login_at, logout_at FROM agent_sessions"
            f" WHERE login_at < %s AND (logout_at IS NULL OR logout_at >= %s){only_s} ORDER BY session_id",
            (high, low, *extra),
        )
    ]
    recordings = [
        RecordingUsage(name, stored, Decimal(duration))
        for name, stored, duration in c.execute(
            "SELECT c.tenant, r.stored_at, r.duration FROM recordings r"
            f" JOIN calls c ON c.call_id = r.call_id WHERE r.stored_at >= %s AND r.stored_at < %s{only}"
            " ORDER BY r.seq",
            (low, high, *extra),
        )
    ]
    return call_rows, sessions, recordings


def _call(row: tuple[Any, ...]) -> CallRecord:
    call_id, flow, caller, dialed, started, ended, how, tenant, version, channel = row
    return CallRecord(
        call_id, flow, caller, dialed, started, ended, how, tenant, version, as_channel(channel)
    )


def _recording(row: tuple[Any, ...]) -> StoredRecording:
    call_id, rid, duration, path, ended_by, metadata = row
    return StoredRecording(
        call_id, Recording(rid, Decimal(duration), path, ended_by), decode_detail(metadata)
    )


def _lists(orders: object, order_no: str) -> bool:
    return isinstance(orders, list) and order_no in orders


def _detail(detail: Mapping[str, object]) -> str:
    return encode_detail(detail)  # JSON: a NUL or a lone surrogate is written as an escape


def _implements_the_port(records: PostgresCallRecords) -> CallRecords:
    return records  # mypy checks here that PostgresCallRecords satisfies the runtime's port
