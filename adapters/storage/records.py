"""`SqliteCallRecords`: the durable `CallRecords` port on one SQLite file.

Place: the outer ring; the runtime writes through the port as a call goes, reports and
tests read through the helpers (`get_call`, `list_calls`, `events`, `recordings`). Every
write returns only once committed with `synchronous=FULL` (group commit, `writer.py`), so
what the caller was told is on disk; `ordered()` is the hosted server's view, whose
`call_event` does not wait (its line is committed no later than the call's end). Opening
the store closes every call left without an end (the server stopped mid-call) as
"interrupted" (`recover_interrupted`). One store file belongs to one running server:
recovery assumes no other process has calls in progress.

    async with open_sqlite_call_records(path) as records:
        await records.call_started(...)
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import trio

from ivr.adapters.errors import AdapterError
from ivr.adapters.storage import reads
from ivr.adapters.storage.codec import encode_detail, encode_time, storable_text
from ivr.adapters.storage.schema import Migration, connect, migrate
from ivr.adapters.storage.usage import usage_inputs
from ivr.adapters.storage.writer import Apply, BatchWriter, Keep, WriteFailed
from ivr.runtime.ports import CallChannel, CallEvent, CallRecords, Recording
from ivr.runtime.usage import CallUsage, RecordingUsage, SessionUsage

T = TypeVar("T")

COMPONENT = "call_records"
MIGRATIONS: list[Migration] = [
    (
        1,
        [
            """CREATE TABLE calls (
                call_id TEXT PRIMARY KEY, flow TEXT NOT NULL, caller TEXT NOT NULL,
                dialed TEXT NOT NULL, started_at TEXT NOT NULL, ended_at TEXT, how TEXT)""",
            "CREATE INDEX calls_started_at ON calls (started_at)",
            "CREATE INDEX calls_open ON calls (call_id) WHERE ended_at IS NULL",
            """CREATE TABLE events (
                seq INTEGER PRIMARY KEY AUTOINCREMENT, call_id TEXT NOT NULL, kind TEXT NOT NULL,
                at TEXT NOT NULL, node TEXT, detail TEXT NOT NULL)""",
            "CREATE INDEX events_call ON events (call_id, seq)",
            """CREATE TABLE recordings (
                recording_id TEXT PRIMARY KEY, call_id TEXT NOT NULL, duration TEXT NOT NULL,
                path TEXT, ended_by TEXT NOT NULL, metadata TEXT NOT NULL, stored_at TEXT NOT NULL)""",
            "CREATE INDEX recordings_call ON recordings (call_id)",
        ],
    ),
    (
        2,
        [
            # the tenant a call belongs to and the published version of its flows it ran
            "ALTER TABLE calls ADD COLUMN tenant TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE calls ADD COLUMN version TEXT NOT NULL DEFAULT ''",
            "CREATE INDEX calls_tenant_started ON calls (tenant, started_at)",
            # agents' logged-in time, for seat-hours (`seen_at`: the last heartbeat)
            """CREATE TABLE agent_sessions (
                session_id INTEGER PRIMARY KEY AUTOINCREMENT, tenant TEXT NOT NULL,
                agent TEXT NOT NULL, login_at TEXT NOT NULL, seen_at TEXT NOT NULL, logout_at TEXT)""",
            "CREATE INDEX agent_sessions_tenant ON agent_sessions (tenant, login_at)",
        ],
    ),
    # reports read agent sessions by time range, of every tenant at once (ivr report --by agent)
    (3, ["CREATE INDEX agent_sessions_login ON agent_sessions (login_at)"]),
    # how the customer came (docs/channels.md): phone, outbound, chat, sms; older calls were phone calls
    (4, ["ALTER TABLE calls ADD COLUMN channel TEXT NOT NULL DEFAULT 'phone'"]),
    # the instance that took the call and the agent's login (docs/cluster.md); '' before
    (
        5,
        [
            "ALTER TABLE calls ADD COLUMN instance TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE agent_sessions ADD COLUMN instance TEXT NOT NULL DEFAULT ''",
        ],
    ),
]
INTERRUPTED = "interrupted"
# How long a call event written behind (`ordered()`) may wait for others to share its commit;
# a waited write (a call's start or end, a recording) ends the wait at once.
EVENT_LINGER = 0.05  # seconds


class RecordsError(AdapterError):
    """A call record could not be written (unknown or duplicate call, disk trouble).
    The write was rolled back; the message says which call."""


@asynccontextmanager
async def open_sqlite_call_records(
    path: Path | str, *, max_batch: int = 256, instance: str = ""
) -> AsyncIterator[SqliteCallRecords]:
    """Open (creating or migrating) the store, recover interrupted calls, run its writer.
    `instance`: stamped on every call and login (the file has one owner: opening it closes
    every open call, whoever took it)."""
    write_conn, read_conn, recovered = await trio.to_thread.run_sync(_open, path)
    records = SqliteCallRecords(
        BatchWriter(write_conn, max_batch=max_batch, linger=EVENT_LINGER),
        read_conn,
        recovered,
        instance=instance,
    )
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(records.writer.serve)
            try:
                yield records
            finally:
                await records.writer.close()
    finally:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(_close, write_conn, read_conn)


class SqliteCallRecords:
    """The `CallRecords` port plus read helpers. Create with `open_sqlite_call_records`."""

    def __init__(
        self, writer: BatchWriter, read_conn: sqlite3.Connection, recovered: list[str], *, instance: str = ""
    ) -> None:
        self.writer = writer
        self.instance = instance
        self._read_conn = read_conn
        self._read_lock = trio.Lock()
        self.recovered_at_open = recovered  # call ids closed as interrupted when opened

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
        """Open the call's record; a hosted call also names its tenant and flows version."""
        what, apply = self._started(call_id, flow, caller, dialed, at, tenant, version, channel)
        await self._write(what, apply)

    async def call_event(self, event: CallEvent) -> None:
        await self._write(*_event(event))

    async def call_ended(self, call_id: str, *, how: str, at: datetime) -> None:
        """Close the call; a second end of the same call is ignored (the first one stands)."""
        await self._write(*_ended(call_id, how, at))

    async def store_recording(
        self, call_id: str, recording: Recording, metadata: Mapping[str, object]
    ) -> None:
        await self._write(*_recording(call_id, recording, metadata))

    def ordered(self, hold_if: Keep) -> OrderedRecords:
        """The same writes in one held order, `call_event` without waiting (for
        `ivr.adapters.hosting.resilient`; see `writer.py`)."""
        return OrderedRecords(self, hold_if)

    def _started(
        self,
        call_id: str,
        flow: str,
        caller: str,
        dialed: str,
        at: datetime,
        tenant: str,
        version: str,
        channel: CallChannel,
    ) -> tuple[str, Apply]:
        at_text = encode_time(at)
        caller, dialed = storable_text(caller), storable_text(dialed)
        row = (call_id, flow, caller, dialed, at_text, tenant, version, channel, self.instance)
        return f"call {call_id!r} started", lambda c: c.execute(
            "INSERT INTO calls (call_id, flow, caller, dialed, started_at, tenant, version, channel,"
            " instance) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            row,
        )

    # -- agents' logged-in time (seat-hours) -----------------------------------------------
    async def agent_logged_in(self, tenant: str, agent: str, at: datetime) -> int:
        """Open an agent session; its id (for `agents_seen` and `agent_logged_out`)."""
        row = (tenant, agent, encode_time(at), encode_time(at), self.instance)
        session = await self._write(
            f"login of agent {agent!r}",
            lambda c: (
                c.execute(
                    "INSERT INTO agent_sessions (tenant, agent, login_at, seen_at, instance)"
                    " VALUES (?, ?, ?, ?, ?)",
                    row,
                ).lastrowid
            ),
        )
        assert isinstance(session, int)
        return session

    async def agents_seen(self, sessions: list[int], at: datetime) -> None:
        """Note that these sessions were still open at `at` (a crash closes them there)."""
        rows = [(encode_time(at), session) for session in sessions]
        await self._write(
            "agent sessions' heartbeat",
            lambda c: c.executemany("UPDATE agent_sessions SET seen_at = ? WHERE session_id = ?", rows),
        )

    async def agent_logged_out(self, session: int, at: datetime) -> None:
        row = (encode_time(at), encode_time(at), session)
        await self._write(
            f"logout of agent session {session}",
            lambda c: c.execute(
                "UPDATE agent_sessions SET logout_at = ?, seen_at = ?"
                " WHERE session_id = ? AND logout_at IS NULL",
                row,
            ),
        )

    async def recover_interrupted(self, at: datetime | None = None) -> list[str]:
        """Close every call without an end as "interrupted"; the ids closed. Run at open."""
        when = encode_time(at or datetime.now(UTC))
        result = await self._write("recovery of interrupted calls", lambda c: _recover(c, when))
        assert isinstance(result, list)
        return result

    async def recover_instance(self, instance: str, at: datetime | None = None) -> list[str]:
        """Close the calls and agent sessions `instance` left open, as `recover_interrupted`
        does for all; the call ids closed (the same method as on a shared database)."""
        when = encode_time(at or datetime.now(UTC))
        result = await self._write(
            f"recovery of instance {instance!r}", lambda c: _recover(c, when, instance)
        )
        assert isinstance(result, list)
        return result

    async def instance_of(self, call_id: str) -> str | None:
        """The instance that took the call (None: no such call)."""

        def query(c: sqlite3.Connection) -> str | None:
            row = c.execute("SELECT instance FROM calls WHERE call_id = ?", (call_id,)).fetchone()
            return str(row[0]) if row else None

        return await self._read(query)

    async def get_call(self, call_id: str) -> reads.CallRecord | None:
        return await self._read(lambda c: reads.get_call(c, call_id))

    async def list_calls(
        self,
        *,
        flow: str | None = None,
        how: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        tenant: str | None = None,
    ) -> list[reads.CallRecord]:
        return await self._read(
            lambda c: reads.list_calls(
                c, flow=flow, how=how, since=since, until=until, limit=limit, tenant=tenant
            )
        )

    async def events(self, call_id: str) -> list[CallEvent]:
        return await self._read(lambda c: reads.events(c, call_id))

    async def recordings(self, call_id: str) -> list[reads.StoredRecording]:
        return await self._read(lambda c: reads.recordings(c, call_id))

    async def order_recordings(self, order_no: str) -> list[reads.StoredRecording]:
        """The recordings of the conversations in which `order_no` was placed."""
        return await self._read(lambda c: reads.order_recordings(c, order_no))

    async def recording(self, recording_id: str) -> reads.StoredRecording | None:
        return await self._read(lambda c: reads.recording(c, recording_id))

    async def usage_inputs(
        self, since: datetime, until: datetime, tenant: str | None = None
    ) -> tuple[list[CallUsage], list[SessionUsage], list[RecordingUsage]]:
        """What `ivr.runtime.usage` adds up, around [since, until)."""
        return await self._read(lambda c: usage_inputs(c, since, until, tenant))

    async def _write(self, what: str, apply: Apply, *, hold_if: Keep | None = None) -> object:
        try:
            return await self.writer.submit(apply, hold_if=hold_if)
        except WriteFailed as exc:
            raise RecordsError(f"could not record {what}: {exc}") from exc

    async def _read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        async with self._read_lock:
            return await trio.to_thread.run_sync(query, self._read_conn)


