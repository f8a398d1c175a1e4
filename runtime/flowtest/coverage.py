"""Node and edge coverage of flows by the calls that tests made."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ivr.flowlang.ir import Flow
from ivr.runtime.context import Visit


@dataclass
class FlowCoverage:
    flow: Flow
    nodes: set[str] = field(default_factory=set)
    edges: set[tuple[str, str]] = field(default_factory=set)

    @property
    def all_edges(self) -> list[tuple[str, str]]:
        return [(node.id, edge.label) for node in self.flow.nodes.values() for edge in node.edges()]

    def uncovered_nodes(self) -> list[str]:
        return [n for n in self.flow.nodes if n not in self.nodes]

    def uncovered_edges(self) -> list[str]:
        return [f"{n}.{label}" for n, label in self.all_edges if (n, label) not in self.edges]


class Coverage:
    """Accumulates visits across test calls, per flow."""

    def __init__(self) -> None:
        self.flows: dict[str, FlowCoverage] = {}

    def add_flows(self, flows: Iterable[Flow]) -> None:
        for flow in flows:
            self.flows.setdefault(flow.name, FlowCoverage(flow))

    def add_path(self, path: Iterable[Visit]) -> None:
        for visit in path:
            covered = self.flows.get(visit.flow)
            if covered is None:
                continue
            covered.nodes.add(visit.node)
            if visit.edge is not None:
                covered.edges.add((visit.node, visit.edge))

    def table(self) -> str:
        rows = [("flow", "nodes", "edges", "uncovered")]
        for name, cov in sorted(self.flows.items()):
            nodes = f"{len(cov.nodes)}/{len(cov.flow.nodes)}"
            edges = f"{len(cov.edges)}/{len(cov.all_edges)}"
            rows.append((name, nodes, edges, ", ".join(cov.uncovered_nodes() + cov.uncovered_edges()) or "-"))
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        return "\n".join(
            f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]}" for r in rows
        )
