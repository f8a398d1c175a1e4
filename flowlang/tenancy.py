"""Checks across the tenants of a hosting file: each tenant's flows against the file and
against each other (FL805-FL809, FL812).

Place: after `ivr.flowlang.hostingfile` (the file alone) and `ivr.flowlang.project` (each
tenant's flows alone), before anything runs; pure like the rest of flowlang. A tenant's flows
may use only their own flows, operations, queues, calendars and channels (FL807, which
replaces the plain "unknown name" diagnostic of the same place), only files inside the
tenant (FL808), only the numbers leased to the tenant (FL805, FL806), and Python code only
through the tenant's module (FL809). Module loading (FL810, FL811) needs Python imports
and is the hosting adapter's check.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from ivr.flowlang.diagnostics import Diagnostic, Severity, Span
from ivr.flowlang.hostingfile import HostingDecl, TenantDecl
from ivr.flowlang.ir import Enqueue, Lookup, Project, Schedule, Send, Subflow

__all__ = ["TenantProject", "check_tenants", "names_of", "relocate"]

# the "unknown name" codes FL807 replaces, by the kind of name
_UNKNOWN = {"flow": "FL606", "operation": "FL601", "queue": "FL603", "calendar": "FL604", "channel": "FL605"}


@dataclass(frozen=True)
class TenantProject:
    """One tenant's loaded flows: its `Project`, the folder they came from, its diagnostics."""

    name: str
    project: Project
    root: Path
    diagnostics: tuple[Diagnostic, ...] = ()


def names_of(project: Project) -> dict[str, frozenset[str]]:
    """The names a project defines, by kind."""
    service = project.service
    return {
        "flow": frozenset(project.flows),
        "operation": frozenset(service.operations if service else ()),
        "queue": frozenset(service.queues if service else ()),
        "calendar": frozenset(service.calendars if service else ()),
        "channel": frozenset(service.channels if service else ()),
    }


def check_tenants(
    hosting: HostingDecl, tenants: Mapping[str, TenantProject], *, only: str | None = None
) -> list[Diagnostic]:
    """Every tenant's diagnostics (their own, with the plain "unknown name" ones that FL807
    replaces removed) and the cross-tenant ones; with `only`, those of that one tenant
    (the others are there for their names: a publish checks one tenant's next version)."""
    names = {name: names_of(t.project) for name, t in tenants.items()}
    out: list[Diagnostic] = []
    for name, tenant in tenants.items():
        if only is not None and name != only:
            continue
        decl = hosting.tenants[name]
        others = {other: n for other, n in names.items() if other != name}
        foreign = list(_foreign_names(tenant.project, names[name], others))
        replaced = {(d.span, _UNKNOWN[kind]) for d, kind in foreign}
        out.extend(d for d in tenant.diagnostics if (d.span, d.code) not in replaced)
        out.extend(d for d, _ in foreign)
        out.extend(_numbers(hosting, decl, tenant.project))
        out.extend(_paths(tenant))
        out.extend(_python_operations(tenant.project))
        out.extend(_overflow(decl, tenant.project))
    return out


def _foreign_names(
    project: Project, own: Mapping[str, frozenset[str]], others: Mapping[str, Mapping[str, frozenset[str]]]
) -> Iterator[tuple[Diagnostic, str]]:
    for flow in project.flows.values():
        for node in flow.nodes.values():
            for kind, name, span in _references(node):
                if name in own[kind]:
                    continue
                owner = next((t for t, n in sorted(others.items()) if name in n[kind]), None)
                if owner is None:
                    continue
                message = f"'{name}' is a {kind} of tenant '{owner}'; a tenant uses only its own {kind}s"
                hint = f"use a {kind} of this tenant" + (
                    f" (it has: {', '.join(sorted(own[kind]))})" if own[kind] else ""
                )
                yield Diagnostic("FL807", Severity.ERROR, message, span, hint, node_id=node.id), kind


def _references(node: object) -> Iterator[tuple[str, str, Span]]:
    match node:
        case Subflow():
            yield "flow", node.flow, node.flow_span
        case Lookup():
            yield "operation", node.operation, node.operation_span
        case Enqueue():
            yield "queue", node.queue, node.queue_span
        case Schedule():
            yield "calendar", node.calendar, node.calendar_span
        case Send():
            yield "channel", node.channel, node.channel_span