class OrderedRecords:
    """`SqliteCallRecords`' call-record writes as ordered writes of its writer: a failed
    line that the owner keeps (`hold_if`/`on_failure` True) holds back every later line
    until `release()`, and `call_event` queues its line without waiting for the commit
    (the port promises durability for `call_ended` and recordings, and `call_ended`
    returns only once every line queued before it is committed or handed back)."""

    def __init__(self, records: SqliteCallRecords, hold_if: Keep) -> None:
        self._records = records
        self._hold_if = hold_if

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
        records = self._records
        what, apply = records._started(call_id, flow, caller, dialed, at, tenant, version, channel)
        await records._write(what, apply, hold_if=self._hold_if)

    async def call_event(self, event: CallEvent, *, on_failure: Keep) -> None:
        """Queue the line; `on_failure` gets its error later if it fails (in order)."""
        what, apply = _event(event)

        def failed(exc: Exception) -> bool:
            error = RecordsError(f"could not record {what}: {exc}")
            error.__cause__ = exc
            return on_failure(error)

        await self._records.writer.submit_behind(apply, on_failure=failed)

    async def call_ended(self, call_id: str, *, how: str, at: datetime) -> None:
        await self._records._write(*_ended(call_id, how, at), hold_if=self._hold_if)

    async def store_recording(
        self, call_id: str, recording: Recording, metadata: Mapping[str, object]
    ) -> None:
        await self._records._write(*_recording(call_id, recording, metadata), hold_if=self._hold_if)

    def release(self) -> None:
        self._records.writer.release()


