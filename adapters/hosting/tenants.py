"""The tenants of a running server: each with its module, agents, seats and flows versions.

Place: between the composition root (`server`) and the engine. A `Tenant` is the unit of
isolation: it owns its module's life (`run_module`), its worker-thread limiter, its ACD and
agent desktop, its prompt cache, its recordings folder, and the `TenantVersion` new calls get.
Nothing of one tenant is reachable from another's calls: each version has its own `Engine`
over its own ports (data operations, the tenant's outbox channels and agent routing, call
records stamped with tenant and version). The outbox and its delivery workers
(`ivr.adapters.messaging`) are the tenant's, one for all its versions: a published version
that declares other channels reconfigures them (`Messaging.reconfigure`).

Life: `Tenant.run` starts the module, the agents, the outbox's delivery workers and the
current version, then serves until cancelled. Whatever fails there (the module's `start`
raises or hangs, its operations cannot be bound, an agents file is bad, a channel's gateway
setting cannot be used) makes this tenant `unavailable` (its callers get 503) and is logged;
other tenants never notice. Publishing (`install`) swaps the current version in one
assignment: calls already running hold their version to the end; the old version's
resources close when its last call ends.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Literal, Protocol

import trio

from ivr.adapters.chat.agents import ChatAgentLine
from ivr.adapters.cti import (
    AccountsError,
    AgentFile,
    CallControl,
    CtiApp,
    build_cti_app,
    load_agents_file,
)
from ivr.adapters.cti.flows import DeskFlow, desk_flows
from ivr.adapters.cti.orders import OperationsOrderDesk, OrderDesk, check_order_form
from ivr.adapters.cti.remote import OwnerListener, RoutedControl, carry_out
from ivr.adapters.cti.server import CtiServer
from ivr.adapters.data import ServiceOperations
from ivr.adapters.data.module import ModuleBinding
from ivr.adapters.dialer.callbacks import DialerSlot, callback_settings
from ivr.adapters.errors import ConfigError
from ivr.adapters.history import HistoryReader, ensure_indexes, tenant_sources
from ivr.adapters.hosting.config import HostingConfig
from ivr.adapters.hosting.handover import OutboxAdopter, PlacesAdopter
from ivr.adapters.hosting.layout import TenantLayout
from ivr.adapters.hosting.live import TappedRecords
from ivr.adapters.hosting.metrics import Metrics
from ivr.adapters.hosting.modules import module_context, run_module
from ivr.adapters.hosting.plan import TenantPlan
from ivr.adapters.hosting.prompts import CachedRenderer, static_prompts
from ivr.adapters.hosting.queues import AcdJournal, SeatJournal, acd_settings
from ivr.adapters.hosting.routing import NoAgents, NoOperations
from ivr.adapters.hosting.stores import (
    AgentAudit,
    RecordStore,
    open_agent_audit,
    open_callback_journal,
    open_tenant_peers,
    outbox_place,
)
from ivr.adapters.messaging import Messaging, open_messaging
from ivr.adapters.postgres.peers import PeerWatch
from ivr.adapters.sharedacd.commands import RemoteCommand
from ivr.adapters.sharedacd.routing import open_shared_center
from ivr.adapters.sip.agents import SipAgentConnector
from ivr.adapters.sip.leg import PromptRenderer
from ivr.adapters.sip.pjthread import SipEndpoint
from ivr.adapters.speech.espeak import EspeakRenderer
from ivr.adapters.supervision import Sources, SupervisorApp, tickets_of
from ivr.flowlang.hostingfile import Seats
from ivr.flowlang.ir import Project
from ivr.runtime.acd import Acd, AcdSettings, open_acd
from ivr.runtime.acd.shared_acd import SharedAcd, mirror_agents
from ivr.runtime.campaigns.runner import CampaignRunner
from ivr.runtime.context import CallPorts
from ivr.runtime.engine import Engine
from ivr.runtime.modules import Module, ModuleContext
from ivr.runtime.ports import (
    AgentConnector,
    AgentRouting,
    CallChannel,
    CallEnding,
    CallEvent,
    CallRecords,
    CampaignStore,
    DataOperations,
    Recording,
)

log = logging.getLogger(__name__)

TenantState = Literal["starting", "serving", "unavailable", "stopped"]
FOLDER_VERSION = "folder"  # the version id of a plain folder's flows (not published)


class AgentLine(AgentConnector, CallControl, Protocol):
    """How a tenant's ACD reaches its agents and the desktop controls their calls
    (`SipAgentConnector` over the server's endpoint; `DeskConnector` in tests)."""


@dataclass(frozen=True)
class Shared:
    """What every tenant of the server uses: settings, SIP, the record store, metrics, and
    the factories of a tenant's speech and agent line (SIP and espeak-ng unless given)."""

    config: HostingConfig
    endpoint: SipEndpoint | None
    store: RecordStore
    records: TappedRecords
    metrics: Metrics
    music: Path | None = None
    speech: Callable[[Path], PromptRenderer] = EspeakRenderer  # a tenant's TTS on its own cache
    agent_line: Callable[[TenantLayout], AgentLine] | None = None

    def line_for(self, layout: TenantLayout) -> AgentLine | None:
        """A tenant's agent line: its agents' recordings go to its own folder."""
        if self.agent_line is not None:
            return self.agent_line(layout)
        if self.endpoint is None:
            return None
        return SipAgentConnector(
            self.endpoint, records=self.records, recordings_dir=layout.agent_recordings, hold_music=self.music
        )


async def _carry_out(line: AgentLine, shared: SharedAcd, command: RemoteCommand) -> None:
    """A call command from the desktop of another instance, for a call held here."""
    log.info(
        "call %s: %s from agent %s at instance %s",
        command.call_id,
        command.command,
        command.agent_id,
        command.sender,
    )
    await carry_out(line, command.call_id, command.command, command.args, shared)


class VersionRecords:
    """`CallRecords` for one version's engine: every call it starts names tenant and version."""

    def __init__(self, records: TappedRecords, tenant: str, version: str) -> None:
        self._records = records
        self.tenant = tenant
        self.version = version

    async def call_started(
        self,
        call_id: str,
        *,
        flow: str,
        caller: str,
        dialed: str,
        at: datetime,
        channel: CallChannel = "phone",
    ) -> None:
        await self._records.call_started(
            call_id,
            flow=flow,
            caller=caller,
            dialed=dialed,
            at=at,
            tenant=self.tenant,
            version=self.version,
            channel=channel,
        )

    async def call_event(self, event: CallEvent) -> None:
        await self._records.call_event(event)

    async def call_ended(self, call_id: str, *, how: CallEnding, at: datetime) -> None:
        await self._records.call_ended(call_id, how=how, at=at)

    async def store_recording(
        self, call_id: str, recording: Recording, metadata: Mapping[str, object]
    ) -> None:
        await self._records.store_recording(call_id, recording, metadata)


@dataclass(eq=False)
class TenantVersion:
    """One version of a tenant's flows, as calls run it; `active` calls hold it."""

    tenant: str
    id: str
    project: Project
    root: Path
    engine: Engine
    resources: AsyncExitStack
    active: int = 0
    retired: bool = False
    desk_flows: Mapping[str, DeskFlow] = field(default_factory=dict)  # its agent flows, on the desktop
    orders: OrderDesk | None = None  # the desktop's order form over its operations

    def flow_for(self, number: str) -> str | None:
        return self.engine.flow_for_number(number)


@dataclass(frozen=True)
class RunningCampaigns:
    """A tenant's campaign store and the runner's do-not-call list, while campaigns run (an
    SMS opt-out reaches both: `ivr.adapters.hosting.sms`)."""

    store: CampaignStore
    runner: CampaignRunner


@dataclass(eq=False)
class TenantAgents:
    """A tenant's agents: its ACD (routing), the desktop app and the accounts."""

    routing: AgentRouting
    acd: Acd | None = None
    cti: CtiApp | None = None
    accounts: AgentFile | None = None
    file: Path | None = None
    supervisor: SupervisorApp | None = None  # the supervisor pages (docs/reports.md)


@dataclass(eq=False)
class Tenant:
    """One tenant of the running server (see the module docstring)."""

    plan: TenantPlan
    layout: TenantLayout
    shared: Shared
    state: TenantState = "starting"
    reason: str = ""
    current: TenantVersion | None = None
    calls: int = 0  # admitted, within the quota or without one
    overflow_calls: int = 0
    agents: TenantAgents = field(default_factory=lambda: TenantAgents(NoAgents()))
    renderer: CachedRenderer | None = None
    binding: ModuleBinding | None = None
    messaging: Messaging | None = None  # its outbox and delivery workers, for all its versions
    callback_dialer: DialerSlot = field(default_factory=DialerSlot)  # the trunks, once outbound is up
    campaigns: RunningCampaigns | None = None  # its campaigns, while they run (set by the server)
    peers: PeerWatch | None = None  # its heartbeat on the shared database: a silent peer's work comes here
    settled: trio.Event = field(default_factory=trio.Event)  # set once no longer "starting"
    _nursery: trio.Nursery | None = None

    @property
    def name(self) -> str:
        return self.plan.name

    @property
    def dials(self) -> bool:
        """Whether its service declares trunks (campaigns, callbacks: the server's outbound side)."""
        service = self.plan.project.service
        return service is not None and bool(service.trunks)

    @property
    def seats(self) -> Seats:
        return self.plan.decl.seats if self.plan.decl is not None else Seats()

    @property
    def overflow_flow(self) -> str | None:
        return self.plan.decl.overflow_flow if self.plan.decl is not None else None

    @property
    def module(self) -> Module | None:
        return self.plan.module

    def context(self) -> ModuleContext:
        settings = self.plan.decl.settings if self.plan.decl is not None else {}
        return module_context(self.name, self.layout.module_data, settings)

    # -- life ------------------------------------------------------------------------------
    async def run(self, first: tuple[str, Path, Project]) -> None:
        """Serve with version `first` (id, files folder, project) until cancelled; any failure
        leaves this tenant unavailable, logged, and never reaches the caller of `run`."""
        self.renderer = CachedRenderer(self.shared.speech(self.layout.tts), self.shared.metrics)
        try:
            async with trio.open_nursery() as nursery, AsyncExitStack() as stack:
                self._nursery = nursery
                # beating before the stores read back their own work: nobody claims it meanwhile
                self.peers = await stack.enter_async_context(open_tenant_peers(self.shared.config, self.name))
                if self.peers is not None:  # and on beating while the tenant starts (prompts...)
                    nursery.start_soon(self.peers.run)
                await stack.enter_async_context(self._module())
                self.agents = await stack.enter_async_context(self._agents())
                version_id, root, project = first
                self.messaging = await stack.enter_async_context(self._messaging(project))
                self.install(await self.prepare(version_id, root, project))
                self.state = "serving"
                self.settled.set()
                if self.peers is not None and not self.dials:  # else once its campaign runner is registered
                    self.peers.ready.set()
                log.info(
                    "tenant %s serving version %s (%s)", self.name, version_id, ", ".join(self.plan.numbers)
                )
                try:
                    await trio.sleep_forever()
                finally:
                    nursery.cancel_scope.cancel()
        except Exception as exc:  # its own failure: this tenant only
            self.unavailable(_describe(exc))
        finally:
            if self.state == "serving":
                self.state = "stopped"
            with trio.CancelScope(shield=True):
                await self._close_versions()

    @asynccontextmanager
    async def _module(self) -> AsyncIterator[None]:
        module = self.module
        if module is None:
            yield
            return
        ctx = self.context()
        async with run_module(module, ctx):
            self.binding = ModuleBinding(module.name, module.operations, ctx)
            yield

    @asynccontextmanager
    async def _agents(self) -> AsyncIterator[TenantAgents]:
        """The ACD over SIP agent phones, with its desktop, when the tenant has agents."""
        file = self._agents_file()
        shared = self.shared
        line = shared.line_for(self.layout) if file is not None else None
        if file is None or line is None:
            yield TenantAgents(NoAgents())
            return
        connector = ChatAgentLine(line)  # web chats reach the same agents, on the desktop
        try:
            accounts = await trio.to_thread.run_sync(load_agents_file, file)
        except (AccountsError, OSError) as exc:
            raise ConfigError(f"agents file {file}: {exc}") from exc
        project = self.plan.project
        if accounts.settings.order_form is not None:
            check_order_form(accounts.settings.order_form, project, str(file))
        settings = replace(acd_settings(shared.config, project, shared.music), max_agents=self.seats.agents)
        journal_path = self.layout.root / "agent-journal.sqlite3"
        # queue callbacks: kept places in the same file (or the tenant's schema on the shared
        # database), called back through the trunks (if any)
        async with (
            open_agent_audit(shared.config, self.name, journal_path) as audit,  # logins, states, listens
            open_callback_journal(shared.config, self.name, journal_path) as kept,
        ):
            callbacks = await callback_settings(project, self.callback_dialer, kept, shared.records)
            async with open_acd(connector, settings, callbacks) as acd:
                if self.peers is not None and callbacks is not None and not isinstance(kept, Path):
                    self.peers.add(PlacesAdopter(acd))  # a silent peer's kept places, called back here
                async with self._desk(acd, connector, settings, accounts, file, audit) as agents:
                    yield agents

    @asynccontextmanager
    async def _desk(
        self,
        acd: Acd,
        connector: ChatAgentLine,
        settings: AcdSettings,
        accounts: AgentFile,
        file: Path,
        audit: AgentAudit,
    ) -> AsyncIterator[TenantAgents]:
        """The desktop (CTI), the supervisor pages and the journals over `acd`, with the
        tenant's routing (local or shared)."""
        shared = self.shared
        journal_path = self.layout.root / "agent-journal.sqlite3"
        async with trio.open_nursery() as nursery:
            # The desk's agent flows and order form follow the version new calls get (`install`).
            # the customer's history on the desk: this tenant's stores only, indexed from the start
            layout = self.layout
            sources = tenant_sources(
                self.name,
                shared.config.records_db,
                data_dir=layout.module_data,
                root=layout.root,
                outbox=layout.outbox,
                database_url=shared.config.database_url,  # then calls, messages, attempts there
            )
            await trio.to_thread.run_sync(ensure_indexes, sources)
            history = HistoryReader(sources)
            cti = build_cti_app(
                acd,
                shared.records,
                accounts,
                connector,
                journal=audit.journal,
                history=history,
                logins=audit.logins,
                tokens=audit.tokens,
            )
            await nursery.start(AcdJournal(acd, shared.records).run)
            await nursery.start(SeatJournal(acd, shared.store, self.name).run)
            await nursery.start(cti.server.run)
            supervisor = SupervisorApp(cti.server, self._supervision(journal_path))
            try:
                async with self._routing(acd, connector, settings, cti.server) as routing:
                    if isinstance(routing, SharedAcd):  # the board's center-wide figures
                        supervisor.center = routing
                    yield TenantAgents(routing, acd, cti, accounts, file, supervisor)
            finally:
                nursery.cancel_scope.cancel()
                history.close()  # its connections to the shared database, if any (quick)

    @asynccontextmanager
    async def _routing(
        self, acd: Acd, connector: AgentLine, settings: AcdSettings, desk: CtiServer
    ) -> AsyncIterator[AgentRouting]:
        """Where the tenant's calls wait for an agent: the local `acd`, or with a database URL
        the center's shared ACD (its center is the tenant, so tenants never share agents), with
        this instance's agents, as the desktop drives `acd`, mirrored into it, and the
        desktop's call controls carried to the instance holding the call (docs/cluster.md)."""
        config = self.shared.config
        if not config.database_url:
            yield acd
            return
        async with (
            open_shared_center(
                config.database_url,
                instance=config.instance,
                connector=connector,
                settings=settings,
                center=self.name,
                events=acd.events,
            ) as center,
            trio.open_nursery() as nursery,
        ):
            shared = center.acd
            center.commands.handler = partial(_carry_out, connector, shared)
            desk.control = RoutedControl(connector, acd, center.commands)
            connector.listen(OwnerListener(desk, shared))  # its shared calls' parties
            await nursery.start(mirror_agents, acd, shared)
            log.info(
                "tenant %s: agents and queues shared on the database (instance %s)",
                self.name,
                config.instance,
            )
            try:
                yield shared
            finally:
                desk.control = connector  # the commands' way out closes with the center
                connector.listen(desk)
                nursery.cancel_scope.cancel()

    def _supervision(self, journal: Path) -> Sources:
        """What the supervisor pages read: the records, this tenant's agents' journal (its
        file; on the shared database the reports read every instance's lines there), and
        the complaint tickets of its module (when it offers them)."""
        binding = self.binding
        tickets = tickets_of(binding.operations, binding.context) if binding is not None else None
        config = self.shared.config
        journals = () if config.database_url else ((self.name, journal),)
        return Sources(self.name, config.records_db, journals, tickets, database_url=config.database_url)

    @asynccontextmanager
    async def _messaging(self, project: Project) -> AsyncIterator[Messaging]:
        """The tenant's outbox (its own file, or its schema on the shared database) with its
        delivery workers running; one for all its versions (a new version reconfigures its
        channels), so a message is claimed, recovered after a crash and retried by one owner
        (on the database: one instance's workers at a time, see `PostgresOutbox.claim`).
        Closing waits for attempts under way."""
        config = self.shared.config
        observer = _MessageMetrics(self.shared.metrics, self.name)
        place = outbox_place(config, self.name, self.layout.outbox)
        async with open_messaging(place, project.service, config.env, observer=observer) as messaging:
            for line in messaging.describe():
                log.info("tenant %s:%s", self.name, line)
            if self.peers is not None:  # the messages a silent peer was sending, settled here
                self.peers.add(OutboxAdopter(messaging))
            async with trio.open_nursery() as workers:
                await workers.start(messaging.run)
                try:
                    yield messaging
                finally:
                    workers.cancel_scope.cancel()

    def unavailable(self, reason: str) -> None:
        """This tenant serves no calls (its numbers get 503) until the server restarts."""
        self.state, self.reason = "unavailable", reason
        self.settled.set()
        log.error("tenant %s is unavailable (its numbers get 503): %s", self.name, reason)

    def _agents_file(self) -> Path | None:
        decl = self.plan.decl
        if decl is None:
            return self.shared.config.agents_file
        if decl.agents is None:
            return None
        return Path(self.shared.config.hosting_file or ".").parent / decl.agents

    # -- versions --------------------------------------------------------------------------
    async def prepare(self, version_id: str, root: Path, project: Project) -> TenantVersion:
        """A version ready to take calls: its operations bound (raises `ConfigError` when they
        cannot be, or the desktop's order form cannot use them), its channels' gateway
        settings taken by the tenant's outbox (`ConfigError` when they cannot be), its engine
        built, its static prompts being rendered."""
        service = project.service
        messaging = self.messaging
        if messaging is None:
            raise ConfigError(f"tenant {self.name!r} has no outbox open (it is not running)")
        form = self.agents.accounts.settings.order_form if self.agents.accounts is not None else None
        if form is not None:
            check_order_form(form, project, f"tenant {self.name}: {self.agents.file}")
        resources = AsyncExitStack()
        try:
            data: DataOperations = NoOperations()
            if service is not None and service.operations:
                operations = ServiceOperations.from_service(
                    service,
                    base_dir=root,
                    module=self.binding,
                    data_dir=self.layout.module_data if self.plan.hosted else None,
                )
                data = await resources.enter_async_context(operations)
            await messaging.reconfigure(service)  # last: a version that fails to bind changes nothing
        except BaseException:
            await resources.aclose()
            raise
        records: CallRecords = VersionRecords(self.shared.records, self.name, version_id)
        engine = Engine(project, CallPorts(data, messaging.channels, self.agents.routing, records))
        if self.agents.acd is not None and version_id != (self.current.id if self.current else None):
            settings = acd_settings(self.shared.config, project, self.shared.music)
            self.agents.acd.reconfigure(replace(settings, max_agents=self.seats.agents))
        if self._nursery is not None and self.renderer is not None:
            self._nursery.start_soon(self.renderer.prerender, static_prompts(project))
        orders = OperationsOrderDesk(data, form) if form is not None else None
        return TenantVersion(
            self.name,
            version_id,
            project,
            root,
            engine,
            resources,
            desk_flows=desk_flows(project),
            orders=orders,
        )

    def install(self, version: TenantVersion) -> None:
        """Make `version` the one new calls get (one assignment: atomic for the trio thread)."""
        old, self.current = self.current, version
        if self.agents.cti is not None:
            self.agents.cti.server.offer(version.desk_flows, version.orders)
        if old is not None:
            old.retired = True
            self._close_if_idle(old)

    def begin(self, version: TenantVersion, *, overflow: bool) -> None:
        version.active += 1
        if overflow:
            self.overflow_calls += 1
        else:
            self.calls += 1

    def end(self, version: TenantVersion, *, overflow: bool) -> None:
        version.active -= 1
        if overflow:
            self.overflow_calls -= 1
        else:
            self.calls -= 1
        self._close_if_idle(version)

    def _close_if_idle(self, version: TenantVersion) -> None:
        if version.retired and version.active == 0 and self._nursery is not None:
            self._nursery.start_soon(self._close, version)

    async def _close(self, version: TenantVersion) -> None:
        with trio.CancelScope(shield=True):
            try:
                await version.resources.aclose()
            except Exception:
                log.exception("tenant %s: closing version %s failed", self.name, version.id)
        log.info("tenant %s: version %s retired", self.name, version.id)

    async def _close_versions(self) -> None:
        if self.current is not None:
            self.current.retired = True
            try:
                await self.current.resources.aclose()
            except Exception:
                log.exception("tenant %s: closing version %s failed", self.name, self.current.id)

    def status(self) -> dict[str, object]:
        """What /tenants shows."""
        seats = self.seats
        return {
            "name": self.name,
            "state": self.state,
            "reason": self.reason or None,
            "version": self.current.id if self.current else None,
            "numbers": list(self.plan.numbers),
            "calls_active": self.calls + self.overflow_calls,
            "seats": {"calls": seats.calls, "overflow": seats.overflow, "agents": seats.agents},
            "agents": len(self.agents.acd.statistics().agents) if self.agents.acd is not None else 0,
        }


@dataclass(frozen=True)
class _MessageMetrics:
    """A tenant's messages and delivery attempts, counted in the server's metrics."""

    metrics: Metrics
    tenant: str

    def queued(self, channel: str) -> None:
        self.metrics.message_queued(self.tenant, channel)

    def attempted(self, channel: str, status: str) -> None:
        self.metrics.message_attempted(self.tenant, channel, status)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_describe(e) for e in exc.exceptions)
    return str(exc) or type(exc).__name__
