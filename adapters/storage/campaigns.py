"""`SqliteCampaignStore`: the durable `CampaignStore` port on one SQLite file.

Place: the outer ring of outbound calling; the campaign runner writes through the port
(each attempt before its INVITE, each outcome before the next decision), `ivr campaign`
and the HTTP API read through it. Every write returns only once committed with
`synchronous=FULL` (the group-commit writer of `writer.py`, as the call records), so a
kill -9 keeps everything the runner acted on. Attempt ids are the primary key: the store
itself refuses to record an attempt twice. One store file belongs to one running server.

    async with open_sqlite_campaign_store(path) as store:
        await store.begin_attempt(attempt)
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import TypeVar, cast

import trio

from ivr.adapters.storage.codec import decode_detail, decode_time, encode_detail, encode_time
from ivr.adapters.storage.schema import Migration, connect, migrate
from ivr.adapters.storage.writer import BatchWriter, WriteFailed
from ivr.runtime.campaigns.model import (
    Attempt,
    AttemptOutcome,
    CampaignRun,
    Contact,
    RunRecords,
    RunState,
    Skip,
    SkipReason,
)
from ivr.runtime.ports import CampaignStore, StoreConflict

T = TypeVar("T")
COMPONENT = "campaigns"
MIGRATIONS: list[Migration] = [
    (
        1,
        [
            """CREATE TABLE campaign_runs (
                run_id TEXT PRIMARY KEY, campaign TEXT NOT NULL, state TEXT NOT NULL,
                created_at TEXT NOT NULL, changed_at TEXT NOT NULL, contacts INTEGER NOT NULL)""",
            """CREATE TABLE campaign_contacts (
                run_id TEXT NOT NULL, seq INTEGER NOT NULL, contact_id TEXT NOT NULL,
                number TEXT NOT NULL, timezone TEXT, fields TEXT NOT NULL,
                PRIMARY KEY (run_id, contact_id))""",
            """CREATE TABLE campaign_attempts (
                attempt_id TEXT PRIMARY KEY, run_id TEXT NOT NULL, contact_id TEXT NOT NULL,
                n INTEGER NOT NULL, number TEXT NOT NULL, started_at TEXT NOT NULL,
                outcome TEXT, ended_at TEXT, disposition TEXT, ran_flow INTEGER NOT NULL DEFAULT 0,
                detail TEXT NOT NULL DEFAULT '', UNIQUE (run_id, contact_id, n))""",
            "CREATE INDEX campaign_attempts_open ON campaign_attempts (attempt_id) WHERE outcome IS NULL",
            """CREATE TABLE campaign_skips (
                run_id TEXT NOT NULL, contact_id TEXT NOT NULL, reason TEXT NOT NULL, at TEXT NOT NULL,
                PRIMARY KEY (run_id, contact_id))""",
            """CREATE TABLE do_not_call (
                number TEXT PRIMARY KEY, added_at TEXT NOT NULL, source TEXT NOT NULL)""",
        ],
    )
]


# Indexes for reading, versioned apart from the store's tables (several lanes may add either):
# `ivr report --by campaign` reads attempts and opt-outs by time, the customer's history by number.
INDEX_COMPONENT = "campaign_indexes"
INDEXES: list[Migration] = [
    (
        1,
        [
            "CREATE INDEX IF NOT EXISTS campaign_attempts_started ON campaign_attempts (started_at)",
            "CREATE INDEX IF NOT EXISTS campaign_attempts_number ON campaign_attempts (number, started_at)",
            "CREATE INDEX IF NOT EXISTS campaign_skips_at ON campaign_skips (at)",
        ],
    )
]


class SqliteCampaignStore:
    """The `CampaignStore` port. Create with `open_sqlite_campaign_store`."""

    def __init__(self, writer: BatchWriter, read_conn: sqlite3.Connection) -> None:
        self.writer = writer
        self._read_conn = read_conn
        self._read_lock = trio.Lock()

    async def create_run(self, run: CampaignRun, contacts: Sequence[Contact]) -> None:
        head = (run.run_id, run.campaign, run.state, encode_time(run.created_at), encode_time(run.created_at))
        rows = [
            (run.run_id, seq, c.contact_id, c.number, c.timezone, encode_detail(c.fields))
            for seq, c in enumerate(contacts)
        ]

        def apply(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO campaign_runs VALUES (?, ?, ?, ?, ?, ?)", (*head, len(rows)))
            conn.executemany("INSERT INTO campaign_contacts VALUES (?, ?, ?, ?, ?, ?)", rows)

        await self._write(f"run {run.run_id} exists already (or a contact id repeats)", apply)

    async def add_contacts(self, run_id: str, contacts: Sequence[Contact], at: datetime) -> list[str]:
        rows = [(c.contact_id, c.number, c.timezone, encode_detail(c.fields)) for c in contacts]
        when = encode_time(at)

        def apply(conn: sqlite3.Connection) -> list[str]:
            head = conn.execute(
                "SELECT state, (SELECT COALESCE(MAX(seq), -1) FROM campaign_contacts WHERE run_id = ?) "
                "FROM campaign_runs WHERE run_id = ?",
                (run_id, run_id),
            ).fetchone()
            if head is None or head[0] == "stopped":
                raise StoreConflict(
                    f"there is no run {run_id}" if head is None else f"run {run_id} is stopped"
                )
            seq, added = int(head[1]), []
            for contact_id, number, timezone, fields in rows:
                cursor = conn.execute(
                    "INSERT OR IGNORE INTO campaign_contacts VALUES (?, ?, ?, ?, ?, ?)",
                    (run_id, seq + 1, contact_id, number, timezone, fields),
                )
                if cursor.rowcount == 1:
                    seq += 1
                    added.append(contact_id)
            if added:
                conn.execute(
                    "UPDATE campaign_runs SET contacts = contacts + ?, changed_at = ?, "
                    "state = CASE state WHEN 'completed' THEN 'running' ELSE state END WHERE run_id = ?",
                    (len(added), when, run_id),
                )
            return added

        return cast(list[str], await self._write(f"contacts added to run {run_id}", apply))

    async def runs(self) -> list[CampaignRun]:
        return await self._read(
            lambda c: [
                _run(row)
                for row in c.execute(
                    "SELECT run_id, campaign, state, created_at, contacts FROM campaign_runs "
                    "ORDER BY created_at, run_id"
                )
            ]
        )

    async def load(self, run_id: str) -> RunRecords | None:
        return await self._read(lambda c: _load(c, run_id))

    async def set_state(self, run_id: str, state: RunState, at: datetime) -> None:
        def apply(conn: sqlite3.Connection) -> None:
            cursor = conn.execute(
                "UPDATE campaign_runs SET state = ?, changed_at = ? WHERE run_id = ?",
                (state, encode_time(at), run_id),
            )
            if cursor.rowcount != 1:
                raise StoreConflict(f"there is no run {run_id}")

        await self._write(f"there is no run {run_id}", apply)

    async def begin_attempt(self, attempt: Attempt) -> None:
        row = (
            attempt.attempt_id,
            attempt.run_id,
            attempt.contact_id,
            attempt.n,
            attempt.number,
            encode_time(attempt.started_at),
        )

        def apply(conn: sqlite3.Connection) -> None:
            if (
                conn.execute("SELECT 1 FROM campaign_runs WHERE run_id = ?", (attempt.run_id,)).fetchone()
                is None
            ):
                raise StoreConflict(f"there is no run {attempt.run_id}")
            conn.execute(
                "INSERT INTO campaign_attempts (attempt_id, run_id, contact_id, n, number, started_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                row,
            )

        await self._write(f"attempt {attempt.attempt_id} exists already", apply)

    async def finish_attempt(
        self,
        attempt_id: str,
        outcome: AttemptOutcome,
        at: datetime,
        *,
        disposition: str | None = None,
        ran_flow: bool = False,
        detail: str = "",
    ) -> None:
        values = (outcome, encode_time(at), disposition, int(ran_flow), detail, attempt_id)

        def apply(conn: sqlite3.Connection) -> None:
            cursor = conn.execute(
                "UPDATE campaign_attempts SET outcome = ?, ended_at = ?, disposition = ?, ran_flow = ?, "
                "detail = ? WHERE attempt_id = ? AND outcome IS NULL",
                values,
            )
            if cursor.rowcount != 1:
                raise StoreConflict(f"attempt {attempt_id} is not open")

        await self._write(f"attempt {attempt_id} is not open", apply)

    async def skip(self, skip: Skip) -> None:
        row = (skip.run_id, skip.contact_id, skip.reason, encode_time(skip.at))
        await self._write(
            f"contact {skip.contact_id} of run {skip.run_id} was skipped already",
            lambda c: c.execute("INSERT OR IGNORE INTO campaign_skips VALUES (?, ?, ?, ?)", row),
        )

    async def recover(self, at: datetime) -> list[str]:
        when = encode_time(at)

        def apply(conn: sqlite3.Connection) -> list[str]:
            ids = [
                r[0] for r in conn.execute("SELECT attempt_id FROM campaign_attempts WHERE outcome IS NULL")
            ]
            conn.execute(
                "UPDATE campaign_attempts SET outcome = 'interrupted', ended_at = ?, "
                "detail = 'found open at start-up' WHERE outcome IS NULL",
                (when,),
            )
            return sorted(ids)

        return cast(list[str], await self._write("recovery of open attempts", apply))

    async def add_do_not_call(self, number: str, at: datetime, *, source: str) -> None:
        row = (number, encode_time(at), source)
        await self._write(
            f"do-not-call entry {number}",
            lambda c: c.execute("INSERT OR IGNORE INTO do_not_call VALUES (?, ?, ?)", row),
        )

    async def do_not_call(self) -> set[str]:
        return await self._read(lambda c: {row[0] for row in c.execute("SELECT number FROM do_not_call")})

    async def _write(self, conflict: str, apply: Callable[[sqlite3.Connection], object]) -> object:
        try:
            return await self.writer.submit(apply)
        except WriteFailed as exc:
            if isinstance(exc.__cause__, StoreConflict):
                raise exc.__cause__ from None
            if isinstance(exc.__cause__, sqlite3.IntegrityError):
                raise StoreConflict(conflict) from exc
            raise

    async def _read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        async with self._read_lock:
            return await trio.to_thread.run_sync(query, self._read_conn)


@asynccontextmanager
async def open_sqlite_campaign_store(path: Path | str) -> AsyncIterator[SqliteCampaignStore]:
    """Open (creating or migrating) the store and run its writer for the block."""
    write_conn, read_conn = await trio.to_thread.run_sync(_open, path)
    store = SqliteCampaignStore(BatchWriter(write_conn), read_conn)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(store.writer.serve)
            try:
                yield store
            finally:
                await store.writer.close()
    finally:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(_close, write_conn, read_conn)


def _open(path: Path | str) -> tuple[sqlite3.Connection, sqlite3.Connection]:
    write_conn = connect(path)
    migrate(write_conn, COMPONENT, MIGRATIONS)
    migrate(write_conn, INDEX_COMPONENT, INDEXES)
    return write_conn, connect(path)


def _close(*conns: sqlite3.Connection) -> None:
    for conn in conns:
        conn.close()


def _run(row: tuple[str, str, str, str, int]) -> CampaignRun:
    run_id, campaign, state, created_at, contacts = row
    return CampaignRun(run_id, campaign, cast(RunState, state), decode_time(created_at), contacts)


def _load(conn: sqlite3.Connection, run_id: str) -> RunRecords | None:
    head = conn.execute(
        "SELECT run_id, campaign, state, created_at, contacts FROM campaign_runs WHERE run_id = ?", (run_id,)
    ).fetchone()
    if head is None:
        return None
    contacts = tuple(
        Contact(contact_id, number, decode_detail(fields), timezone)
        for contact_id, number, timezone, fields in conn.execute(
            "SELECT contact_id, number, timezone, fields FROM campaign_contacts "
            "WHERE run_id = ? ORDER BY seq",
            (run_id,),
        )
    )
    rows = conn.execute(
        "SELECT attempt_id, contact_id, n, number, started_at, outcome, ended_at, disposition, ran_flow, "
        "detail FROM campaign_attempts WHERE run_id = ? ORDER BY started_at, contact_id, n",
        (run_id,),
    )
    attempts = tuple(_attempt(run_id, row) for row in rows)
    skips = tuple(
        Skip(run_id, contact_id, cast(SkipReason, reason), decode_time(at))
        for contact_id, reason, at in conn.execute(
            "SELECT contact_id, reason, at FROM campaign_skips WHERE run_id = ? ORDER BY at, contact_id",
            (run_id,),
        )
    )
    return RunRecords(_run(head), contacts, attempts, skips)


def _attempt(run_id: str, row: tuple[object, ...]) -> Attempt:
    attempt_id, contact_id, n, number, started, outcome, ended, disposition, ran_flow, detail = row
    return Attempt(
        str(attempt_id),
        run_id,
        str(contact_id),
        int(cast(int, n)),
        str(number),
        decode_time(str(started)),
        cast(AttemptOutcome | None, outcome),
        decode_time(str(ended)) if ended else None,
        cast(str | None, disposition),
        str(detail),
        bool(ran_flow),
    )


def _implements_the_port(store: SqliteCampaignStore) -> CampaignStore:
    return store  # mypy checks here that the class satisfies the runtime's port
