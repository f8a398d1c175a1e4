"""Test helpers shipped as real code: tenants that serve without SIP, TTS or a module's life.

`serving_tenant` builds a `Tenant` the way the server does (plan, layout, shared parts) and
installs a version whose engine runs on the ports you give (in-memory ones by default), so
admission, seats, publishing swaps, records stamping and the HTTP API can be driven with
`MemoryCallLeg`s on a virtual clock.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

from ivr.adapters.hosting.config import HostingConfig
from ivr.adapters.hosting.layout import TenantLayout
from ivr.adapters.hosting.live import LiveCalls, TappedRecords
from ivr.adapters.hosting.metrics import Metrics
from ivr.adapters.hosting.plan import TenantPlan
from ivr.adapters.hosting.tenants import Shared, Tenant, TenantAgents, TenantVersion, VersionRecords
from ivr.adapters.storage import SqliteCallRecords
from ivr.flowlang.diagnostics import Span
from ivr.flowlang.hostingfile import Seats, TenantDecl
from ivr.flowlang.ir import Project
from ivr.runtime.context import CallPorts
from ivr.runtime.engine import Engine
from ivr.runtime.ports import AgentRouting, DataOperations, MessageChannels
from ivr.runtime.testing import FixtureOperations, MemoryChannels, ScriptedRouting


def shared_parts(store: SqliteCallRecords, data_dir: Path, metrics: Metrics | None = None) -> Shared:
    """What the server shares between tenants, without SIP."""
    metrics = metrics or Metrics()
    records = TappedRecords(store, LiveCalls(), metrics)
    return Shared(HostingConfig(data_dir=data_dir), None, store, records, metrics)


def serving_tenant(
    name: str,
    project: Project,
    shared: Shared,
    *,
    numbers: tuple[str, ...] | None = None,
    seats: Seats | None = None,
    overflow_flow: str | None = None,
    version: str = "v1",
    data: DataOperations | None = None,
    channels: MessageChannels | None = None,
    routing: AgentRouting | None = None,
) -> Tenant:
    """A hosted tenant, serving `project` as `version` on the given (or in-memory) ports."""
    routes = project.service.numbers if project.service else ()
    routed = numbers if numbers is not None else tuple(r.number for r in routes)
    decl = TenantDecl(name, Span("hosting.yaml", 1, 1), folder=name, numbers=routed, seats=seats or Seats(),
                      overflow_flow=overflow_flow)  # fmt: skip
    plan = TenantPlan(name, decl, Path(name), project)
    tenant = Tenant(plan, TenantLayout.hosted(shared.config.data_dir, name), shared)
    tenant.agents = TenantAgents(routing or ScriptedRouting())
    tenant.install(build_version(tenant, version, project, data=data, channels=channels))
    tenant.state = "serving"
    return tenant


def build_version(
    tenant: Tenant,
    version: str,
    project: Project,
    *,
    data: DataOperations | None = None,
    channels: MessageChannels | None = None,
) -> TenantVersion:
    """A version of `tenant` on in-memory ports (what `Tenant.prepare` builds for real)."""
    records = VersionRecords(tenant.shared.records, tenant.name, version)
    data = data or FixtureOperations()
    ports = CallPorts(data, channels or MemoryChannels(), tenant.agents.routing, records)
    engine = Engine(project, ports)
    return TenantVersion(tenant.name, version, project, Path(tenant.name), engine, AsyncExitStack())