def _event(event: CallEvent) -> tuple[str, Apply]:
    row = (event.call_id, event.kind, encode_time(event.at), event.node, encode_detail(event.detail))
    return f"event {event.kind!r} of call {event.call_id!r}", lambda c: c.execute(
        "INSERT INTO events (call_id, kind, at, node, detail) VALUES (?, ?, ?, ?, ?)", row
    )


def _ended(call_id: str, how: str, at: datetime) -> tuple[str, Apply]:
    at_text = encode_time(at)
    return f"end of call {call_id!r}", lambda c: _end_call(c, call_id, how, at_text)


def _recording(call_id: str, recording: Recording, metadata: Mapping[str, object]) -> tuple[str, Apply]:
    row = (
        recording.recording_id,
        call_id,
        str(recording.duration),
        recording.path,
        recording.ended_by,
        encode_detail(metadata),
        encode_time(datetime.now(UTC)),
    )
    return f"recording {recording.recording_id!r} of call {call_id!r}", lambda c: c.execute(
        "INSERT INTO recordings VALUES (?, ?, ?, ?, ?, ?, ?)", row
    )


def _open(path: Path | str) -> tuple[sqlite3.Connection, sqlite3.Connection, list[str]]:
    write_conn = connect(path)
    migrate(write_conn, COMPONENT, MIGRATIONS)
    write_conn.execute("BEGIN IMMEDIATE")
    recovered = _recover(write_conn, encode_time(datetime.now(UTC)))
    write_conn.execute("COMMIT")
    return write_conn, connect(path), recovered


