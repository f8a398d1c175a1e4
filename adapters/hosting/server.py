"""`serve(config, plan)`: the composition root of a hosted runtime process.

Place: the outermost layer; `ivr serve` calls it after planning and checking the tenants
(`ivr.adapters.hosting.plan`: a hosting file's tenants, or one flows folder). It wires,
inside one trio run:

    SIGINT/SIGTERM ─► drain ─► cancel ─► close everything, in this order
    pjsua2 endpoint (its thread; SIP on UDP and TCP) ─► CallSupervisor (admission by number:
        tenant, seats) ─► the tenant's current version's Engine ─► its ports: data operations
        (the tenant's module), outbox, agent routing (the tenant's ACD, or NoAgents), call
        records (one SQLite store, or PostgreSQL shared by instances: `stores.py`; each call
        stamped with tenant, version and instance, tapped for the live view)
    each tenant (`Tenant.run`): its module's start/tasks/stop, its agents (ACD, desktop),
        its versions; a failing tenant is unavailable alone
    hypercorn (trio worker) ─► Starlette: /health /metrics /calls /tenants /usage ... and
        each tenant's agent desktop (/desktop/ for a folder; /tenants/<name>/desktop/ hosted)
    outbound (`ivr.adapters.dialer.hosting`), for the tenant whose service declares trunks:
        its trunks on the same endpoint, the campaign store, the dialer (yielding channels to
        inbound calls the admission takes, idle while overloaded), the campaign runner
        running flows on the tenant's current version; /campaigns routes, metrics

Shutdown: the first signal stops taking calls (503), lets the calls in progress finish for
up to `drain_seconds`, then cancels the rest (recorded as "interrupted" by the engine and
hung up); a second signal skips the wait. Then the tenants stop (their modules' `stop`),
HTTP stops, pjsua2 is destroyed in its own thread, and the record store is flushed and
closed, so the next start finds no open call.
"""

from __future__ import annotations

import logging
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve as hypercorn_serve
from starlette.routing import BaseRoute

from ivr.adapters.cti import AccountsError, load_agents_file
from ivr.adapters.cti.orders import check_order_form
from ivr.adapters.dialer.hosting import AdmissionLoad, Outbound, open_tenant_outbound
from ivr.adapters.dialer.http import campaign_routes
from ivr.adapters.errors import ConfigError
from ivr.adapters.hosting.admission import Admission, usable_capacity, warn_if_small_build
from ivr.adapters.hosting.auth import Tokens
from ivr.adapters.hosting.chat import ChatGate
from ivr.adapters.hosting.config import HostingConfig
from ivr.adapters.hosting.http import HttpApi
from ivr.adapters.hosting.http_guard import guard_connections
from ivr.adapters.hosting.layout import TenantLayout
from ivr.adapters.hosting.live import LiveCalls, TappedRecords
from ivr.adapters.hosting.metrics import Metrics
from ivr.adapters.hosting.overload import LoadMonitor, OverloadLimits
from ivr.adapters.hosting.plan import HostingPlan, TenantPlan
from ivr.adapters.hosting.publishing import Publisher
from ivr.adapters.hosting.queues import hold_music
from ivr.adapters.hosting.resilient import ResilientRecords
from ivr.adapters.hosting.stores import open_record_store, open_version_stores, records_place
from ivr.adapters.hosting.supervisor import HANGUP_GRACE, CallSettings, CallSupervisor
from ivr.adapters.hosting.tenants import FOLDER_VERSION, RunningCampaigns, Shared, Tenant
from ivr.adapters.hosting.versions import Versions
from ivr.adapters.sip.limits import compiled_max_calls
from ivr.adapters.sip.pjthread import SipConfig, SipEndpoint, open_sip_endpoint
from ivr.flowlang.ir import Project

log = logging.getLogger(__name__)
Mounts = Callable[["Hosted"], Sequence[BaseRoute]]
_Asgi = Callable[[Any, Any, Any], Awaitable[None]]
First = tuple[str, Path, Project]


@dataclass
class ServerStatus:
    """What /health reports, read live from the admission counters."""

    admission: Admission
    compiled_max_calls: int
    started: float

    @property
    def calls_active(self) -> int:
        return self.admission.active

    @property
    def calls_peak(self) -> int:
        return self.admission.peak

    @property
    def capacity(self) -> int:
        return self.admission.capacity

    @property
    def draining(self) -> bool:
        return self.admission.draining


