"""Render a drawing model: `Diagram` -> `graphviz.Digraph` -> DOT text, SVG, PNG or PDF.

The last stage of extract -> model -> render, and the only one that knows Graphviz. Every
label is an HTML-like label built from escaped text, so nothing a flow author writes in a
prompt (quotes, `<`, `&`, backslashes) can break the DOT source. Images come from the `dot`
program through the `graphviz` package; a missing `dot` raises `GraphvizNotFound`.
"""

from __future__ import annotations

import functools
import html
import shutil
import subprocess
import unicodedata
from pathlib import Path

import graphviz

from ivr.flowlang.draw import styles
from ivr.flowlang.draw.model import Diagram, DiagramEdge, DiagramNode, EdgeKind

FORMATS = ("svg", "png", "pdf", "dot")

# A plain arrow means `next`; writing it on every arrow would only add noise.
PLAIN_EDGE_LABEL = "next"

# Graphviz passes the list to fontconfig/pango (PNG, PDF) and verbatim to CSS (SVG), so
# Chinese prompts find a CJK font wherever one is installed. Nothing is installed for it.
CJK_FONTS = "Noto Sans CJK SC,Source Han Sans SC,WenQuanYi Zen Hei,Microsoft YaHei,PingFang SC"
FONT_FALLBACK = f"{CJK_FONTS},DejaVu Sans,sans-serif"


class GraphvizNotFound(RuntimeError):
    """The Graphviz `dot` program is not on PATH: install the `graphviz` system package
    (apt install graphviz, brew install graphviz), or draw with `-o FILE.dot` instead."""


class RenderError(RuntimeError):
    """`dot` ran but failed; the message carries what it printed on stderr."""


@functools.cache
def font_list() -> str:
    """The fallback list, led by a CJK font that fontconfig reports as installed, if any."""
    found = _installed_cjk_family()
    return f"{found},{FONT_FALLBACK}" if found else FONT_FALLBACK


def missing_cjk_font(diagram: Diagram) -> bool:
    """True when the diagram has Chinese (or other CJK) text but no CJK font is installed, so
    PNG and PDF output would show boxes; SVG leaves the font to the viewer."""
    text = "".join(line for node in diagram.nodes for line in node.lines)
    has_cjk = any(unicodedata.east_asian_width(ch) in "WF" for ch in text)
    return has_cjk and _installed_cjk_family() is None


