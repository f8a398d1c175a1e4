"""Drawing flows as graphs, in three stages as python-statemachine does it:

`extract` (compiled `Flow` -> plain `Diagram` model) -> `model` -> `render` (`Diagram` ->
Graphviz DOT, SVG, PNG or PDF). `ivr draw` (`ivr.commands.draw`) is the command-line face.
Only `render` knows Graphviz, and only image formats need the `dot` program.
"""

from __future__ import annotations

from ivr.flowlang.draw.extract import extract, reachable_ids
from ivr.flowlang.draw.model import Diagram, DiagramEdge, DiagramNode, EdgeKind, NodeStyle
from ivr.flowlang.draw.render import (
    FORMATS,
    GraphvizNotFound,
    RenderError,
    format_from_path,
    render,
    to_digraph,
    to_dot,
    write,
)
from ivr.flowlang.draw.traffic import FlowTraffic, NodeTraffic, overlay

__all__ = [
    "FORMATS",
    "Diagram",
    "DiagramEdge",
    "DiagramNode",
    "EdgeKind",
    "FlowTraffic",
    "GraphvizNotFound",
    "NodeStyle",
    "NodeTraffic",
    "RenderError",
    "extract",
    "format_from_path",
    "overlay",
    "reachable_ids",
    "render",
    "to_digraph",
    "to_dot",
    "write",
]
