"""`PostgresCampaignStore`: the `CampaignStore` port on PostgreSQL, shared by instances.

Place: what `ivr.adapters.storage.campaigns` is for one server, for several instances on
one database (docs/cluster.md); it passes the same contract
(`ivr.runtime.testing.campaign_store_contract`). Every write is one transaction, committed
before the method returns; attempt ids are the primary key, so an attempt is never placed
twice, whichever instance tries. Each run belongs to the instance that created it, and
each attempt to the instance that placed it: `runs` (what a runner resumes and dials) lists
this instance's runs only, so two instances never dial one run; `recover` at start-up
closes only this instance's open attempts; `adopt_runs(peer)` takes over a dead peer's runs,
and a live runner notices a dead one by itself (`ivr.adapters.postgres.takeover`, on the
tenant's heartbeat `ivr.adapters.postgres.peers`).
The do-not-call list lives here too, one list for the whole center.

    async with open_postgres_campaign_store(url, instance="host-a:5060") as store:
        await store.begin_attempt(attempt)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import psycopg

from ivr.adapters.postgres.database import Connection, Database, open_database
from ivr.adapters.postgres.migrations import migrate
from ivr.adapters.postgres.values import BYTES, utc
from ivr.adapters.storage.codec import decode_detail, encode_detail
from ivr.adapters.storage.schema import Migration
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
                created_at TIMESTAMPTZ NOT NULL, changed_at TIMESTAMPTZ NOT NULL,
                contacts INTEGER NOT NULL, instance TEXT NOT NULL DEFAULT '')""",
            "CREATE INDEX campaign_runs_instance ON campaign_runs (instance)",
            """CREATE TABLE campaign_contacts (
                run_id TEXT NOT NULL, seq INTEGER NOT NULL, contact_id TEXT NOT NULL,
                number TEXT NOT NULL, timezone TEXT, fields TEXT NOT NULL,
                PRIMARY KEY (run_id, contact_id))""",
            """CREATE TABLE campaign_attempts (
                attempt_id TEXT PRIMARY KEY, run_id TEXT NOT NULL, contact_id TEXT NOT NULL,
                n INTEGER NOT NULL, number TEXT NOT NULL, started_at TIMESTAMPTZ NOT NULL,
                outcome TEXT, ended_at TIMESTAMPTZ, disposition TEXT,
                ran_flow BOOLEAN NOT NULL DEFAULT FALSE, detail TEXT NOT NULL DEFAULT '',
                instance TEXT NOT NULL DEFAULT '', UNIQUE (run_id, contact_id, n))""",
            "CREATE INDEX campaign_attempts_open ON campaign_attempts (instance) WHERE outcome IS NULL",
            "CREATE INDEX campaign_attempts_started ON campaign_attempts (started_at)",
            "CREATE INDEX campaign_attempts_number ON campaign_attempts (number, started_at)",
            """CREATE TABLE campaign_skips (
                run_id TEXT NOT NULL, contact_id TEXT NOT NULL, reason TEXT NOT NULL,
                at TIMESTAMPTZ NOT NULL, PRIMARY KEY (run_id, contact_id))""",
            "CREATE INDEX campaign_skips_at ON campaign_skips (at)",
            """CREATE TABLE do_not_call (
                number TEXT PRIMARY KEY, added_at TIMESTAMPTZ NOT NULL, source TEXT NOT NULL)""",
        ],
    ),
    (
        2,
        [
            # each live runner's heartbeat, on the database's clock (instances' clocks may differ)
            """CREATE TABLE campaign_instances (
                instance TEXT PRIMARY KEY, beat_at TIMESTAMPTZ NOT NULL)""",
        ],
    ),
    (
        3,
        [
            # the heartbeat moved to the tenant's `instance_beats` (`ivr.adapters.postgres.peers`),
            # shared by every kind of work a silent peer hands over
            "DROP TABLE campaign_instances",
        ],
    ),
]
_RUN_COLUMNS = "run_id, campaign, state, created_at, contacts"


@asynccontextmanager
async def open_postgres_campaign_store(
    url: str, *, instance: str = "", size: int = 2, schema: str | None = None
) -> AsyncIterator[PostgresCampaignStore]:
    """Open (migrating) the store on `url` for the block; `schema`: the tenant's own (its
    runs and do-not-call list apart from other tenants'), else `public`."""
    async with open_database(url, size=size, name="ivr-campaigns", schema=schema) as db:
        await db.run(lambda conn: migrate(conn, COMPONENT, MIGRATIONS, schema=schema))
        yield PostgresCampaignStore(db, instance)


