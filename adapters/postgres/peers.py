"""`PeerWatch`: each instance's heartbeat in a tenant's schema, and the hand-over of a silent
peer's work (its campaign runs, its messages caught mid-send, its kept callback places) to
one live instance.

Place: one per tenant in `ivr serve` with a database URL (`ivr.adapters.hosting.tenants`),
beside the stores it hands work over for; each store that holds work stamped with an
instance registers an `Adopter` (`ivr.adapters.postgres.takeover` for campaign runs,
`ivr.adapters.hosting.handover` for the outbox and the kept places). Every `interval`
seconds the watch:

1. beats: its instance's row in `instance_beats` set to the database's `now()` (one clock
   for all, whatever the machines' clocks say);
2. claims, once claiming is on: in one transaction, `DELETE` the rows of peers silent for
   more than `silent` seconds (`RETURNING` them) and, in the same transaction, each
   adopter's `claim(conn, peer)` moves what the peer held to this instance. The `DELETE` is
   the claim: of two instances noticing together, the second blocks on the row lock, then
   finds the row gone and adopts nothing, so each peer is handed over once, all of its work
   to the same instance, or none of it if the claimer dies mid-transaction (rolled back);
3. after the commit, tells each adopter what it took (`adopted`), so the runner dials the
   runs, the workers send the messages, the ACD calls the places back.

A peer that restarts beats before its stores read back their own work (the watch opens
first), so nobody claims a live instance at its start. Claiming waits for `ready` (the
tenant's adopters all registered): a peer claimed before an adopter was there would leave
that adopter's work with the dead peer for good.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Protocol

import psycopg
import trio

from ivr.adapters.errors import AdapterError
from ivr.adapters.postgres.database import Connection, Database
from ivr.adapters.postgres.migrations import migrate
from ivr.adapters.storage.schema import Migration

log = logging.getLogger(__name__)
COMPONENT = "peers"
INTERVAL = 1.0
SILENT = 10.0
MIGRATIONS: list[Migration] = [
    (1, ["CREATE TABLE instance_beats (instance TEXT PRIMARY KEY, beat_at TIMESTAMPTZ NOT NULL)"]),
]


class Adopter(Protocol):
    """Work of one kind stamped with an instance, handed over when that instance is silent."""

    name: str

    def claim(self, conn: Connection, peer: str, me: str, at: datetime) -> Sequence[str]:
        """In the claim's transaction (a worker thread): make `peer`'s work `me`'s; its ids."""
        ...

    async def adopted(self, peer: str, ids: Sequence[str]) -> None:
        """After the commit: start doing the work taken (`ids` may be empty)."""
        ...


Handed = dict[str, dict[str, list[str]]]
"""What one beat took: by silent peer, by adopter name, the ids."""


@asynccontextmanager
async def open_peer_watch(
    url: str,
    *,
    instance: str,
    schema: str | None,
    interval: float = INTERVAL,
    silent: float = SILENT,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> AsyncIterator[PeerWatch]:
    """The watch on `url` (its table migrated in `schema`, this instance beating already)
    for the block; run `watch.run` in a nursery to keep beating. `clock`: the time written
    on what a hand-over closes (attempts cut off, messages settled)."""
    db = Database(url, size=1, name="ivr-peers", schema=schema)
    try:
        await db.run(lambda conn: migrate(conn, COMPONENT, MIGRATIONS, schema=schema))
        watch = PeerWatch(db, instance, interval=interval, silent=silent, clock=clock)
        await watch.beat()
        yield watch
    finally:
        with trio.CancelScope(shield=True):
            await db.close()


class PeerWatch:
    """Create with `open_peer_watch`; `add` adopters, `ready.set()`, then `run`."""

    def __init__(
        self,
        db: Database,
        instance: str,
        *,
        interval: float = INTERVAL,
        silent: float = SILENT,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.db, self.instance = db, instance
        self.interval, self.silent, self.clock = interval, silent, clock
        self.adopters: list[Adopter] = []
        self.ready = trio.Event()  # set once every adopter of this tenant is registered

    def add(self, adopter: Adopter) -> None:
        self.adopters.append(adopter)

    def remove(self, adopter: Adopter) -> None:
        if adopter in self.adopters:
            self.adopters.remove(adopter)

    async def run(self) -> None:
        """Beat (and claim, once `ready`) every `interval` seconds until cancelled; a database
        out of reach is logged and tried again at the next beat."""
        while True:
            try:
                await self.beat_once()
            except (AdapterError, psycopg.Error, OSError) as exc:
                log.warning("instance heartbeat failed: %s", exc)
            await trio.sleep(self.interval)

    async def beat(self) -> None:
        await self.db.run(lambda c: _beat(c, self.instance))

    async def beat_once(self) -> Handed:
        """One beat; what was taken from silent peers (nothing before `ready`)."""
        if not self.ready.is_set():
            await self.beat()
            return {}
        adopters = list(self.adopters)
        at = self.clock()
        handed = await self.db.run(lambda c: self._claim(c, adopters, at))
        for peer, taken in handed.items():
            counts = ", ".join(f"{len(ids)} {name}" for name, ids in taken.items())
            log.warning("instance %s is silent: its work continues here (%s)", peer, counts or "nothing")
            for adopter in adopters:
                await adopter.adopted(peer, taken.get(adopter.name, []))
        return handed

    def _claim(self, c: Connection, adopters: Sequence[Adopter], at: datetime) -> Handed:
        _beat(c, self.instance)
        peers = c.execute(
            "DELETE FROM instance_beats WHERE instance <> %s"
            " AND beat_at < now() - make_interval(secs => %s) RETURNING instance",
            (self.instance, self.silent),
        ).fetchall()
        return {
            str(peer): {a.name: list(a.claim(c, str(peer), self.instance, at)) for a in adopters}
            for (peer,) in peers
        }


def _beat(c: Connection, instance: str) -> None:
    c.execute(
        "INSERT INTO instance_beats VALUES (%s, now()) ON CONFLICT (instance) DO UPDATE SET beat_at = now()",
        (instance,),
    )
