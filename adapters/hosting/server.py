"""`serve(config, project)`: the composition root of a hosted runtime process.

Place: the outermost layer; `ivr serve` calls it after loading and checking the flows.
It wires, inside one trio run:

    SIGINT/SIGTERM ─► drain ─► cancel ─► close everything, in this order
    pjsua2 endpoint (its thread; SIP on UDP and TCP) ─► CallSupervisor ─► Engine ─► ports:
        data operations (ServiceOperations), outbox channels, agent routing (the ACD over
        SipAgentConnector, or NoAgents without an agents file), call records (SQLite,
        tapped for the live view)
    hypercorn (trio worker) ─► HttpApi: /health /metrics /calls ...
        with agents, mounted beside it: the CTI app (/desktop/, /cti/login, /cti/ws)
    background: static prompt pre-rendering, the back office's matching simulator,
        the CTI server's ACD follower, the ACD journal on the call records

Shutdown: the first signal stops taking calls (503), lets the calls in progress finish for
up to `drain_seconds`, then cancels the rest (recorded as "interrupted" by the engine and
hung up); a second signal skips the wait. Then HTTP stops, pjsua2 is destroyed in its own
thread, and the record store is flushed and closed, so the next start finds no open call.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve as hypercorn_serve

from ivr.adapters.channels import open_outbox_channels
from ivr.adapters.cti import (
    AccountsError,
    AgentFile,
    CtiApp,
    SqliteAgentJournal,
    build_cti_app,
    load_agents_file,
    mount_cti,
)
from ivr.adapters.dialer.hosting import AdmissionLoad, Outbound, open_outbound
from ivr.adapters.dialer.http import mount_campaigns
from ivr.adapters.errors import ConfigError
from ivr.adapters.hosting.admission import Admission, usable_capacity, warn_if_small_build
from ivr.adapters.hosting.config import HostingConfig
from ivr.adapters.hosting.http import HttpApi
from ivr.adapters.hosting.live import LiveCalls, TappedRecords
from ivr.adapters.hosting.metrics import Metrics
from ivr.adapters.hosting.prompts import CachedRenderer, static_prompts
from ivr.adapters.hosting.queues import AcdJournal, acd_settings, hold_music
from ivr.adapters.hosting.routing import NoAgents, NoOperations
from ivr.adapters.hosting.supervisor import HANGUP_GRACE, CallSettings, CallSupervisor
from ivr.adapters.sip.agents import SipAgentConnector
from ivr.adapters.sip.limits import compiled_max_calls
from ivr.adapters.sip.pjthread import SipConfig, SipEndpoint, open_sip_endpoint
from ivr.adapters.speech.espeak import EspeakRenderer
from ivr.adapters.storage import SqliteCallRecords, open_sqlite_call_records
from ivr.flowlang.ir import Project
from ivr.runtime.acd import Acd, open_acd
from ivr.runtime.context import CallPorts
from ivr.runtime.engine import Engine
from ivr.runtime.ports import AgentRouting, CallRecords, DataOperations, MessageChannels

log = logging.getLogger(__name__)
_Asgi = Callable[[Any, Any, Any], Awaitable[None]]
BROKERAGE_PACKAGE = "ivr.adapters.brokerage"


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
    config: HostingConfig, project: Project, *, announce: Callable[[str], None] | None = None
) -> int:
    """Run the hosted service until SIGINT/SIGTERM; 0 after a clean shutdown."""
    announce = announce or _print
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        await trio.to_thread.run_sync(lambda: config.data_dir.mkdir(parents=True, exist_ok=True))
        os.environ.setdefault("IVR_BROKERAGE_DB", str(config.brokerage_db))
        compiled = compiled_max_calls()
        warn_if_small_build(compiled)
        metrics, live = Metrics(), LiveCalls(config.recent_calls)
        admission = Admission(project, usable_capacity(config.capacity, compiled))
        sip = SipConfig(bind=config.host, port=config.sip_port, max_calls=compiled, tcp=config.sip_tcp)
        staff = await _staff(config)  # a bad agents file stops us before anything listens
        async with (
            _ports(config, project) as ports,
            open_sip_endpoint(sip) as endpoint,
            _agents(config, project, endpoint, TappedRecords(ports.store, live, metrics), staff) as agents,
        ):
            store, records = ports.store, agents.records
            engine = Engine(project, CallPorts(ports.data, ports.channels, agents.routing, records))
            renderer = CachedRenderer(EspeakRenderer(config.prompt_cache), metrics)
            settings = CallSettings(
                renderer,
                records,
                config.recordings_dir,
                config.recordings_dir if config.record_calls else None,
                config.ring_seconds,
            )
            supervisor = CallSupervisor(endpoint, engine, admission, live, metrics, settings)
            status = ServerStatus(admission, compiled, time.monotonic())
            api = HttpApi(status, live, metrics, store, agents.acd.statistics if agents.acd else None)
            # outbound calling (docs/outbound.md): only with trunks in the service file
            inbound = AdmissionLoad(lambda: admission.active, lambda: admission.draining)
            outbound_side = open_outbound(
                project,
                endpoint,
                engine,
                renderer,
                data_dir=config.data_dir,
                inbound=inbound,
                capacity=admission.capacity,
            )
            async with outbound_side as outbound:
                if outbound is not None:
                    supervisor.on_admit = outbound.dialer.make_room
                await _run(
                    config, project, endpoint, supervisor, api, agents, renderer, signals, announce, outbound
                )
    log.info("stopped cleanly")
    return 0


@dataclass(frozen=True)
class _Ports:
    store: SqliteCallRecords
    data: DataOperations
    channels: MessageChannels


@asynccontextmanager
async def _ports(config: HostingConfig, project: Project) -> AsyncIterator[_Ports]:
    """The durable ports, opened in order and closed in reverse (records last)."""
    service = project.service
    async with AsyncExitStack() as stack:
        store = await stack.enter_async_context(open_sqlite_call_records(config.records_db))
        if store.recovered_at_open:
            log.warning(
                "closed %d call(s) left open by the last run as 'interrupted'", len(store.recovered_at_open)
            )
        kinds = {name: c.kind for name, c in service.channels.items()} if service else {}
        channels = await stack.enter_async_context(open_outbox_channels(config.outbox_db, kinds))
        data: DataOperations = NoOperations()
        if service is not None and service.operations:
            from ivr.adapters.data import ServiceOperations

            operations = ServiceOperations.from_service(service, base_dir=config.flows)
            data = await stack.enter_async_context(operations)
        yield _Ports(store, data, channels)


@dataclass(frozen=True)
class _Agents:
    """Agent routing for the engine; with an agents file also the ACD, the CTI app (the
    agent desktop) and the accounts."""

    routing: AgentRouting
    records: CallRecords
    acd: Acd | None = None
    cti: CtiApp | None = None
    accounts: AgentFile | None = None


async def _staff(config: HostingConfig) -> tuple[AgentFile, Path] | None:
    """The agent accounts and the hold music, when there is an agents file."""
    if config.agents_file is None:
        return None
    try:
        accounts = await trio.to_thread.run_sync(load_agents_file, config.agents_file)
        return accounts, await hold_music(config)
    except (AccountsError, OSError) as exc:
        raise ConfigError(str(exc)) from exc


@asynccontextmanager
async def _agents(
    config: HostingConfig,
    project: Project,
    endpoint: SipEndpoint,
    records: TappedRecords,
    staff: tuple[AgentFile, Path] | None,
) -> AsyncIterator[_Agents]:
    """The ACD over SIP agent phones and its desktop, for the life of the block; without an
    agents file, `NoAgents` (every `enqueue` answers "no_agents")."""
    if staff is None:
        yield _Agents(NoAgents(), records)
        return
    accounts, music = staff
    connector = SipAgentConnector(
        endpoint, records=records, recordings_dir=config.agent_recordings_dir, hold_music=music
    )
    journal = await SqliteAgentJournal.open(config.data_dir / "agent-journal.sqlite3")  # logins, states
    async with open_acd(connector, acd_settings(config, project, music)) as acd:
        cti = build_cti_app(acd, records, accounts, connector, journal=journal)
        yield _Agents(acd, records, acd, cti, accounts)


async def _run(
    config: HostingConfig,
    project: Project,
    endpoint: SipEndpoint,
    supervisor: CallSupervisor,
    api: HttpApi,
    agents: _Agents,
    renderer: CachedRenderer,
    signals: AsyncIterator[int],
    announce: Callable[[str], None],
    outbound: Outbound | None = None,
) -> None:
    async with trio.open_nursery() as nursery:
        app: _Asgi = api
        if agents.acd is not None and agents.cti is not None:
            await nursery.start(AcdJournal(agents.acd, agents.records).run)
            await nursery.start(agents.cti.server.run)
            app = mount_cti(api, agents.cti)
        if outbound is not None:
            app = mount_campaigns(app, outbound)
        await nursery.start(supervisor.serve)
        http_port = await nursery.start(_serve_http, app, config)
        nursery.start_soon(renderer.prerender, static_prompts(project))
        if _uses_brokerage(project):
            from ivr.adapters.brokerage.matching import serve_matching

            nursery.start_soon(serve_matching, 3.0, str(config.brokerage_db))
        announce(_banner(config, endpoint, supervisor, http_port, agents))
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
    hc = HypercornConfig()
    hc.bind = [f"{config.host}:{config.http_port}"]
    hc.accesslog = None
    hc.graceful_timeout = 1.0
    hc.errorlog = logging.getLogger("hypercorn.error")

    async def started(task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED) -> None:
        await hypercorn_serve(app, hc, task_status=task_status)

    async with trio.open_nursery() as nursery:
        binds: list[str] = await nursery.start(started)
        task_status.started(int(binds[0].rsplit(":", 1)[1]) if binds else config.http_port)


def _uses_brokerage(project: Project) -> bool:
    operations = project.service.operations.values() if project.service else ()
    return any(str(op.config.get("function", "")).startswith(BROKERAGE_PACKAGE) for op in operations)


def _banner(
    config: HostingConfig, endpoint: SipEndpoint, supervisor: CallSupervisor, http_port: int, agents: _Agents
) -> str:
    host = config.host
    numbers: Mapping[str, str] = supervisor.admission.numbers
    transports = "udp+tcp" if config.sip_tcp else "udp"
    desk: list[str] = []
    if agents.accounts is not None:
        desk = [
            f"  agent desktop at http://{host}:{http_port}/desktop/ "
            f"({len(agents.accounts)} agent(s) from {config.agents_file})"
        ]
    else:
        desk = ["  no agents file: calls for an agent hear that all agents are busy (--agents FILE)"]
    lines = [
        f"ivr serve: SIP on {transports} {host}:{endpoint.port}, HTTP on {host}:{http_port}, "
        f"capacity {supervisor.admission.capacity} calls (pjsua2 build holds {endpoint.max_calls})",
        *(
            f"  call sip:{n}@{host}:{endpoint.port} ({flow}) with sipp or any softphone"
            for n, flow in numbers.items()
        ),
        *desk,
        f"  health at http://{host}:{http_port}/health, metrics at http://{host}:{http_port}/metrics",
        f"  records in {config.records_db}; Ctrl-C (SIGINT) or SIGTERM stops it gracefully",
    ]
    return "\n".join(lines)


def _print(text: str) -> None:
    print(text, flush=True)
    sys.stdout.flush()
