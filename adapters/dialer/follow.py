"""Standing runs fed by a query: a campaign whose `contacts:` has `follow: 5s` keeps one run
(named after the campaign) that re-reads its SQL query every so often and adds each row it
has not seen, named by the row's `key` column.

Place: started by `open_outbound` beside the campaign runner, one task per followed
campaign. The rows are written by whoever raises the calls (the brokerage's matching
simulator writes `order_notifications` in the transaction of each fill); adding is
idempotent by key (`CampaignRunner.add`), so a row read again, a restart or a crash
between a read and an add never calls anyone twice, and nothing committed is missed.

On a shared database (docs/cluster.md) the standing run belongs to the instance that
created it, and only that one follows the query.

A relative `database:` of a followed list is in the tenant's module data folder (where a
tenant module such as the brokerage keeps its database), not beside the service file. A
query that fails (the database not created yet) is logged once and tried again.
"""

from __future__ import annotations

import logging
from pathlib import Path

import trio

from ivr.adapters.dialer.contacts import ContactListError, keyed_contacts_from_rows, query_rows
from ivr.flowlang.ir import CampaignDecl, Flow
from ivr.runtime.campaigns.model import Contact
from ivr.runtime.campaigns.runner import CampaignError, CampaignRunner
from ivr.runtime.ports import StoreConflict

log = logging.getLogger(__name__)


async def standing_run(runner: CampaignRunner, decl: CampaignDecl) -> str:
    """The campaign's standing run (its id is the campaign's name), created and started
    if it is new; a run an operator paused or stopped is left so."""
    run_id = decl.name
    if run_id not in runner.cores:
        await runner.create(decl.name, [], run_id)
    if runner.cores[run_id].state == "created":
        await runner.control(run_id, "start")
    return run_id


async def read_rows(decl: CampaignDecl, flow: Flow | None, folder: Path) -> list[Contact]:
    """The followed query's rows now, as keyed contacts."""
    key = decl.contacts.key
    assert key is not None
    rows = await query_rows(decl, folder)
    return keyed_contacts_from_rows(rows, decl, flow, f"campaign {decl.name}'s query", key)


async def follow(runner: CampaignRunner, decl: CampaignDecl, folder: Path) -> None:
    """Feed the campaign's standing run from its query every `follow` seconds, forever.
    On a database several instances share, the run is another instance's when that one
    created it first (`StoreConflict`): then this instance leaves the following to it."""
    assert decl.contacts.follow is not None
    try:
        run_id = await standing_run(runner, decl)
    except StoreConflict:
        log.info("campaign %s: its standing run is another instance's; that one follows it", decl.name)
        return
    last_problem = ""
    while True:
        try:
            await feed_once(runner, decl, folder, run_id)
            last_problem = ""
        except (ContactListError, CampaignError) as exc:
            if str(exc) != last_problem:
                log.warning("campaign %s: cannot follow its contacts yet: %s", decl.name, exc)
                last_problem = str(exc)
        await trio.sleep(float(decl.contacts.follow))


async def feed_once(runner: CampaignRunner, decl: CampaignDecl, folder: Path, run_id: str) -> int:
    """One read of the query: the rows the run has not seen are added; how many."""
    core = runner.cores[run_id]
    rows = await read_rows(decl, runner.project.flows.get(decl.flow), folder)
    fresh = [c for c in rows if not core.has_contact(c.contact_id)]
    if not fresh:
        return 0
    added = await runner.add(run_id, fresh)
    if added.added:
        log.info("campaign %s: %d new contact(s) from its query", decl.name, len(added.added))
    return len(added.added)