async def serve(
    config: HostingConfig,
    plan: HostingPlan,
    *,
    announce: Callable[[str], None] | None = None,
    mounts: Mounts | None = None,
) -> int:
    """Run the hosted service until SIGINT/SIGTERM; 0 after a clean shutdown. `mounts` adds
    HTTP routes made from the running tenants (the flow editor, which the command layer
    wires: the adapters do not import the editor)."""
    announce = announce or _print
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        await trio.to_thread.run_sync(lambda: config.data_dir.mkdir(parents=True, exist_ok=True))
        compiled = compiled_max_calls()
        warn_if_small_build(compiled)
        metrics, live = Metrics(), LiveCalls(config.recent_calls)
        limits = overload_limits(config)
        monitor = LoadMonitor(
            limits,
            lambda n: metrics.call_refused("overload", count=n),
            lambda n: metrics.call_refused("capacity", count=n),
        )
        metrics.load = monitor.reading
        sip = SipConfig(
            bind=config.host,
            public_address=config.public_address,
            port=config.sip_port,
            max_calls=compiled,
            tcp=config.sip_tcp,
            rtp_port=config.rtp_port,
            retry_after=config.retry_after,
        )
        music = await _music(config, plan)
        if plan.hosting is None:
            await _check_agents_file(config, plan)  # one service: a bad agents file stops the start
        async with open_record_store(config) as store, trio.open_nursery() as retries:
            if store.recovered_at_open:
                log.warning(
                    "closed %d call(s) left open by the last run as 'interrupted'",
                    len(store.recovered_at_open),
                )
            records = ResilientRecords(store)  # for writing: a backlog while the disk fails
            await retries.start(records.run)
            metrics.records = records
            async with (
                open_sip_endpoint(sip) as endpoint,
                open_tenants(
                    plan,
                    Shared(config, endpoint, store, TappedRecords(records, live, metrics), metrics, music),
                    usable_capacity(config.capacity, compiled),
                    overloaded=lambda: monitor.overloaded,
                ) as hosted,
            ):
                hosted.admission.refuse_while("records", lambda: records.down)
                settings = CallSettings(hosted.shared.records, config.record_calls, config.ring_seconds)
                supervisor = CallSupervisor(endpoint, hosted.admission, live, metrics, settings)
                status = ServerStatus(hosted.admission, compiled, time.monotonic())
                tokens = Tokens.from_hosting(plan.hosting)
                chat = ChatGate(
                    hosted.admission, {t.name: t for t in hosted.tenants}, hosted=plan.hosting is not None
                )
                api = HttpApi(
                    status, live, metrics, store, hosted.tenants, tokens, hosted.publisher, plan.hosting, chat
                )
                # outbound calling (docs/outbound.md): for a tenant whose service has trunks
                admitted = hosted.admission
                inbound = AdmissionLoad(
                    lambda: admitted.active, lambda: admitted.draining or monitor.overloaded
                )
                async with (
                    trio.open_nursery() as background,
                    open_tenant_outbound(hosted.tenants, endpoint, inbound, admitted.capacity) as outbound,
                ):
                    await background.start(monitor.run, endpoint)
                    if outbound is not None:
                        supervisor.on_admit = outbound.dialer.make_room
                        _campaigns_of(hosted.tenants, outbound)  # an SMS STOP reaches them
                        metrics.registry.register(outbound.collector)
                    extra = tuple(mounts(hosted)) if mounts is not None else ()
                    await _run(config, endpoint, supervisor, api, hosted, signals, announce, outbound, extra)
                    background.cancel_scope.cancel()
            retries.cancel_scope.cancel()  # on the way out, before the store closes
    log.info("stopped cleanly")
    return 0


@dataclass
class Hosted:
    """The running tenants, their admission and publishing (what the supervisor and the HTTP
    API work with)."""

    shared: Shared
    tenants: list[Tenant]
    admission: Admission
    publisher: Publisher | None
    firsts: Mapping[str, First | None]

    def tenant(self, name: str) -> Tenant:
        return next(t for t in self.tenants if t.name == name)

    async def wait_started(self) -> None:
        """Until every tenant is serving or unavailable."""
        for tenant in self.tenants:
            await tenant.settled.wait()


@asynccontextmanager
async def open_tenants(
    plan: HostingPlan,
    shared: Shared,
    capacity: int,
    *,
    overloaded: Callable[[], bool] = lambda: False,
) -> AsyncIterator[Hosted]:
    """Start every tenant of `plan` in the background (each on its first version, or
    unavailable without one) for the life of the block; stop them all at its end."""
    config = shared.config
    tenants = [Tenant(tenant, _layout(config, tenant), shared) for tenant in plan.tenants.values()]
    admission = Admission(tenants, capacity, overloaded=overloaded, retry_after=config.retry_after)
    published = {t.name: t.layout.versions for t in tenants if t.layout.versions is not None}
    async with open_version_stores(config, published if plan.hosting is not None else {}) as stores:
        publisher = _publisher(plan, tenants, stores)
        firsts = {t.name: await _first_version(t, publisher) for t in tenants}
        async with trio.open_nursery() as nursery:
            for tenant in tenants:
                first = firsts[tenant.name]
                if first is None:
                    tenant.unavailable("no version of its flows is free of errors (ivr check)")
                else:
                    nursery.start_soon(tenant.run, first)
                if publisher is not None and tenant.name in stores and stores[tenant.name].shared:
                    nursery.start_soon(_follow, publisher, tenant)
            yield Hosted(shared, tenants, admission, publisher, firsts)
            nursery.cancel_scope.cancel()


