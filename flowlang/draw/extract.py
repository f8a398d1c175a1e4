"""Extract a drawing model from a compiled flow: `Flow` -> `Diagram`, the first drawing stage.

Reads only the IR (`ivr.flowlang.ir`): every node's `edges()` gives the arrows, so drawing
never special-cases how a kind stores its edges. Per kind it only picks a shape (see
`styles`) and a one-line detail. Reachability is a walk from the start node; an edge to a
node the flow lacks gets a dashed placeholder box, so a flow with errors still draws.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from typing import assert_never

from ivr.flowlang import ir
from ivr.flowlang.diagnostics import Diagnostic, Severity
from ivr.flowlang.draw import styles
from ivr.flowlang.draw.model import Diagram, DiagramEdge, DiagramNode, EdgeKind
from ivr.flowlang.expressions import Template, unparse
from ivr.flowlang.globalkeys import ActiveKey, active_keys, goto_edges

EXCERPT_WIDTH = 40  # terminal columns: a Chinese character counts two


def extract(
    flow: ir.Flow,
    language: str | None = None,
    flow_links: Mapping[str, str] | None = None,
    diagnostics: Iterable[Diagnostic] = (),
    service: ir.Service | None = None,
) -> Diagram:
    """The drawing model of `flow`, its excerpts in `language` (default: the flow's first).

    `flow_links` maps other flows' names to a URL (their file, or their drawing); subflow
    nodes link there. `diagnostics` of the flow's file mark the nodes they fall in. With the
    `service`, the global keys that `goto` a node are drawn once, as a note with a dashed
    arrow to each such node (not from every menu), and those nodes count as reached.
    """
    lang = language or (flow.languages[0] if flow.languages else "")
    keyed = goto_edges(service, flow)
    reachable = reachable_ids(flow, keyed)
    problems = problems_by_node(flow, diagnostics)
    nodes = [
        _mark(_node(n, flow, lang, reachable, flow_links or {}), problems.get(n.id, []))
        for n in flow.nodes.values()
    ]
    edges = [_edge(n.id, e, n.id in reachable) for n in flow.nodes.values() for e in n.edges()]
    nodes.extend(_missing_nodes(flow, edges))
    if keyed:
        note, arrows = _global_keys(flow, service, keyed, reachable)
        nodes.append(note)
        edges.extend(arrows)
    start = flow.start if flow.start in flow.nodes else None
    title = f"{flow.name} ({flow.file})" if flow.file else flow.name
    return Diagram(flow.name, title, lang, tuple(nodes), tuple(edges), start)


def problems_by_node(flow: ir.Flow, diagnostics: Iterable[Diagnostic]) -> dict[str, list[Diagnostic]]:
    """The diagnostics that belong to each node: those naming it, or placed inside its YAML."""
    found: dict[str, list[Diagnostic]] = {}
    for diagnostic in diagnostics:
        if diagnostic.severity is Severity.INFO:
            continue
        node_id = diagnostic.node_id if diagnostic.node_id in flow.nodes else _node_at(flow, diagnostic)
        if node_id is not None:
            found.setdefault(node_id, []).append(diagnostic)
    return found


def _node_at(flow: ir.Flow, diagnostic: Diagnostic) -> str | None:
    span = diagnostic.span
    for node in flow.nodes.values():
        inside = node.span.line <= span.line <= node.span.end_line
        if node.span.file == span.file and inside:
            return node.id
    return None


def _mark(node: DiagramNode, problems: list[Diagnostic]) -> DiagramNode:
    if not problems:
        return node
    worst = max(problems, key=lambda d: d.severity)
    lines = tuple(f"{d.severity.label} {d.code}: {d.message}" for d in problems)
    return dataclasses.replace(
        node,
        problems=lines,
        severity=worst.severity.label,
        lines=(*node.lines, f"{'✖' if worst.is_error else '⚠'} {worst.code}"),
        tooltip="\n".join((node.tooltip, *lines)),
    )


def reachable_ids(flow: ir.Flow, keyed: Mapping[str, set[str]] | None = None) -> frozenset[str]:
    """Ids of the nodes a call can reach from the start node (`keyed`: target -> the input
    nodes a global key leads there from, as from `goto_edges`)."""
    extra: dict[str, list[str]] = {}
    for target, sources in (keyed or {}).items():
        for source in sources:
            extra.setdefault(source, []).append(target)
    seen: set[str] = set()
    todo = [flow.start]
    while todo:
        node_id = todo.pop()
        if node_id in seen or node_id not in flow.nodes:
            continue
        seen.add(node_id)
        todo.extend(edge.target for edge in flow.nodes[node_id].edges())
        todo.extend(extra.get(node_id, ()))
    return frozenset(seen)


GLOBAL_KEYS_ID = "(global keys)"  # not a valid node id, so never a node's


def _global_keys(
    flow: ir.Flow, service: ir.Service | None, keyed: Mapping[str, set[str]], reachable: frozenset[str]
) -> tuple[DiagramNode, list[DiagramEdge]]:
    """One note listing the keys that work at this flow's menus, collects and confirms, with
    an arrow to each node a key goes to."""
    keys: dict[str, str] = {}
    for node in flow.nodes.values():
        if isinstance(node, ir.Menu | ir.Collect | ir.Confirm):
            for key in active_keys(service, flow, node):
                keys.setdefault(key.name, f"{key.key} {key.name}{_does(key)}")
    lines = ("global keys", "every menu, collect, confirm", *keys.values())
    note = DiagramNode(
        GLOBAL_KEYS_ID, "global_keys", lines, styles.GLOBAL_KEYS_STYLE, tooltip="\n".join(lines)
    )
    arrows = [
        DiagramEdge(
            GLOBAL_KEYS_ID, target, _key_label(flow, service, target), EdgeKind.KEY, bool(sources & reachable)
        )
        for target, sources in sorted(keyed.items())
    ]
    return note, arrows


def _does(key: ActiveKey) -> str:
    """ " → to_agent" for a goto, "" when the name says it ("back"), else " (repeat)"."""
    if key.target:
        return f" → {key.target}"
    return "" if key.action == key.name else f" ({key.action})"


def _key_label(flow: ir.Flow, service: ir.Service | None, target: str) -> str:
    names = {
        f"{key.key} {key.name}"
        for node in flow.nodes.values()
        if isinstance(node, ir.Menu | ir.Collect | ir.Confirm)
        for key in active_keys(service, flow, node)
        if key.target == target
    }
    return ", ".join(sorted(names))


def _node(
    node: ir.Node, flow: ir.Flow, lang: str, reachable: frozenset[str], links: Mapping[str, str]
) -> DiagramNode:
    lines = [node.id, node.kind]
    text = node_text(node, flow, lang)
    if text:
        lines.append(excerpt(text))
    if node.id not in reachable:
        lines.append("(unreachable)")
    url = links.get(node.flow) if isinstance(node, ir.Subflow) else None
    return DiagramNode(
        id=node.id,
        kind=node.kind,
        lines=tuple(lines),
        style=styles.style_for(node.kind),
        is_start=node.id == flow.start,
        reachable=node.id in reachable,
        tooltip=_tooltip(node, text, url),
        url=url,
    )


def _tooltip(node: ir.Node, text: str, url: str | None) -> str:
    head = node.description or f"{node.kind} {node.id}"
    parts = [head, f"{node.span.file}:{node.span.line}"]
    if text:
        parts.append(" ".join(text.split()))
    if isinstance(node, ir.Subflow):
        parts.append(f"runs flow {node.flow}" + (f" ({url})" if url else ""))
    return "\n".join(parts)


def _edge(source: str, edge: ir.Edge, reachable: bool) -> DiagramEdge:
    return DiagramEdge(source, edge.target, edge.label, styles.classify_edge(edge.label), reachable)


def _missing_nodes(flow: ir.Flow, edges: list[DiagramEdge]) -> Iterator[DiagramNode]:
    missing = sorted({e.target for e in edges if e.target not in flow.nodes})
    for node_id in missing:
        yield DiagramNode(
            id=node_id,
            kind="missing",
            lines=(node_id, "missing node"),
            style=styles.MISSING_STYLE,
            reachable=False,
            missing=True,
            tooltip=f"no node '{node_id}' in flow {flow.name}",
        )


def node_text(node: ir.Node, flow: ir.Flow, lang: str) -> str:
    """What the node says or does in one line: its prompt, else its main target or value."""
    match node:
        case ir.Say() | ir.Menu() | ir.Collect() | ir.Confirm() | ir.Record() | ir.Hangup():
            return prompt_text(node.prompt, lang, flow)
        case ir.Send():
            message = prompt_text(node.message, lang, flow)
            return f"{node.channel}: {message}" if message else f"{node.channel} to {unparse(node.to)}"
        case ir.Branch():
            return ""
        case ir.Return():
            return f"outcome {node.outcome}" if node.outcome else ""
        case ir.Set():
            return "; ".join(f"{a.variable} = {unparse(a.expr)}" for a in node.assignments)
        case ir.Lookup():
            return f"{node.operation}({', '.join(unparse(a.expr) for a in node.args)})"
        case ir.Subflow():
            return f"→ {node.flow}"
        case ir.Enqueue():
            return f"queue {node.queue}" + (f" [{', '.join(node.skills)}]" if node.skills else "")
        case ir.Transfer():
            return f"{node.mode} to {unparse(node.to)}"
        case ir.Schedule():
            return f"calendar {node.calendar}"
        case ir.Language():
            return f"→ {node.language}"
        case ir.Log():
            return template_text(node.message)
        case _:
            assert_never(node)


def prompt_text(prompt: ir.Prompt | None, lang: str, flow: ir.Flow) -> str:
    """The prompt in `lang`, else in the flow's first language; an audio file as `♪ name`."""
    if prompt is None:
        return ""
    fallback = flow.languages[0] if flow.languages else ""
    text = prompt.by_language.get(lang) or prompt.by_language.get(fallback)
    if text is None and prompt.by_language:
        text = next(iter(prompt.by_language.values()))
    if text is None:
        return ""
    if text.template is not None:
        return template_text(text.template)
    return f"♪ {text.audio.rsplit('/', 1)[-1]}" if text.audio else ""


def template_text(template: Template) -> str:
    """A template written back as its author wrote it: `Price {last|price}`."""
    return unparse(template)


def excerpt(text: str, width: int = EXCERPT_WIDTH) -> str:
    """`text` on one line, cut to `width` columns (CJK counts two) with an ellipsis."""
    flat = " ".join(text.split())
    if _width(flat) <= width:
        return flat
    out: list[str] = []
    used = 0
    for ch in flat:
        used += _width(ch)
        if used > width - 1:
            break
        out.append(ch)
    return "".join(out).rstrip() + "…"


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
