"""Outbound calling in `ivr serve`: trunks, the campaign store, the dialer and the runner,
opened together beside the SIP endpoint, with the HTTP routes and metrics of campaigns.

Place: called by the composition root (`ivr.adapters.hosting.server`) for the tenant whose
service file declares trunks; answered calls run the tenant's current version's flows
(`TenantFlows`). It reads each trunk's password from the environment variable the trunk
names (never from a file), yields to inbound calls through `AdmissionLoad` (calls up, how
fast they are rising, the server's overload state), and shuts down in order: the runner
(attempts up are hung up, and found open at the next start), the trunks (unregistered),
the store.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import trio
from prometheus_client import CollectorRegistry

from ivr.adapters.dialer.contacts import (
    ContactListError,
    clean_number,
    contacts_from_rows,
    keyed_contacts_from_rows,
    load_contacts,
    rows_of_csv,
)
from ivr.adapters.dialer.follow import follow
from ivr.adapters.dialer.metrics import CampaignCollector
from ivr.adapters.dialer.sip import SipDialer, TrunkLimits
from ivr.adapters.errors import ConfigError
from ivr.adapters.hosting.stores import open_campaign_store
from ivr.adapters.hosting.tenants import Tenant
from ivr.adapters.postgres.campaigns import PostgresCampaignStore
from ivr.adapters.postgres.peers import PeerWatch
from ivr.adapters.postgres.takeover import CampaignAdopter, follow_do_not_call
from ivr.adapters.sip.leg import PromptRenderer
from ivr.adapters.sip.pjthread import SipEndpoint
from ivr.adapters.sip.pjtrunks import TrunkSettings, open_trunks
from ivr.adapters.storage.campaigns import open_sqlite_campaign_store
from ivr.flowlang.ir import Project, TrunkDecl
from ivr.runtime.campaigns.model import Attempt, Progress
from ivr.runtime.campaigns.runner import Added, CampaignError, CampaignRunner, FlowRunner, open_campaigns
from ivr.runtime.context import SystemClock
from ivr.runtime.engine import CallOutcome
from ivr.runtime.ports import CallLeg, CampaignStore, MessageChannels, OutboundCall

log = logging.getLogger(__name__)
SAMPLE_EVERY = 0.25
RISE_WINDOW = 2.0  # seconds over which a rise of inbound calls counts as their arrival rate


def trunk_settings(decl: TrunkDecl, env: Mapping[str, str]) -> TrunkSettings:
    """The SIP adapter's view of a trunk; its password from the environment variable the
    service file names (`ConfigError` when that variable is not set)."""
    password, username, realm = "", "", "*"
    if decl.auth is not None:
        username, realm = decl.auth.username, decl.auth.realm
        password = env.get(decl.auth.password_env, "")
        if not password:
            raise ConfigError(
                f"trunk {decl.name}: set the environment variable {decl.auth.password_env} to its "
                f"password (the service file names the variable, never the password)"
            )
    return TrunkSettings(
        decl.name,
        decl.gateway,
        decl.transport,
        decl.caller_id,
        username,
        password,
        realm,
        decl.register,
        int(decl.register_expires),
    )


class AdmissionLoad:
    """The inbound side the dialer yields to, read from the server's admission counters:
    calls up now, their recent rise (calls/s over `RISE_WINDOW`), and overload."""

    def __init__(self, active: Callable[[], int], overloaded: Callable[[], bool]) -> None:
        self._active = active
        self._overloaded = overloaded
        self._samples: deque[tuple[float, int]] = deque()

    def inbound_calls(self) -> int:
        return self._active()

    def overloaded(self) -> bool:
        return self._overloaded()

    def inbound_per_second(self) -> float:
        if len(self._samples) < 2:
            return 0.0
        (t0, n0), (t1, n1) = self._samples[0], self._samples[-1]
        return max(0.0, (n1 - n0) / (t1 - t0)) if t1 > t0 else 0.0

    def sample(self, now: float) -> None:
        self._samples.append((now, self._active()))
        while self._samples and now - self._samples[0][0] > RISE_WINDOW:
            self._samples.popleft()

    async def run(self) -> None:
        while True:
            self.sample(time.monotonic())
            await trio.sleep(SAMPLE_EVERY)


@dataclass
class Outbound:
    """The outbound side of a running server (implements the HTTP routes' `CampaignControl`)."""

    project: Project
    runner: CampaignRunner
    store: CampaignStore
    dialer: SipDialer
    registry: CollectorRegistry  # the campaign metrics alone (GET /campaigns/metrics)
    base_dir: Path
    collector: CampaignCollector  # the same, for the server's /metrics registry

    def overview(self) -> dict[str, object]:
        service = self.project.service
        campaigns = {
            name: {"flow": d.flow, "trunk": d.trunk, "max_concurrent": d.max_concurrent}
            for name, d in (service.campaigns.items() if service else ())
        }
        trunks = {
            name: {"outbound": n, "free": self.dialer.free_channels(name)}
            for name, n in self.dialer.outbound.items()
        }
        runs = [p.as_json() for p in self.runner.all_progress()]
        return {
            "campaigns": campaigns,
            "trunks": trunks,
            "runs": runs,
            "do_not_call": len(self.runner.do_not_call),
        }

    async def create_run(self, campaign: str, run_id: str | None, csv_text: str | None) -> Progress:
        decl = self.runner.definitions.get(campaign)
        if decl is None:
            known = ", ".join(self.runner.definitions) or "none declared"
            raise CampaignError(f"there is no campaign {campaign!r} in the service file ({known})")
        flow = self.project.flows.get(decl.flow)
        if csv_text is None:
            contacts = await load_contacts(decl, flow, self.base_dir)
        else:
            rows = await trio.to_thread.run_sync(rows_of_csv, csv_text, "the uploaded list")
            contacts = contacts_from_rows(rows, decl, flow, "the uploaded list")
        run = await self.runner.create(campaign, contacts, run_id)
        return self.runner.progress(run.run_id)

    async def add_contacts(self, run_id: str, csv_text: str) -> Added:
        core = self.runner.cores.get(run_id)
        if core is None:
            raise CampaignError(f"there is no run {run_id!r}")
        flow = self.project.flows.get(core.decl.flow)
        rows = await trio.to_thread.run_sync(rows_of_csv, csv_text, "the added contacts")
        contacts = keyed_contacts_from_rows(rows, core.decl, flow, "the added contacts")
        return await self.runner.add(run_id, contacts)

    def progress(self, run_id: str) -> Progress:
        return self.runner.progress(run_id)

    async def control(self, run_id: str, action: str) -> Progress:
        if action not in ("start", "pause", "resume", "stop"):
            raise CampaignError(f"no action {action!r}")
        return await self.runner.control(run_id, action)  # type: ignore[arg-type]

    async def attempts(self, run_id: str) -> list[Attempt]:
        records = await self.store.load(run_id)
        if records is None:
            raise CampaignError(f"there is no run {run_id!r}")
        return list(records.attempts)

    async def add_do_not_call(self, number: str) -> bool:
        cleaned = clean_number(number)
        if cleaned is None:
            return False
        await self.store.add_do_not_call(cleaned, datetime.now(UTC), source="api")
        self.runner.do_not_call.add(cleaned)
        return True

    def do_not_call_count(self) -> int:
        return len(self.runner.do_not_call)


class TenantFlows:
    """Runs an answered outbound call's flow on the tenant's current version (the one new
    inbound calls get too), holding that version for the call like an inbound call does,
    so publishing a version mid-call never closes what the call uses."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant

    async def run_call(self, leg: CallLeg, flow: str, *, outbound: OutboundCall | None = None) -> CallOutcome:
        version = self.tenant.current
        if version is None or self.tenant.state != "serving":
            raise CampaignError(f"tenant {self.tenant.name} is {self.tenant.state}: its flows cannot run")
        self.tenant.begin(version, overflow=False)
        try:
            return await version.engine.run_call(leg, flow, outbound=outbound)
        finally:
            self.tenant.end(version, overflow=False)


@asynccontextmanager
async def open_tenant_outbound(
    tenants: Sequence[Tenant],
    endpoint: SipEndpoint,
    inbound: AdmissionLoad,
    capacity: int,
    *,
    env: Mapping[str, str] | None = None,
) -> AsyncIterator[Outbound | None]:
    """The outbound side of `ivr serve` for the block: for the tenant whose service file
    declares trunks, once it serves (None when no tenant has trunks, or it is unavailable).
    One tenant per server places calls; a second one with trunks is a `ConfigError`."""
    dialling = [t for t in tenants if t.plan.project.service is not None and t.plan.project.service.trunks]
    if len(dialling) > 1:
        names = ", ".join(t.name for t in dialling)
        raise ConfigError(f"tenants {names} all declare trunks: one tenant per server may call out")
    if not dialling:
        yield None
        return
    tenant = dialling[0]
    await tenant.settled.wait()
    if tenant.state != "serving" or tenant.renderer is None:
        log.error("tenant %s is %s: no outbound calls (%s)", tenant.name, tenant.state, tenant.reason)
        yield None
        return
    version = tenant.current
    assert version is not None
    async with open_outbound(
        version.project,
        endpoint,
        TenantFlows(tenant),
        tenant.renderer,
        data_dir=tenant.layout.root,
        inbound=inbound,
        capacity=capacity,
        env=env,
        messages=tenant.messaging.channels if tenant.messaging is not None else None,
        follow_dir=tenant.layout.module_data,
        open_store=partial(open_campaign_store, tenant.shared.config, tenant.name, tenant.layout.root),
        peers=tenant.peers,
    ) as outbound:
        tenant.callback_dialer.plug(outbound.dialer if outbound is not None else None)
        try:
            yield outbound
        finally:
            tenant.callback_dialer.plug(None)


@asynccontextmanager
async def open_outbound(
    project: Project,
    endpoint: SipEndpoint,
    flows: FlowRunner,
    renderer: PromptRenderer,
    *,
    data_dir: Path,
    inbound: AdmissionLoad,
    capacity: int,
    env: Mapping[str, str] | None = None,
    messages: MessageChannels | None = None,
    follow_dir: Path | None = None,
    open_store: Callable[[], AbstractAsyncContextManager[CampaignStore]] | None = None,
    peers: PeerWatch | None = None,
) -> AsyncIterator[Outbound | None]:
    """The outbound side for the block (None when the service declares no trunk).
    `open_store`: opens the campaign store (default `data_dir/campaigns.sqlite3`); on the
    shared database, `peers` (the tenant's heartbeat) hands this runner a silent peer's runs.
    `messages` is the outbox an `sms_fallback` sends through; `follow_dir` the folder a
    followed contact query's relative database is in (default `data_dir`)."""
    service = project.service
    if service is None or not service.trunks:
        yield None
        return
    settings = [trunk_settings(t, os.environ if env is None else env) for t in service.trunks.values()]
    limits = {t.name: TrunkLimits(t.channels, t.reserve, t.caller_id) for t in service.trunks.values()}
    async with (
        (open_store or partial(open_sqlite_campaign_store, data_dir / "campaigns.sqlite3"))() as store,
        open_trunks(endpoint, settings) as trunks,
        trio.open_nursery() as nursery,
    ):
        nursery.start_soon(inbound.run)
        dialer = SipDialer(
            endpoint, trunks, limits, renderer, inbound=inbound, capacity=capacity, work_dir=data_dir / "amd"
        )
        async with open_campaigns(project, store, dialer, flows, SystemClock(), messages=messages) as runner:
            adopter = CampaignAdopter(runner)
            if isinstance(store, PostgresCampaignStore):  # shared: the center's opt-outs, dead peers' runs
                nursery.start_soon(follow_do_not_call, runner, store)
                if peers is not None:
                    peers.add(adopter)
                    peers.ready.set()  # the tenant's outbox and kept places registered before
            for decl in service.campaigns.values():
                if decl.contacts.follow is not None:
                    nursery.start_soon(follow, runner, decl, follow_dir or data_dir)
            collector = CampaignCollector(runner, dialer)
            registry = CollectorRegistry(auto_describe=True)
            registry.register(collector)
            base = Path(service.file).parent
            try:
                yield Outbound(project, runner, store, dialer, registry, base, collector)
            finally:
                if peers is not None:
                    peers.remove(adopter)
                nursery.cancel_scope.cancel()


__all__ = [
    "AdmissionLoad",
    "ContactListError",
    "Outbound",
    "TenantFlows",
    "open_outbound",
    "open_tenant_outbound",
    "trunk_settings",
]