async def _follow(publisher: Publisher, tenant: Tenant) -> None:
    """Serve what another instance publishes for `tenant` (a shared store), once it runs."""
    await tenant.settled.wait()
    await publisher.follow(tenant.name)


def _campaigns_of(tenants: Sequence[Tenant], outbound: Outbound) -> None:
    """Tell the tenant that calls out (the one with trunks) where its campaigns run."""
    for tenant in tenants:
        service = tenant.plan.project.service
        if service is not None and service.trunks:
            tenant.campaigns = RunningCampaigns(outbound.store, outbound.runner)


def _layout(config: HostingConfig, plan: TenantPlan) -> TenantLayout:
    if plan.hosted:
        return TenantLayout.hosted(config.data_dir, plan.name, config.tts_cache)
    return TenantLayout.folder(config.data_dir, plan.name, config.tts_cache)


async def _music(config: HostingConfig, plan: HostingPlan) -> Path | None:
    """The hold music, when some tenant has agents (a bad file stops the start)."""
    has_agents = any(
        (t.decl.agents is not None) if t.decl is not None else config.agents_file is not None
        for t in plan.tenants.values()
    )
    if not has_agents:
        return None
    try:
        return await hold_music(config)
    except OSError as exc:
        raise ConfigError(str(exc)) from exc


async def _check_agents_file(config: HostingConfig, plan: HostingPlan) -> None:
    """The agents file loads, and its order form (if any) fits the service's operations."""
    if config.agents_file is None:
        return
    try:
        accounts = await trio.to_thread.run_sync(load_agents_file, config.agents_file)
    except (AccountsError, OSError) as exc:
        raise ConfigError(str(exc)) from exc
    form = accounts.settings.order_form
    if form is not None:
        for tenant in plan.tenants.values():
            check_order_form(form, tenant.project, str(config.agents_file))


def _publisher(plan: HostingPlan, tenants: list[Tenant], stores: Mapping[str, Versions]) -> Publisher | None:
    """Publishing, for the tenants of a hosting file (a plain folder is served as it is)."""
    if plan.hosting is None:
        return None
    by_name = {t.name: t for t in tenants}

    async def activate(tenant: str, version_id: str, folder: Path, project: Project) -> None:
        target = by_name[tenant]
        if target.state != "serving":
            raise ConfigError(
                f"tenant {tenant!r} is {target.state}; the version is served from its next start"
            )
        target.install(await target.prepare(version_id, folder, project))

    return Publisher(plan.hosting, plan.tenants, stores, activate)


async def _first_version(tenant: Tenant, publisher: Publisher | None) -> First | None:
    """The version a tenant starts with (None: it has none without errors: unavailable)."""
    plan = tenant.plan
    if publisher is None or not plan.hosted:
        return (FOLDER_VERSION, plan.source, plan.project) if plan.source is not None else None
    if plan.source is None and not await trio.to_thread.run_sync(publisher.versions, plan.name):
        return None
    found = await trio.to_thread.run_sync(publisher.startup_version, plan.name)
    if found is None:
        return None
    version, folder, project = found
    return version.id, folder, project


async def _run(
    config: HostingConfig,
    endpoint: SipEndpoint,
    supervisor: CallSupervisor,
    api: HttpApi,
    hosted: Hosted,
    signals: AsyncIterator[int],
    announce: Callable[[str], None],
    outbound: Outbound | None = None,
    mounted: Sequence[BaseRoute] = (),
) -> None:
    async with trio.open_nursery() as nursery:
        await nursery.start(supervisor.serve)
        campaigns = campaign_routes(outbound, guard=api.operator) if outbound is not None else ()
        http_port = await nursery.start(_serve_http, api.app((*campaigns, *mounted)), config)
        announce(_banner(config, endpoint, supervisor, http_port, hosted.tenants, hosted.firsts))
        signum = await _next_signal(signals)
        log.warning(
            "%s: draining calls (up to %.0f s), refusing new ones",
            signal.Signals(signum).name,
            config.drain_seconds,
        )
        await _drain(supervisor, config.drain_seconds, signals)
        nursery.cancel_scope.cancel()


async def _drain(supervisor: CallSupervisor, seconds: float, signals: AsyncIterator[int]) -> None:
    async with trio.open_nursery() as nursery:

        async def hurry() -> None:
            await _next_signal(signals)
            log.warning("second signal: ending every call now")
            supervisor.cancel_all()

        nursery.start_soon(hurry)
        cut = await supervisor.drain(seconds)
        if cut:
            log.warning("drain limit reached: ending %d call(s)", cut)
        with trio.move_on_after(HANGUP_GRACE + 2):
            await supervisor.wait_idle()
        nursery.cancel_scope.cancel()


