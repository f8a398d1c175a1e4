"""The drawing model: a plain graph of boxes and arrows, the middle of extract -> model -> render.

`extract` turns a compiled `Flow` into a `Diagram`; `render` turns a `Diagram` into DOT text and
images. The model knows nothing of Graphviz syntax and nothing of the IR, so each side can be
tested (and replaced) on its own: assert on shapes and edge styles here, on DOT text there.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class EdgeKind(enum.Enum):
    """What an arrow means, which decides how it is drawn."""

    NORMAL = "normal"  # next, a menu key, a branch case, an outcome
    FAILURE = "failure"  # on_error, on_failed, on_invalid, on_no_match, ...
    TIMEOUT = "timeout"  # on_timeout, on_no_input: nobody answered in time
    START = "start"  # from the start marker to the flow's first node
    KEY = "key"  # from the global-keys note to where a key goes


@dataclass(frozen=True)
class NodeStyle:
    """How one node kind looks: a Graphviz shape name and colours (hex, `#rrggbb`)."""

    shape: str
    fill: str
    border: str = "#455a64"


@dataclass(frozen=True)
class DiagramNode:
    """One box: `lines` are the label's lines (id, kind, a prompt excerpt), unescaped."""

    id: str
    kind: str
    lines: tuple[str, ...]
    style: NodeStyle
    is_start: bool = False
    reachable: bool = True
    missing: bool = False  # an edge names a node the flow does not have
    tooltip: str = ""
    url: str | None = None
    problems: tuple[str, ...] = ()  # "error FL301: ..." lines of the diagnostics at this node
    severity: str | None = None  # "error" or "warning" when the node has diagnostics
    emphasis: str | None = None  # a border colour that calls for attention (callers drop off here)


@dataclass(frozen=True)
class DiagramEdge:
    """One arrow: `label` is what the flow calls it (a DTMF key, a condition, `on_error`)."""

    source: str
    target: str
    label: str
    kind: EdgeKind = EdgeKind.NORMAL
    reachable: bool = True  # false when its source node is unreachable: drawn grey
    count: int | None = None  # with traffic: how many calls took it (`ivr draw --stats`)
    share: float | None = None  # ... as a fraction of the calls that left its source node

    @property
    def dashed(self) -> bool:
        return self.kind in (EdgeKind.FAILURE, EdgeKind.TIMEOUT, EdgeKind.KEY)


@dataclass(frozen=True)
class Diagram:
    """A whole flow, ready to render. `language` is the prompt language the excerpts use."""

    name: str
    title: str
    language: str
    nodes: tuple[DiagramNode, ...]
    edges: tuple[DiagramEdge, ...]
    start: str | None

    def node(self, node_id: str) -> DiagramNode:
        """The node with this id (a KeyError names it when absent)."""
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    def edges_from(self, node_id: str) -> tuple[DiagramEdge, ...]:
        return tuple(edge for edge in self.edges if edge.source == node_id)