def _close(*conns: sqlite3.Connection) -> None:
    for conn in conns:
        conn.close()


def _end_call(conn: sqlite3.Connection, call_id: str, how: str, at: str) -> None:
    if conn.execute("SELECT 1 FROM calls WHERE call_id = ?", (call_id,)).fetchone() is None:
        raise sqlite3.IntegrityError(f"no call {call_id!r} was started")
    conn.execute(
        "UPDATE calls SET ended_at = ?, how = ? WHERE call_id = ? AND ended_at IS NULL", (at, how, call_id)
    )


def _recover(conn: sqlite3.Connection, now: str, instance: str | None = None) -> list[str]:
    """End open calls (of `instance`; None: of every instance) at their last sign of life,
    and note when the recovery happened; close agent sessions left open at their last heartbeat."""
    only, params = (" AND instance = ?", (instance,)) if instance is not None else ("", ())
    conn.execute(f"UPDATE agent_sessions SET logout_at = seen_at WHERE logout_at IS NULL{only}", params)
    open_calls = [
        row[0]
        for row in conn.execute(
            f"SELECT call_id FROM calls WHERE ended_at IS NULL{only} ORDER BY rowid", params
        )
    ]
    for call_id in open_calls:
        conn.execute(
            """UPDATE calls SET how = ?, ended_at = coalesce(
                   (SELECT at FROM events WHERE call_id = calls.call_id ORDER BY seq DESC LIMIT 1),
                   started_at)
               WHERE call_id = ?""",
            (INTERRUPTED, call_id),
        )
        conn.execute(
            "INSERT INTO events (call_id, kind, at, node, detail) VALUES (?, 'call_interrupted', ?, NULL, ?)",
            (call_id, now, encode_detail({"recovered_at": now})),
        )
    return open_calls


def _implements_the_port(records: SqliteCallRecords) -> CallRecords:
    return records  # mypy checks here that SqliteCallRecords satisfies the runtime's port
