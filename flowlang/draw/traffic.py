"""A drawing with its traffic: how many calls visited each node, took each edge, hung up
or failed there (`ivr draw FLOW --stats DB`).

Place: between extract and render, like the diagnostics marks: `overlay` takes a `Diagram`
and plain counts (`FlowTraffic`, filled by `ivr.adapters.reports.traffic` from the call
records) and returns a new `Diagram`. Node fills run from pale to deep blue with the share
of the flow's calls that reached the node (grey: nobody); a border turns amber, then red,
as more of the node's callers hang up there (or any call fails there); each edge carries
its count and share of the node's exits, thicker as more take it, dotted grey when nobody
does (the menu option nobody uses).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

from ivr.flowlang.draw import styles
from ivr.flowlang.draw.model import Diagram, DiagramEdge, DiagramNode, NodeStyle

# fills by the share of the flow's calls that visited the node: (at least, colour)
HEAT = ((0.75, "#42a5f5"), (0.5, "#64b5f6"), (0.25, "#90caf9"), (0.1, "#bbdefb"), (0.0, "#e3f2fd"))
UNVISITED = "#f5f5f5"
DROP_OFF_ALARM = 0.2  # a fifth of the node's callers hang up here: red border
DROP_OFF_NOTICE = 0.05  # one in twenty: amber border


@dataclass(frozen=True)
class NodeTraffic:
    visits: int = 0
    exits: Mapping[str, int] = field(default_factory=dict)  # edge label -> calls that took it
    hangups: int = 0
    errors: int = 0


@dataclass(frozen=True)
class FlowTraffic:
    """The counts of one flow over a time range; `calls`: calls that entered the flow."""

    calls: int
    nodes: Mapping[str, NodeTraffic]
    period: str = ""  # for the title: "2026-12-01 to 2026-12-02"


def overlay(diagram: Diagram, traffic: FlowTraffic) -> Diagram:
    """`diagram` coloured and labelled with `traffic` (nodes without traffic count zero)."""
    nodes = tuple(_node(node, traffic) for node in diagram.nodes)
    edges = tuple(_edge(edge, traffic.nodes.get(edge.source)) for edge in diagram.edges)
    title = f"{diagram.title}: {traffic.calls} calls" + (f", {traffic.period}" if traffic.period else "")
    return dataclasses.replace(diagram, nodes=nodes, edges=edges, title=title)


def _node(node: DiagramNode, traffic: FlowTraffic) -> DiagramNode:
    if node.missing:
        return node
    counts = traffic.nodes.get(node.id, NodeTraffic())
    share = counts.visits / traffic.calls if traffic.calls else 0.0
    lines = [f"{counts.visits} visits ({share:.0%} of calls)"]
    if counts.hangups:
        lines.append(f"{counts.hangups} hung up ({counts.hangups / counts.visits:.0%})")
    if counts.errors:
        lines.append(f"{counts.errors} failed")
    fill = next(colour for least, colour in HEAT if share >= least) if counts.visits else UNVISITED
    style = NodeStyle(node.style.shape, fill, node.style.border)
    return dataclasses.replace(
        node, lines=(*node.lines, *lines), style=style, emphasis=_alarm(counts), tooltip=_tip(node, lines)
    )


def _alarm(counts: NodeTraffic) -> str | None:
    if not counts.visits:
        return None
    drop = counts.hangups / counts.visits
    if counts.errors or drop >= DROP_OFF_ALARM:
        return styles.FAILURE_COLOUR
    return styles.WARNING_COLOUR if drop >= DROP_OFF_NOTICE else None


def _tip(node: DiagramNode, lines: list[str]) -> str:
    return "\n".join([node.tooltip or node.id, *lines])


def _edge(edge: DiagramEdge, source: NodeTraffic | None) -> DiagramEdge:
    exits = source.exits if source is not None else {}
    count = exits.get(edge.label, 0)
    left = sum(exits.values())
    return dataclasses.replace(edge, count=count, share=count / left if left else None)
