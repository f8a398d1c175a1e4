"""`PostgresCallbackJournal`: the ACD's `CallbackJournal` port on PostgreSQL.

Place: what `ivr.adapters.storage.callbacks` is on one server's file, on the database the
instances share (docs/cluster.md); the same contract (`tests/adapters/test_callback_journal.py`).
`keep` commits before it returns, so a place the caller was told is kept survives the
instance. Each place belongs to the instance whose caller pressed the key: `pending` (what
that instance's ACD calls back at start-up) lists its own open places only, so two
instances never call one customer back twice; `adopt(peer)` takes over the open places of
a dead peer, once, whoever asks first (`claim_places`, which a live instance's
`ivr.adapters.postgres.peers.PeerWatch` runs when the peer goes silent). Reports count
steps with `step_counts`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from ivr.adapters.postgres.database import Connection, Database, open_database
from ivr.adapters.postgres.migrations import migrate
from ivr.adapters.postgres.values import utc
from ivr.adapters.storage.codec import decode_detail, encode_detail
from ivr.adapters.storage.schema import Migration
from ivr.runtime.ports import CallbackJournal, CallbackStep, KeptPlace, StoreConflict

COMPONENT = "acd_callbacks"
MIGRATIONS: list[Migration] = [
    (
        1,
        [
            """CREATE TABLE kept_places (
                seq BIGSERIAL UNIQUE, call_id TEXT PRIMARY KEY, queue TEXT NOT NULL,
                skills TEXT NOT NULL, priority INTEGER NOT NULL, number TEXT NOT NULL,
                accepted_at TIMESTAMPTZ NOT NULL, screen TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0, closed_at TIMESTAMPTZ,
                instance TEXT NOT NULL DEFAULT '')""",
            "CREATE INDEX kept_places_open ON kept_places (instance, accepted_at) WHERE closed_at IS NULL",
            """CREATE TABLE callback_steps (
                id BIGSERIAL PRIMARY KEY, call_id TEXT NOT NULL, step TEXT NOT NULL,
                at TIMESTAMPTZ NOT NULL, detail TEXT NOT NULL)""",
            "CREATE INDEX callback_steps_at ON callback_steps (at)",
        ],
    ),
]
CLOSING = ("connected", "hung_up", "gave_up")


@asynccontextmanager
async def open_postgres_callback_journal(
    url: str, *, instance: str = "", schema: str | None = None
) -> AsyncIterator[PostgresCallbackJournal]:
    """The journal on `url` (migrated; `schema`: a tenant's own) for the block."""
    async with open_database(url, size=1, name="ivr-callbacks", schema=schema) as db:
        await db.run(lambda conn: migrate(conn, COMPONENT, MIGRATIONS, schema=schema))
        yield PostgresCallbackJournal(db, instance)


class PostgresCallbackJournal:
    """Create with `open_postgres_callback_journal`."""

    def __init__(self, db: Database, instance: str = "") -> None:
        self.db = db
        self.instance = instance

    async def keep(self, place: KeptPlace) -> None:
        row = (
            place.call_id,
            place.queue,
            json.dumps(list(place.skills)),
            place.priority,
            place.number,
            utc(place.accepted_at),
            encode_detail(place.screen),
            place.attempts,
            self.instance,
        )
        await self.db.run(
            lambda c: c.execute(
                "INSERT INTO kept_places (call_id, queue, skills, priority, number, accepted_at, screen,"
                " attempts, instance) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (call_id) DO UPDATE SET queue = excluded.queue, skills = excluded.skills,"
                " priority = excluded.priority, number = excluded.number,"
                " accepted_at = excluded.accepted_at, screen = excluded.screen,"
                " attempts = excluded.attempts, instance = excluded.instance, closed_at = NULL",
                row,
            )
        )

    async def step(self, call_id: str, step: CallbackStep, at: datetime, detail: str = "") -> None:
        """Journal a step; `StoreConflict` for "dialled" when the place is another
        instance's now (taken over while this one was silent): nobody is dialled twice."""
        await self.db.run(lambda c: _step(c, call_id, step, utc(at), detail, self.instance))

    async def pending(self) -> list[KeptPlace]:
        """This instance's places not yet closed, oldest first."""
        rows = await self.db.run(
            lambda c: c.execute(
                "SELECT call_id, queue, skills, priority, number, accepted_at, screen, attempts"
                " FROM kept_places WHERE closed_at IS NULL AND instance = %s ORDER BY accepted_at, seq",
                (self.instance,),
            ).fetchall()
        )
        return [
            KeptPlace(
                call_id, queue, json.loads(skills), priority, number, at, decode_detail(screen), attempts
            )
            for call_id, queue, skills, priority, number, at, screen, attempts in rows
        ]

    async def adopt(self, peer: str) -> list[str]:
        """Make the open places of `peer` (found dead) this instance's; their call ids."""
        return await self.db.run(lambda c: claim_places(c, peer, self.instance))

    async def step_counts(self, since: datetime, until: datetime) -> dict[str, int]:
        """How many times each step happened in [since, until), of every instance."""
        rows = await self.db.run(
            lambda c: c.execute(
                "SELECT step, count(*) FROM callback_steps WHERE at >= %s AND at < %s GROUP BY step",
                (utc(since), utc(until)),
            ).fetchall()
        )
        return {str(step): int(count) for step, count in rows}


def claim_places(c: Connection, peer: str, me: str) -> list[str]:
    """In a transaction: make `peer`'s open places `me`'s; their call ids, oldest first."""
    rows = c.execute(
        "UPDATE kept_places SET instance = %s WHERE instance = %s AND closed_at IS NULL"
        " RETURNING call_id, seq",
        (me, peer),
    ).fetchall()
    return [str(call_id) for call_id, _ in sorted(rows, key=lambda row: int(row[1]))]


def _step(c: Connection, call_id: str, step: str, at: datetime, detail: str, me: str) -> None:
    if step == "dialled":
        query = "SELECT instance FROM kept_places WHERE call_id = %s FOR UPDATE"
        owner = c.execute(query, (call_id,)).fetchone()
        if owner is not None and owner[0] != me:
            raise StoreConflict(f"kept place {call_id} belongs to instance {owner[0]!r} now")
    c.execute(
        "INSERT INTO callback_steps (call_id, step, at, detail) VALUES (%s, %s, %s, %s)",
        (call_id, step, at, detail),
    )
    if step == "dialled":
        c.execute("UPDATE kept_places SET attempts = attempts + 1 WHERE call_id = %s", (call_id,))
    if step in CLOSING:
        c.execute(
            "UPDATE kept_places SET closed_at = %s WHERE call_id = %s AND closed_at IS NULL", (at, call_id)
        )


def _implements_the_port(journal: PostgresCallbackJournal) -> CallbackJournal:
    return journal  # mypy checks here that the class satisfies the runtime's port