class PostgresCampaignStore:
    """The `CampaignStore` port. Create with `open_postgres_campaign_store`."""

    def __init__(self, db: Database, instance: str = "") -> None:
        self.db = db
        self.instance = instance

    async def create_run(self, run: CampaignRun, contacts: Sequence[Contact]) -> None:
        created = utc(run.created_at)
        head = (run.run_id, run.campaign, run.state, created, created, len(contacts), self.instance)
        rows = [
            (run.run_id, seq, c.contact_id, c.number, c.timezone, encode_detail(c.fields))
            for seq, c in enumerate(contacts)
        ]

        def apply(c: Connection) -> None:
            c.execute("INSERT INTO campaign_runs VALUES (%s, %s, %s, %s, %s, %s, %s)", head)
            with c.cursor() as cursor:
                cursor.executemany("INSERT INTO campaign_contacts VALUES (%s, %s, %s, %s, %s, %s)", rows)

        await self._write(f"run {run.run_id} exists already (or a contact id repeats)", apply)

    async def add_contacts(self, run_id: str, contacts: Sequence[Contact], at: datetime) -> list[str]:
        rows = [(c.contact_id, c.number, c.timezone, encode_detail(c.fields)) for c in contacts]
        when = utc(at)

        def apply(c: Connection) -> list[str]:
            head = c.execute(
                "SELECT state, (SELECT COALESCE(MAX(seq), -1) FROM campaign_contacts WHERE run_id = %s)"
                " FROM campaign_runs WHERE run_id = %s FOR UPDATE",
                (run_id, run_id),
            ).fetchone()
            if head is None or head[0] == "stopped":
                raise StoreConflict(
                    f"there is no run {run_id}" if head is None else f"run {run_id} is stopped"
                )
            seq, added = int(head[1]), []
            for contact_id, number, timezone, fields in rows:
                inserted = c.execute(
                    "INSERT INTO campaign_contacts VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                    (run_id, seq + 1, contact_id, number, timezone, fields),
                )
                if inserted.rowcount == 1:
                    seq += 1
                    added.append(contact_id)
            if added:
                c.execute(
                    "UPDATE campaign_runs SET contacts = contacts + %s, changed_at = %s,"
                    " state = CASE state WHEN 'completed' THEN 'running' ELSE state END WHERE run_id = %s",
                    (len(added), when, run_id),
                )
            return added

        return await self._write(f"contacts added to run {run_id}", apply)

    async def runs(self) -> list[CampaignRun]:
        """This instance's runs (the ones its runner resumes at start-up and dials)."""
        rows = await self.db.run(
            lambda c: c.execute(
                f"SELECT {_RUN_COLUMNS} FROM campaign_runs WHERE instance = %s"
                f" ORDER BY created_at, run_id {BYTES}",
                (self.instance,),
            ).fetchall()
        )
        return [_run(row) for row in rows]

    async def adopt_runs(self, peer: str, at: datetime | None = None) -> list[str]:
        """Take over the runs of `peer` (found dead): its open attempts are closed as
        "interrupted" and its runs become this instance's, resumed at its next start; the
        run ids. Whoever asks first gets them. (A live runner notices a silent peer by itself:
        `ivr.adapters.postgres.takeover`, on the tenant's `PeerWatch`.)"""
        when = utc(at or datetime.now(UTC))
        return await self._write(
            f"runs of instance {peer!r}", lambda c: claim_runs(c, peer, self.instance, when)
        )

    async def load(self, run_id: str) -> RunRecords | None:
        return await self.db.run(lambda c: _load(c, run_id))

    async def set_state(self, run_id: str, state: RunState, at: datetime) -> None:
        def apply(c: Connection) -> None:
            updated = c.execute(
                "UPDATE campaign_runs SET state = %s, changed_at = %s WHERE run_id = %s",
                (state, utc(at), run_id),
            )
            if updated.rowcount != 1:
                raise StoreConflict(f"there is no run {run_id}")

        await self._write(f"there is no run {run_id}", apply)

    async def begin_attempt(self, attempt: Attempt) -> None:
        row = (
            attempt.attempt_id,
            attempt.run_id,
            attempt.contact_id,
            attempt.n,
            attempt.number,
            utc(attempt.started_at),
            self.instance,
        )

        def apply(c: Connection) -> None:
            owner = c.execute(
                "SELECT instance FROM campaign_runs WHERE run_id = %s FOR SHARE", (attempt.run_id,)
            ).fetchone()
            if owner is None:
                raise StoreConflict(f"there is no run {attempt.run_id}")
            if owner[0] != self.instance:  # taken over while this instance was silent
                raise StoreConflict(f"run {attempt.run_id} belongs to instance {owner[0]!r} now")
            c.execute(
                "INSERT INTO campaign_attempts (attempt_id, run_id, contact_id, n, number, started_at,"
                " instance) VALUES (%s, %s, %s, %s, %s, %s, %s)",
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
        values = (outcome, utc(at), disposition, ran_flow, detail, attempt_id)

        def apply(c: Connection) -> None:
            updated = c.execute(
                "UPDATE campaign_attempts SET outcome = %s, ended_at = %s, disposition = %s,"
                " ran_flow = %s, detail = %s WHERE attempt_id = %s AND outcome IS NULL",
                values,
            )
            if updated.rowcount != 1:
                raise StoreConflict(f"attempt {attempt_id} is not open")

        await self._write(f"attempt {attempt_id} is not open", apply)

    async def skip(self, skip: Skip) -> None:
        row = (skip.run_id, skip.contact_id, skip.reason, utc(skip.at))
        await self._write(
            f"contact {skip.contact_id} of run {skip.run_id} was skipped already",
            lambda c: c.execute(
                "INSERT INTO campaign_skips VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING", row
            ),
        )

    async def recover(self, at: datetime) -> list[str]:
        """Close this instance's attempts left open as "interrupted"; their ids."""
        return await self.recover_instance(self.instance, at)

    async def recover_instance(self, instance: str, at: datetime | None = None) -> list[str]:
        """Close the attempts `instance` left open (at start-up: this one; a dead peer's:
        whoever notices); their ids. Each is closed once, however many try together."""
        when = utc(at or datetime.now(UTC))
        return await self._write(
            "recovery of open attempts", lambda c: _close_open_attempts(c, instance, when)
        )

    async def add_do_not_call(self, number: str, at: datetime, *, source: str) -> None:
        row = (number, utc(at), source)
        await self._write(
            f"do-not-call entry {number}",
            lambda c: c.execute("INSERT INTO do_not_call VALUES (%s, %s, %s) ON CONFLICT DO NOTHING", row),
        )

    async def do_not_call(self) -> set[str]:
        rows = await self.db.run(lambda c: c.execute("SELECT number FROM do_not_call").fetchall())
        return {str(row[0]) for row in rows}

    async def _write(self, conflict: str, apply: Callable[[Connection], T]) -> T:
        try:
            return await self.db.run(apply)
        except psycopg.errors.IntegrityError as exc:
            raise StoreConflict(conflict) from exc


def claim_runs(c: Connection, peer: str, me: str, when: datetime) -> list[str]:
    """In a transaction: close `peer`'s open attempts as "interrupted" and make its runs
    `me`'s; the run ids."""
    _close_open_attempts(c, peer, when)
    rows = c.execute(
        "UPDATE campaign_runs SET instance = %s WHERE instance = %s RETURNING run_id", (me, peer)
    ).fetchall()
    return sorted(str(row[0]) for row in rows)


def _close_open_attempts(c: Connection, instance: str, when: datetime) -> list[str]:
    rows = c.execute(
        "UPDATE campaign_attempts SET outcome = 'interrupted', ended_at = %s,"
        " detail = 'found open at start-up' WHERE outcome IS NULL AND instance = %s RETURNING attempt_id",
        (when, instance),
    ).fetchall()
    return sorted(str(row[0]) for row in rows)


def _run(row: tuple[Any, ...]) -> CampaignRun:
    run_id, campaign, state, created_at, contacts = row
    return CampaignRun(run_id, campaign, cast(RunState, state), created_at, int(contacts))


def _load(c: Connection, run_id: str) -> RunRecords | None:
    head = c.execute(f"SELECT {_RUN_COLUMNS} FROM campaign_runs WHERE run_id = %s", (run_id,)).fetchone()
    if head is None:
        return None
    contacts = tuple(
        Contact(contact_id, number, decode_detail(fields), timezone)
        for contact_id, number, timezone, fields in c.execute(
            "SELECT contact_id, number, timezone, fields FROM campaign_contacts"
            " WHERE run_id = %s ORDER BY seq",
            (run_id,),
        )
    )
    rows = c.execute(
        "SELECT attempt_id, contact_id, n, number, started_at, outcome, ended_at, disposition, ran_flow,"
        f" detail FROM campaign_attempts WHERE run_id = %s ORDER BY started_at, contact_id {BYTES}, n",
        (run_id,),
    ).fetchall()
    attempts = tuple(_attempt(run_id, row) for row in rows)
    skips = tuple(
        Skip(run_id, contact_id, cast(SkipReason, reason), at)
        for contact_id, reason, at in c.execute(
            "SELECT contact_id, reason, at FROM campaign_skips"
            f" WHERE run_id = %s ORDER BY at, contact_id {BYTES}",
            (run_id,),
        )
    )
    return RunRecords(_run(head), contacts, attempts, skips)


def _attempt(run_id: str, row: tuple[Any, ...]) -> Attempt:
    attempt_id, contact_id, n, number, started, outcome, ended, disposition, ran_flow, detail = row
    return Attempt(
        attempt_id,
        run_id,
        contact_id,
        int(n),
        number,
        started,
        cast(AttemptOutcome | None, outcome),
        ended,
        disposition,
        detail,
        bool(ran_flow),
    )


def _implements_the_port(store: PostgresCampaignStore) -> CampaignStore:
    return store  # mypy checks here that the class satisfies the runtime's port
