"""Test helpers shipped as real code: tenants that serve without SIP, TTS or a module's life.

`serving_tenant` builds a `Tenant` the way the server does (plan, layout, shared parts) and
installs a version whose engine runs on the ports you give (in-memory ones by default), so
admission, seats, publishing swaps, records stamping and the HTTP API can be driven with
`MemoryCallLeg`s on a virtual clock. `module_answers` is the conformance check a tenant
runs on its module against its service file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack
from pathlib import Path

from ivr.adapters.hosting.admission import Admission, Admit, Refuse
from ivr.adapters.hosting.config import HostingConfig
from ivr.adapters.hosting.layout import TenantLayout
from ivr.adapters.hosting.leg import new_call_id
from ivr.adapters.hosting.live import LiveCalls, TappedRecords
from ivr.adapters.hosting.metrics import Metrics
from ivr.adapters.hosting.modules import open_service_operations
from ivr.adapters.hosting.plan import TenantPlan
from ivr.adapters.hosting.stores import RecordStore
from ivr.adapters.hosting.tenants import (
    AgentLine,
    Shared,
    Tenant,
    TenantAgents,
    TenantVersion,
    VersionRecords,
)
from ivr.adapters.speech.espeak import RenderedPrompt
from ivr.flowlang.diagnostics import Span
from ivr.flowlang.hostingfile import Seats, TenantDecl
from ivr.flowlang.ir import Project, Service
from ivr.runtime.context import CallPorts
from ivr.runtime.engine import CallOutcome, Engine
from ivr.runtime.modules import Module
from ivr.runtime.ports import AgentRouting, DataOperations, MessageChannels, OperationError
from ivr.runtime.testing import FixtureOperations, MemoryCallLeg, MemoryChannels, ScriptedRouting


class SilentSpeech:
    """A `PromptRenderer` that renders nothing (for tenants whose calls run on memory legs)."""

    def __init__(self, cache: Path | None = None) -> None:
        self.rendered: list[tuple[str, str]] = []

    async def render(self, text: str, language: str) -> RenderedPrompt:
        self.rendered.append((text, language))
        return RenderedPrompt(Path("/dev/null"), 0.0)


def shared_parts(
    store: RecordStore,
    data_dir: Path,
    metrics: Metrics | None = None,
    *,
    hosting_file: Path | None = None,
    live: LiveCalls | None = None,
    agent_line: Callable[[TenantLayout], AgentLine] | None = None,
) -> Shared:
    """What the server shares between tenants, without SIP or TTS (`agent_line`: e.g. a
    `DeskConnector` per tenant, for agents without phones)."""
    metrics = metrics or Metrics()
    records = TappedRecords(store, live or LiveCalls(), metrics)
    config = HostingConfig(data_dir=data_dir, hosting_file=hosting_file, announce_every=0)
    return Shared(config, None, store, records, metrics, speech=SilentSpeech, agent_line=agent_line)


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
    tenant.settled.set()
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


async def memory_call(
    admission: Admission, number: str, leg: MemoryCallLeg | None = None, *, caller: str = "13800000000"
) -> tuple[Admit | Refuse, MemoryCallLeg | None, CallOutcome | None]:
    """One call to `number` as the supervisor runs it (admission, the tenant's version held
    to the end, its engine), on a memory leg instead of SIP: (decision, leg, outcome)."""
    decision = admission.decide(number)
    if isinstance(decision, Refuse):
        return decision, None, None
    admission.enter(decision)
    try:
        leg = leg or MemoryCallLeg(call_id=new_call_id(), caller=caller, dialed=number, seconds_per_char=0.0)
        outcome = await decision.version.engine.run_call(leg, decision.flow)
    finally:
        admission.leave(decision)
    return decision, leg, outcome


async def module_answers(
    service: Service,
    *,
    base_dir: Path,
    data_dir: Path,
    calls: Mapping[str, Mapping[str, object]],
    settings: Mapping[str, object] | None = None,
    module: Module | None = None,
) -> list[str]:
    """The conformance check a tenant runs on its module: started as the server starts it,
    each operation in `calls` is called through the service's declaration (timeout, retries,
    parameters) and must answer a mapping holding every field its `returns:` lists. The
    problems found (empty: the module keeps its service file's promises)."""
    problems: list[str] = []
    async with open_service_operations(
        service, base_dir=base_dir, data_dir=data_dir, module=module, settings=settings, tasks=False
    ) as operations:
        for name, args in calls.items():
            declared = service.operations.get(name)
            if declared is None:
                problems.append(f"{name}: not declared in the service")
                continue
            try:
                answer = await operations.invoke(name, args)
            except OperationError as exc:
                problems.append(f"{name}: {exc}")
                continue
            if not isinstance(answer, Mapping):
                problems.append(f"{name}: answered {type(answer).__name__}, not a mapping")
                continue
            if missing := [field for field in declared.returns if field not in answer]:
                problems.append(f"{name}: the answer lacks {', '.join(missing)} (declared in returns:)")
    return problems
