"""Campaigns continue from another instance: a live runner adopts a dead peer's runs.

Place: beside `ivr.runtime.campaigns.runner` in `ivr serve` when the campaigns are in
PostgreSQL (`ivr.adapters.dialer.hosting`). Every `interval` seconds each instance's
runner, through its `PostgresCampaignStore`:

1. heartbeats its instance (`campaign_instances`, on the database's clock);
2. adopts the runs of every peer whose heartbeat is older than `silent` seconds, in one
   transaction that deletes the peer's heartbeat row first, so of two live instances
   racing exactly one adopts (the other's DELETE finds nothing), the peer's open attempts
   closed as "interrupted"; the runner then drives the adopted runs (`take_over`);
3. re-reads the do-not-call list, so an opt-out stored by any instance reaches this
   instance's running campaigns within `interval` seconds (a cheap periodic re-read, not
   LISTEN/NOTIFY: no connection held open per tenant, and it heals by itself after a
   reconnection).

A peer that was only stalled longer than `silent` and comes back finds its runs gone from
`runs()` at its next restart; until then both could dial a run, so `silent` is many
intervals (default 10 s against 1 s).
"""

from __future__ import annotations

import logging

import psycopg
import trio

from ivr.adapters.errors import AdapterError
from ivr.adapters.postgres.campaigns import PostgresCampaignStore
from ivr.runtime.campaigns.runner import CampaignRunner

log = logging.getLogger(__name__)
INTERVAL = 1.0
SILENT = 10.0


async def watch_peers(
    runner: CampaignRunner,
    store: PostgresCampaignStore,
    *,
    interval: float = INTERVAL,
    silent: float = SILENT,
) -> None:
    """Heartbeat, adopt silent peers' runs and refresh the do-not-call list until cancelled."""
    while True:
        try:
            await beat_once(runner, store, silent=silent)
        except (AdapterError, psycopg.Error, OSError) as exc:  # out of reach: again next beat
            log.warning("campaign heartbeat failed: %s", exc)
        await trio.sleep(interval)


async def beat_once(runner: CampaignRunner, store: PostgresCampaignStore, *, silent: float) -> list[str]:
    """One beat; the run ids taken over from silent peers."""
    await store.heartbeat()
    taken: list[str] = []
    for peer, run_ids in (await store.adopt_silent_peers(silent, runner.clock.now())).items():
        log.warning("instance %s is silent: %d campaign run(s) continue here", peer, len(run_ids))
        taken += await runner.take_over(run_ids)
    if added := runner.refresh_do_not_call(await store.do_not_call()):
        log.info("%d do-not-call number(s) added by other instances", added)
    return taken