def _numbers(hosting: HostingDecl, decl: TenantDecl, project: Project) -> Iterator[Diagnostic]:
    routes = project.service.numbers if project.service else ()
    routed = {route.number for route in routes}
    for route in routes:
        if route.number in decl.numbers:
            continue
        owner = hosting.tenant_of(route.number)
        whose = f"tenant '{owner.name}'" if owner else "no tenant"
        message = f"the service routes {route.number}, which the hosting file leases to {whose}"
        hint = f"this tenant's numbers are {', '.join(decl.numbers) or 'none'}; route those"
        yield Diagnostic("FL805", Severity.ERROR, message, route.span, hint)
    for number in decl.numbers:
        if number not in routed:
            message = (
                f"number {number} is leased to tenant '{decl.name}', whose service routes no flow for it"
            )
            hint = f'add `"{number}": <flow>` under `numbers:` in the tenant\'s service file'
            yield Diagnostic("FL806", Severity.ERROR, message, decl.number_span(number), hint)


def _paths(tenant: TenantProject) -> Iterator[Diagnostic]:
    """Audio prompts inside the tenant's folder; SQLite databases inside its data directory."""
    root = tenant.root.resolve()
    for flow in tenant.project.flows.values():
        folder = Path(flow.file).parent
        for node in flow.nodes.values():
            for prompt in node.prompts():
                for text in prompt.by_language.values():
                    if text.audio is not None and not _inside(folder / text.audio, root, text.audio):
                        message = f"audio file '{text.audio}' is outside the tenant's folder"
                        hint = "keep prompts in the tenant's folder, relative to the flow file"
                        yield Diagnostic("FL808", Severity.ERROR, message, text.span, hint, node_id=node.id)
    service = tenant.project.service
    for operation in service.operations.values() if service else ():
        database = operation.config.get("database")
        if (
            operation.backend != "sql"
            or not isinstance(database, str)
            or "://" in database.removeprefix("sqlite:///")
        ):
            continue
        relative = database.removeprefix("sqlite:///")
        if PurePosixPath(relative).is_absolute() or ".." in PurePosixPath(relative).parts:
            where = f"database '{database}' of operation '{operation.name}'"
            message = f"{where} is outside the tenant's data directory"
            hint = "name a file relative to the tenant's data directory, e.g. fund.sqlite3"
            yield Diagnostic("FL808", Severity.ERROR, message, operation.span, hint)


def _inside(path: Path, root: Path, written: str) -> bool:
    if "{" in written:  # an interpolated name: judged when it is played
        return not PurePosixPath(written).is_absolute()
    try:
        path.resolve().relative_to(root)
    except ValueError:
        return False
    return True


def _python_operations(project: Project) -> Iterator[Diagnostic]:
    service = project.service
    for operation in service.operations.values() if service else ():
        if operation.backend == "python":
            message = f"operation '{operation.name}' uses `backend: python`, which a hosted tenant may not"
            hint = "declare `module:` in the service file and `backend: module` here (docs/tenants.md)"
            yield Diagnostic("FL809", Severity.ERROR, message, operation.span, hint)


def _overflow(decl: TenantDecl, project: Project) -> Iterator[Diagnostic]:
    flow = decl.overflow_flow
    if flow is not None and project.flows and flow not in project.flows:
        message = f"overflow flow '{flow}' is not a flow of tenant '{decl.name}'"
        hint = f"name one of: {', '.join(sorted(project.flows))}"
        yield Diagnostic("FL812", Severity.ERROR, message, decl.overflow_span or decl.span, hint)


def relocate(diagnostics: Iterable[Diagnostic], old: str, new: str) -> list[Diagnostic]:
    """Diagnostics whose file names start with folder `old`, renamed to start with `new`
    (a staged copy of a tenant's files reported under the names the author knows)."""
    prefix = old.rstrip("/") + "/"
    out = []
    for d in diagnostics:
        if d.span.file.startswith(prefix):
            d = replace(
                d, span=replace(d.span, file=new.rstrip("/") + "/" + d.span.file.removeprefix(prefix))
            )
        out.append(d)
    return out
