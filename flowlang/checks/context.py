"""What every check gets: the project, plus what the compiler knows about gaps in a flow.

A flow whose compilation dropped nodes or values (errors already reported) is checked with
care: edges into a dropped node are not "undefined", and whole-graph verdicts (unreachable,
unused, trapped) are skipped because they could be false.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TypeVar, cast

from ivr.flowlang.checks.sites import Site, Write, flow_sites, flow_writes
from ivr.flowlang.diagnostics import Diagnostic, Severity, Span
from ivr.flowlang.ir import Flow, Node, Project

T = TypeVar("T")


@dataclass(frozen=True)
class Gaps:
    omitted: frozenset[str] = frozenset()
    incomplete: bool = False
    dropped_edges: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True)
class Checking:
    """The project being checked. `whole_project` is False when one flow text is checked
    alone (the editor), so references to other flows cannot be judged. Flows (and the
    service) whose files could not be read are named in `unreadable_flows` and
    `service_unreadable`: references to them are not reported again."""

    project: Project
    gaps: Mapping[str, Gaps] = field(default_factory=dict)
    whole_project: bool = True
    others: tuple[Flow, ...] = ()
    unreadable_flows: frozenset[str] = frozenset()
    service_unreadable: bool = False
    _walks: dict[int, tuple[tuple[Site, ...], tuple[Write, ...]]] = field(
        default_factory=dict, compare=False, repr=False
    )
    _memo: dict[str, object] = field(default_factory=dict, compare=False, repr=False)

    def memo(self, key: str, compute: Callable[[], T]) -> T:
        """A project-wide result computed once per check run (e.g. which outputs carry secrets)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return cast(T, self._memo[key])

    def sites(self, flow: Flow) -> tuple[Site, ...]:
        """Every expression and template of `flow` (walked once, shared by the checks)."""
        return self._walk(flow)[0]

    def writes(self, flow: Flow) -> tuple[Write, ...]:
        """Every variable assignment of `flow` (walked once, shared by the checks)."""
        return self._walk(flow)[1]

    def _walk(self, flow: Flow) -> tuple[tuple[Site, ...], tuple[Write, ...]]:
        # keyed by id: the project holds every flow for as long as this object lives
        walked = self._walks.get(id(flow))
        if walked is None:
            walked = (tuple(flow_sites(flow)), tuple(flow_writes(flow)))
            self._walks[id(flow)] = walked
        return walked

    def all_flows(self) -> Iterator[Flow]:
        """The project's flows, plus flows left out of it (a repeated name) but still checked."""
        yield from self.project.flows.values()
        yield from self.others

    def gaps_of(self, flow: Flow) -> Gaps:
        return self.gaps.get(flow.file, Gaps())

    def operation_arity(self) -> dict[str, int]:
        service = self.project.service
        return {name: len(op.params) for name, op in service.operations.items()} if service else {}


def error(
    code: str, message: str, span: Span, hint: str | None = None, node: Node | None = None
) -> Diagnostic:
    return Diagnostic(code, Severity.ERROR, message, span, hint, node_id=node.id if node else None)


def warning(
    code: str, message: str, span: Span, hint: str | None = None, node: Node | None = None
) -> Diagnostic:
    return Diagnostic(code, Severity.WARNING, message, span, hint, node_id=node.id if node else None)


def listing(names: list[str] | tuple[str, ...], limit: int = 8) -> str:
    """'a, b, c' (and how many more), for hints that list what is available."""
    shown = ", ".join(names[:limit])
    return shown + (f" (and {len(names) - limit} more)" if len(names) > limit else "")
