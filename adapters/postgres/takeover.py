"""Campaigns continue from another instance: a live runner adopts a dead peer's runs.

Place: beside `ivr.runtime.campaigns.runner` in `ivr serve` when the campaigns are in
PostgreSQL (`ivr.adapters.dialer.hosting`). The tenant's `PeerWatch`
(`ivr.adapters.postgres.peers`: one heartbeat per instance and tenant, for every kind of
work) finds a peer silent for more than `silent` seconds and, in its claim's transaction,
`CampaignAdopter.claim` closes the peer's open attempts as "interrupted" and makes its runs
this instance's; after the commit the runner drives them (`take_over`), rebuilt from the
store as at a restart. Of two live instances racing, exactly one adopts.

`follow_do_not_call` re-reads the do-not-call list every `interval` seconds, so an opt-out
stored by any instance reaches this instance's running campaigns within it (a cheap
periodic re-read, not LISTEN/NOTIFY: no connection held open per tenant, and it heals by
itself after a reconnection).

A peer that was only stalled longer than `silent` and comes back finds its runs taken: the
store refuses its next attempt and outcome of such a run, and its runner stops driving it
(docs/cluster.md).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

import psycopg
import trio

from ivr.adapters.errors import AdapterError
from ivr.adapters.postgres.campaigns import PostgresCampaignStore, claim_runs
from ivr.adapters.postgres.database import Connection
from ivr.runtime.campaigns.runner import CampaignRunner

log = logging.getLogger(__name__)
INTERVAL = 1.0


class CampaignAdopter:
    """The `Adopter` of campaign runs (`ivr.adapters.postgres.peers`)."""

    name = "campaign runs"

    def __init__(self, runner: CampaignRunner) -> None:
        self.runner = runner
        self.taken: list[str] = []  # the runs driven here after a hand-over

    def claim(self, conn: Connection, peer: str, me: str, at: datetime) -> Sequence[str]:
        return claim_runs(conn, peer, me, at)

    async def adopted(self, peer: str, ids: Sequence[str]) -> None:
        if ids:
            log.warning("instance %s is silent: %d campaign run(s) continue here", peer, len(ids))
            self.taken += await self.runner.take_over(ids)


async def follow_do_not_call(
    runner: CampaignRunner, store: PostgresCampaignStore, *, interval: float = INTERVAL
) -> None:
    """Refresh the runner's do-not-call list from the store every `interval` until cancelled."""
    while True:
        try:
            if added := runner.refresh_do_not_call(await store.do_not_call()):
                log.info("%d do-not-call number(s) added by other instances", added)
        except (AdapterError, psycopg.Error, OSError) as exc:  # out of reach: again next time
            log.warning("the do-not-call list could not be read: %s", exc)
        await trio.sleep(interval)