@functools.cache
def _installed_cjk_family() -> str | None:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return None
    try:
        out = subprocess.run(
            [fc_list, ":lang=zh", "family"], capture_output=True, text=True, timeout=5, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    families = sorted({line.split(",")[0].strip() for line in out.splitlines() if line.strip()})
    return families[0] if families else None


def to_digraph(diagram: Diagram, fontname: str | None = None) -> graphviz.Digraph:
    """The diagram as a `graphviz.Digraph`, ready for `.source` or `.pipe()`."""
    font = fontname or font_list()
    graph = graphviz.Digraph(name=diagram.name, comment=f"flow {diagram.name}")
    graph.attr(rankdir="TB", labelloc="t", fontsize="16", fontname=font, bgcolor="white")
    graph.attr(label=f"<{_escape(diagram.title)}>", nodesep="0.4", ranksep="0.5")
    graph.attr("node", fontname=font, fontsize="11", style="filled", margin="0.15,0.06")
    graph.attr("edge", fontname=font, fontsize="10", arrowsize="0.7")
    if diagram.start is not None:
        _add_start_marker(graph, diagram)
    for node in diagram.nodes:
        graph.node(node.id, **_node_attrs(node))
    for edge in diagram.edges:
        graph.edge(edge.source, edge.target, **_edge_attrs(edge))
    return graph


def to_dot(diagram: Diagram, fontname: str | None = None) -> str:
    """DOT source text for the diagram."""
    source: str = to_digraph(diagram, fontname).source
    return source


def render(diagram: Diagram, fmt: str, fontname: str | None = None) -> bytes:
    """The diagram in `fmt` (one of FORMATS) as bytes; `dot` is DOT text, no program needed."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    graph = to_digraph(diagram, fontname)
    if fmt == "dot":
        return str(graph.source).encode("utf-8")
    try:
        data: bytes = graph.pipe(format=fmt, quiet=True)
    except graphviz.ExecutableNotFound as exc:
        raise GraphvizNotFound("Graphviz `dot` not found; install the graphviz package") from exc
    except graphviz.CalledProcessError as exc:
        detail = exc.stderr.decode("utf-8", "replace") if isinstance(exc.stderr, bytes) else ""
        raise RenderError(f"dot failed: {detail.strip() or exc}") from exc
    return data


def write(diagram: Diagram, path: Path, fmt: str | None = None, fontname: str | None = None) -> Path:
    """Render into `path` (format from its extension unless given), creating parent folders."""
    chosen = fmt or format_from_path(path)
    data = render(diagram, chosen, fontname)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def format_from_path(path: Path) -> str:
    """`out.svg` -> "svg"; ValueError for an extension we cannot render."""
    suffix = path.suffix.lower().lstrip(".")
    if suffix == "gv":
        return "dot"
    if suffix not in FORMATS:
        raise ValueError(f"cannot tell the format from {path.name!r}; use .svg, .png, .pdf or .dot")
    return suffix


def _add_start_marker(graph: graphviz.Digraph, diagram: Diagram) -> None:
    marker = start_marker_id(diagram)
    graph.node(
        marker,
        label="start",
        shape="circle",
        style="filled",
        fillcolor="#263238",
        fontcolor="white",
        fontsize="9",
        width="0.5",
        fixedsize="true",
    )
    assert diagram.start is not None
    graph.edge(marker, diagram.start, color=styles.NORMAL_COLOUR, penwidth="1.5")


def start_marker_id(diagram: Diagram) -> str:
    """An id for the start marker that no node of the flow uses."""
    ids = {node.id for node in diagram.nodes}
    marker = "__start__"
    while marker in ids:
        marker = f"_{marker}_"
    return marker


def _node_attrs(node: DiagramNode) -> dict[str, str]:
    style = node.style
    attrs = {
        "label": _node_label(node),
        "shape": style.shape,
        "fillcolor": style.fill,
        "color": style.border,
        "tooltip": graphviz.escape(node.tooltip or node.id),
    }
    if node.is_start:
        attrs["penwidth"] = "2.5"
    if node.url:
        attrs["URL"] = graphviz.escape(node.url)
        attrs["target"] = "_top"
    if node.emphasis is not None:
        attrs.update(color=node.emphasis, penwidth="3")
    if node.severity is not None:
        colour = styles.FAILURE_COLOUR if node.severity == "error" else styles.WARNING_COLOUR
        attrs.update(color=colour, penwidth="3")
    if node.missing:
        attrs["style"] = "dashed"
        attrs["fontcolor"] = styles.FAILURE_COLOUR
    elif not node.reachable:
        attrs.update(fillcolor=styles.UNREACHABLE_FILL, color=styles.UNREACHABLE_INK)
        attrs.update(fontcolor=styles.UNREACHABLE_INK, style="filled,dashed")
    return attrs


def _node_label(node: DiagramNode) -> str:
    """`<B>id</B>`, then the kind in small type, then the remaining lines."""
    head, *rest = node.lines or (node.id,)
    parts = [f"<B>{_escape(head)}</B>"]
    if len(rest) >= 1:
        parts.append(f'<FONT POINT-SIZE="9">{_escape(rest[0])}</FONT>')
    parts.extend(_escape(line) for line in rest[1:])
    return "<" + "<BR/>".join(parts) + ">"


def _edge_attrs(edge: DiagramEdge) -> dict[str, str]:
    colour = styles.edge_colour(edge.kind) if edge.reachable else styles.UNREACHABLE_INK
    attrs = {"color": colour, "fontcolor": colour, "tooltip": graphviz.escape(edge.label)}
    if edge.label and edge.label != PLAIN_EDGE_LABEL:
        attrs["label"] = f"<{_escape(edge.label)}>"
    if edge.dashed:
        attrs["style"] = "dashed"
    if edge.count is not None:
        _traffic_attrs(edge, edge.count, attrs)
    if edge.kind is EdgeKind.START:
        attrs["penwidth"] = "1.5"
    return attrs


def _traffic_attrs(edge: DiagramEdge, count: int, attrs: dict[str, str]) -> None:
    """An edge with traffic: its count and share under the label, thicker as more take it;
    an edge nobody took is dotted grey."""
    share = f" ({edge.share:.0%})" if edge.share is not None else ""
    head = _escape(edge.label) + "<BR/>" if edge.label and edge.label != PLAIN_EDGE_LABEL else ""
    attrs["label"] = f"<{head}<B>{count}</B>{_escape(share)}>"
    attrs["penwidth"] = f"{1 + 5 * (edge.share or 0.0):.1f}"
    if count == 0:
        attrs.update(color=styles.UNREACHABLE_INK, fontcolor=styles.UNREACHABLE_INK, style="dotted")


def _escape(text: str) -> str:
    """Text made safe inside an HTML-like label: markup characters become entities."""
    return html.escape(text, quote=False).replace('"', "&quot;")
