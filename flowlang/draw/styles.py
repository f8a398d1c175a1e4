"""The look of a drawn flow: one table from node kind to shape and colour, and edge classes.

Kept apart from `extract` so the legend in `docs/draw.md` and this table are one thing to
keep in step. Shapes are Graphviz names; colours are soft fills with a darker border so a
printed graph stays readable in grey scale too.
"""

from __future__ import annotations

from ivr.flowlang.draw.model import EdgeKind, NodeStyle

KIND_STYLES: dict[str, NodeStyle] = {
    "say": NodeStyle("note", "#e3f2fd", "#1565c0"),
    "menu": NodeStyle("hexagon", "#fff8e1", "#ef6c00"),
    "collect": NodeStyle("parallelogram", "#e8f5e9", "#2e7d32"),
    "confirm": NodeStyle("octagon", "#f1f8e9", "#558b2f"),
    "branch": NodeStyle("diamond", "#f3e5f5", "#6a1b9a"),
    "set": NodeStyle("box", "#fafafa", "#616161"),
    "lookup": NodeStyle("cylinder", "#e0f7fa", "#00838f"),
    "subflow": NodeStyle("box3d", "#ede7f6", "#4527a0"),
    "return": NodeStyle("doublecircle", "#e8eaf6", "#283593"),
    "enqueue": NodeStyle("cds", "#ffe0b2", "#e65100"),
    "transfer": NodeStyle("rarrow", "#ffccbc", "#bf360c"),
    "record": NodeStyle("tab", "#fce4ec", "#ad1457"),
    "send": NodeStyle("folder", "#e1f5fe", "#0277bd"),
    "schedule": NodeStyle("septagon", "#fffde7", "#f9a825"),
    "language": NodeStyle("invhouse", "#f5f5f5", "#616161"),
    "log": NodeStyle("underline", "#ffffff", "#9e9e9e"),
    "hangup": NodeStyle("doublecircle", "#ffebee", "#c62828"),
}

FALLBACK_STYLE = NodeStyle("box", "#ffffff", "#616161")
MISSING_STYLE = NodeStyle("box", "#ffffff", "#d32f2f")
GLOBAL_KEYS_STYLE = NodeStyle("note", "#fffde7", "#9e9d24")  # the note of global keys

UNREACHABLE_FILL = "#eeeeee"
UNREACHABLE_INK = "#9e9e9e"
FAILURE_COLOUR = "#d32f2f"
WARNING_COLOUR = "#f9a825"
TIMEOUT_COLOUR = "#e64a19"
NORMAL_COLOUR = "#37474f"

# Edge names (with or without the `on_` prefix) that mean something went wrong.
_FAILURE_NAMES = frozenset({"error", "failed", "invalid", "no_match", "overflow", "no_agents"})
_TIMEOUT_NAMES = frozenset({"timeout", "no_input"})


def style_for(kind: str) -> NodeStyle:
    """The style of a node kind; an unknown kind gets a plain box rather than an error."""
    return KIND_STYLES.get(kind, FALLBACK_STYLE)


def classify_edge(label: str) -> EdgeKind:
    """Failure and timeout edges are drawn dashed; everything else (keys, cases) is solid."""
    name = label.strip().lower().removeprefix("on_").replace("-", "_").replace(" ", "_")
    if name in _TIMEOUT_NAMES:
        return EdgeKind.TIMEOUT
    if name in _FAILURE_NAMES:
        return EdgeKind.FAILURE
    return EdgeKind.NORMAL


def edge_colour(kind: EdgeKind) -> str:
    if kind is EdgeKind.FAILURE:
        return FAILURE_COLOUR
    if kind is EdgeKind.TIMEOUT:
        return TIMEOUT_COLOUR
    if kind is EdgeKind.KEY:
        return GLOBAL_KEYS_STYLE.border
    return NORMAL_COLOUR