async def _next_signal(signals: AsyncIterator[int]) -> int:
    async for signum in signals:
        return int(signum)
    raise RuntimeError("the signal receiver closed")


async def _serve_http(app: _Asgi, config: HostingConfig, *, task_status: trio.TaskStatus[int]) -> None:
    guard_connections()  # one bad HTTP connection must not stop the server (http_guard)
    hc = HypercornConfig()
    hc.bind = [f"{config.host}:{config.http_port}"]
    hc.accesslog = None
    hc.graceful_timeout = 1.0
    hc.errorlog = logging.getLogger("hypercorn.error")

    async def started(task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED) -> None:
        await hypercorn_serve(app, hc, task_status=task_status)

    async with trio.open_nursery() as nursery:
        try:
            binds: list[str] = await nursery.start(started)
        except BaseException as exc:
            cause = _first_os_error(exc)
            if cause is None:
                raise
            where = f"{config.host}:{config.http_port}"
            raise ConfigError(f"HTTP cannot listen on {where}: {cause.strerror or cause}") from None
        task_status.started(int(binds[0].rsplit(":", 1)[1]) if binds else config.http_port)


def _first_os_error(exc: BaseException) -> OSError | None:
    """The OSError (a port in use, an address not ours) inside `exc` or its groups."""
    if isinstance(exc, OSError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _first_os_error(inner)
            if found is not None:
                return found
    return None


def _banner(
    config: HostingConfig,
    endpoint: SipEndpoint,
    supervisor: CallSupervisor,
    http_port: int,
    tenants: list[Tenant],
    firsts: Mapping[str, First | None],
) -> str:
    host = config.host
    transports = "udp+tcp" if config.sip_tcp else "udp"
    lines = [
        f"ivr serve: SIP on {transports} {host}:{endpoint.port}, HTTP on {host}:{http_port}, "
        f"capacity {supervisor.admission.capacity} calls (pjsua2 build holds {endpoint.max_calls})",
    ]
    hosted = any(t.plan.hosted for t in tenants)
    for tenant in tenants:
        first = firsts[tenant.name]
        routes = {r.number: r.flow for r in first[2].service.numbers} if first and first[2].service else {}
        where = (
            f"tenant {tenant.name} {first[0]}: "
            if hosted and first
            else f"tenant {tenant.name}: "
            if hosted
            else ""
        )
        if first is None:
            lines.append(f"  {where}UNAVAILABLE ({', '.join(tenant.plan.numbers)} get 503): see ivr check")
            continue
        lines.extend(
            f"  {where}call sip:{n}@{host}:{endpoint.port} ({routes.get(n, '?')}) with sipp or any softphone"
            for n in tenant.plan.numbers
        )
        chat = "/chat/" if not tenant.plan.hosted else f"/tenants/{tenant.name}/chat/"
        lines.append(f"  {where}web chat at http://{host}:{http_port}{chat}")
        desk = "/desktop/" if not tenant.plan.hosted else f"/tenants/{tenant.name}/desktop/"
        agents = tenant.plan.decl.agents if tenant.plan.decl is not None else config.agents_file
        if agents is not None:
            lines.append(f"  {where}agent desktop at http://{host}:{http_port}{desk} (agents from {agents})")
            pages = desk.replace("/desktop/", "/supervisor/")
            roles = "agents with roles: [supervisor]"
            lines.append(f"  {where}supervisor pages at http://{host}:{http_port}{pages} ({roles})")
        elif not hosted:
            lines.append("  no agents file: calls for an agent hear that all agents are busy (--agents FILE)")
    lines += [
        f"  health at http://{host}:{http_port}/health, metrics at http://{host}:{http_port}/metrics",
        f"  records in {records_place(config)}; Ctrl-C (SIGINT) or SIGTERM stops it gracefully",
    ]
    if config.editor_accounts is not None:
        lines.append(
            f"  flow editor at http://{host}:{http_port}/editor/ (sign-ins from {config.editor_accounts})"
        )
    return "\n".join(lines)


def _print(text: str) -> None:
    print(text, flush=True)
    sys.stdout.flush()


def overload_limits(config: HostingConfig) -> OverloadLimits:
    """The overload limits the configuration asks for (all 0 without overload control)."""
    on = config.overload_control
    return OverloadLimits(
        config.max_loop_lag if on else 0,
        config.max_sip_lag if on else 0,
        persist=config.overload_persist,
        retry_after=config.retry_after,
        setup_wait=config.max_setup_wait if on else 0,
        sip_backlog=1024 * config.max_sip_backlog_kib if on else 0,
    )
