"""The hosting plan: every tenant resolved, loaded and checked before anything starts.

Place: the first step of `ivr serve`, and all of `ivr check` on a hosting file. With a
hosting file (`plan_hosting`), each tenant's source is found (a folder, or an installed
package's flows found through its entry point), its flows loaded and checked, its module
loaded (tenant code runs here: a failure becomes FL810, never a crash), and the tenants
checked against the file and each other (`ivr.flowlang.tenancy`). Without one
(`plan_folder`), the flows folder is the one tenant, named after its service, as
`ivr serve --flows DIR` has always served it.

Nothing here starts a task or opens a socket; the plan is plain data for the server, the
publisher and the commands.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ivr.adapters.hosting.modules import ModuleLoadError, load_module, module_diagnostics
from ivr.flowlang.diagnostics import Diagnostic, Severity, Span, rank
from ivr.flowlang.hostingfile import HOSTING_FILE, HostingDecl, TenantDecl, load_hosting
from ivr.flowlang.ir import Project
from ivr.flowlang.project import load_project
from ivr.flowlang.tenancy import TenantProject, check_tenants
from ivr.runtime.modules import Module

DEFAULT_TENANT = "default"


@dataclass(frozen=True)
class TenantPlan:
    """One tenant, resolved: `source` is the folder its flows came from (None: not found)."""

    name: str
    decl: TenantDecl | None
    source: Path | None
    project: Project
    module: Module | None = None
    module_reference: str | None = None

    @property
    def hosted(self) -> bool:
        return self.decl is not None

    @property
    def numbers(self) -> tuple[str, ...]:
        """The numbers this tenant answers: leased ones (hosted) or its service's (folder)."""
        if self.decl is not None:
            return self.decl.numbers
        return tuple(route.number for route in self.project.service.numbers) if self.project.service else ()


@dataclass
class HostingPlan:
    """The tenants, the hosting file (None for a plain folder), sources and diagnostics."""

    hosting: HostingDecl | None
    tenants: dict[str, TenantPlan] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]


def hosting_file_of(path: Path) -> Path | None:
    """`path` itself when it is a hosting file, its `hosting.yaml` when it is a folder that
    has one, else None."""
    if path.is_dir():
        candidate = path / HOSTING_FILE
        return candidate if candidate.is_file() else None
    if path.suffix in (".yaml", ".yml") and path.is_file():
        from ivr.flowlang.hostingfile import is_hosting_text

        try:
            head = path.read_text(encoding="utf-8", errors="replace")[:100_000]
        except OSError:
            return None
        return path if is_hosting_text(head) else None
    return None


def plan_folder(flows: Path) -> HostingPlan:
    """A flows folder as the one tenant (no hosting file)."""
    project, diagnostics = load_project([str(flows)])
    name = project.service.name if project.service else DEFAULT_TENANT
    module, found = module_diagnostics(project.service, flows, name)
    plan = HostingPlan(None, sources=dict(project.sources), diagnostics=rank([*diagnostics, *found]))
    reference = project.service.module if project.service else None
    plan.tenants[name] = TenantPlan(name, None, flows, project, module, reference)
    return plan


def plan_hosting(file: Path) -> HostingPlan:
    """Every tenant of a hosting file (see the module docstring)."""
    hosting, sources, found = load_hosting(file)
    plan = HostingPlan(hosting, sources=dict(sources), diagnostics=list(found))
    if hosting is None:
        return plan
    loaded: dict[str, TenantProject] = {}
    for decl in hosting.tenants.values():
        tenant, tenant_project, problems = _tenant(hosting, decl)
        plan.tenants[decl.name] = tenant
        plan.sources.update(tenant.project.sources)
        plan.diagnostics.extend(problems)
        if tenant_project is not None:
            loaded[decl.name] = tenant_project
    plan.diagnostics.extend(check_tenants(hosting, loaded))
    plan.diagnostics = rank(plan.diagnostics)
    return plan


def _tenant(
    hosting: HostingDecl, decl: TenantDecl
) -> tuple[TenantPlan, TenantProject | None, list[Diagnostic]]:
    """Resolve one tenant: (its plan, its loaded flows for the cross-checks, other problems)."""
    empty = Project({}, None, {})
    source, module, problem = _source(hosting, decl)
    if source is None:
        return TenantPlan(decl.name, decl, None, empty), None, [problem] if problem else []
    project, diagnostics = load_project([str(source)])
    service = project.service
    problems: list[Diagnostic] = []
    if not project.flows and not any(d.is_error for d in diagnostics):
        problems.append(_not_found(decl, f"tenant '{decl.name}': {source} holds no flows"))
    reference = service.module if service else None
    if decl.package is not None and reference not in (None, decl.package):
        span = service.module_span if service and service.module_span else decl.span
        message = (
            f"the service names module {reference!r}, but tenant '{decl.name}' is package {decl.package!r}"
        )
        problems.append(
            Diagnostic("FL810", Severity.ERROR, message, span, "name the package's own entry point")
        )
    else:
        module, more = module_diagnostics(service, source, decl.name, preloaded=module)
        problems.extend(more)
    if decl.agents is not None and not (hosting.folder / decl.agents).is_file():
        message = f"agents file {hosting.folder / decl.agents} does not exist"
        problems.append(Diagnostic("FL814", Severity.ERROR, message, decl.agents_span or decl.span))
    plan = TenantPlan(decl.name, decl, source, project, module, reference or decl.package)
    return plan, TenantProject(decl.name, project, source, tuple(diagnostics)), problems


def _source(hosting: HostingDecl, decl: TenantDecl) -> tuple[Path | None, Module | None, Diagnostic | None]:
    """The tenant's flows folder (and, for a package, its module), or the problem."""
    if decl.folder is not None:
        folder = hosting.folder / decl.folder
        if folder.is_dir():
            return folder, None, None
        return None, None, _not_found(decl, f"tenant '{decl.name}': folder {folder} does not exist")
    if decl.package is None:
        return None, None, None  # FL801 already says so
    try:
        module = load_module(decl.package, hosting.folder, decl.name)
    except ModuleLoadError as exc:
        return None, None, _not_found(decl, f"tenant '{decl.name}': {exc}")
    if module.flows is None or not Path(module.flows).is_dir():
        return (
            None,
            module,
            _not_found(decl, f"tenant '{decl.name}': module {decl.package!r} ships no flows folder"),
        )
    return Path(module.flows), module, None


def _not_found(decl: TenantDecl, message: str) -> Diagnostic:
    span: Span = decl.source_span or decl.span
    return Diagnostic("FL804", Severity.ERROR, message, span, "see `ivr explain FL804`")
