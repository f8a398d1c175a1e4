"""Graph checks of one flow (FL3xx): targets exist, every node can be reached, the call can
always go on, and no loop can trap a caller.

Definitions: a *dead end* is a node that is not terminal and lacks the edge the call needs
to go on after it (FL304). A *trap* is a loop (strongly connected component) with no edge
out and no node that ends or hands off the call (FL305, error). An *instant loop* is a loop
made only of nodes that never wait for the caller (branch, set, lookup, log, language,
schedule, send): it can spin forever without the caller doing anything (FL306, warning).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import assert_never

from ivr.flowlang.checks.context import Checking, error, listing, warning
from ivr.flowlang.checks.traversal import is_cycle, reachable, strongly_connected
from ivr.flowlang.diagnostics import Diagnostic, did_you_mean
from ivr.flowlang.globalkeys import goto_edges
from ivr.flowlang.ir import (
    Branch,
    Collect,
    Confirm,
    Edge,
    Enqueue,
    Flow,
    Hangup,
    Language,
    Log,
    Lookup,
    Menu,
    Node,
    Record,
    Return,
    Say,
    Schedule,
    Send,
    Service,
    Set,
    Subflow,
    Transfer,
)
from ivr.flowlang.suggestions import meant_target, target_hint

EXIT_KINDS = frozenset({"hangup", "return", "transfer", "enqueue"})
INSTANT_KINDS = frozenset({"branch", "set", "lookup", "log", "language", "schedule", "send"})


def check_flow(flow: Flow, c: Checking) -> Iterator[Diagnostic]:
    gaps = c.gaps_of(flow)
    keyed = key_edges(flow, c.project.service)
    broken = _broken_edges(flow, gaps.omitted)
    yield from _targets(flow, broken)
    yield from _start(flow, gaps.omitted)
    misnamed = {source for source, _ in gaps.dropped_edges}
    for node in flow.nodes.values():
        if node.id not in misnamed:  # its edge is there, only broken or misnamed (reported)
            yield from _dead_end(node)
    guessed = _meant_edges(flow, broken)
    if not gaps.omitted and flow.start in flow.nodes and guessed is not None:
        yield from _unreachable(flow, gaps.dropped_edges | guessed | keyed)
        if not gaps.dropped_edges:
            yield from _loops(flow, keyed)


def successors(flow: Flow, node_id: str) -> list[str]:
    node = flow.nodes.get(node_id)
    return [e.target for e in node.edges() if e.target in flow.nodes] if node else []


def key_edges(flow: Flow, service: Service | None) -> frozenset[tuple[str, str]]:
    """(input node, target) for each `goto` global key in force at an input node: the caller
    can take it from there, though the node does not list it (the service or the flow does)."""
    return frozenset(
        (source, target) for target, sources in goto_edges(service, flow).items() for source in sources
    )


def _broken_edges(flow: Flow, omitted: frozenset[str]) -> list[tuple[Node, Edge]]:
    """Edges to a node that is not in the flow (nor left out after an error)."""
    nodes = flow.nodes
    return [
        (node, edge)
        for node in nodes.values()
        for edge in node.edges()
        if edge.target not in nodes and edge.target not in omitted
    ]


def _targets(flow: Flow, broken: list[tuple[Node, Edge]]) -> Iterator[Diagnostic]:
    kinds = {node_id: n.kind for node_id, n in flow.nodes.items()} if broken else {}
    for node, edge in broken:
        hint = target_hint(edge.target, kinds) or f"nodes of this flow: {listing(list(flow.nodes))}"
        message = f"node '{node.id}' goes to '{edge.target}' ({edge.label}), which is not a node of this flow"
        yield error("FL301", message, edge.span, hint, node)


def _meant_edges(flow: Flow, broken: list[tuple[Node, Edge]]) -> frozenset[tuple[str, str]] | None:
    """For each edge to a missing node (FL301), the node it most likely means: that node is
    reached, not "unreachable" as well. None when some broken edge's meaning is unknown."""
    if not broken:
        return frozenset()
    kinds = {node_id: n.kind for node_id, n in flow.nodes.items()}
    meant: set[tuple[str, str]] = set()
    for node, edge in broken:
        target = meant_target(edge.target, kinds)
        if target is None:
            return None
        meant.add((node.id, target))
    return frozenset(meant)


def _start(flow: Flow, omitted: frozenset[str]) -> Iterator[Diagnostic]:
    if not flow.start or flow.start in flow.nodes or flow.start in omitted or not flow.nodes:
        return  # with no nodes at all, `nodes:` itself is the problem (already reported)
    hint = did_you_mean(flow.start, flow.nodes) or f"nodes of this flow: {listing(list(flow.nodes))}"
    yield error("FL302", f"the start node '{flow.start}' is not a node of this flow", flow.start_span, hint)


def _unreachable(flow: Flow, dropped: frozenset[tuple[str, str]]) -> Iterator[Diagnostic]:
    """FL303; an edge the compiler dropped (its condition did not parse) still counts, so a
    broken condition is one error, not also an unreachable target."""
    extra: dict[str, list[str]] = {}
    for source, target in dropped:
        extra.setdefault(source, []).append(target)
    seen = reachable(flow.start, lambda n: [*successors(flow, n), *extra.get(n, ())])
    for node in flow.nodes.values():
        if node.id not in seen:
            message = f"node '{node.id}' can never be reached from the start node '{flow.start}'"
            yield warning("FL303", message, node.span, "link to it from another node, or delete it", node)


def missing_continuations(node: Node) -> list[str]:
    """The edges `node` lacks for the call to go on (empty for terminal nodes)."""
    match node:
        case Say() | Collect() | Confirm() | Set() | Lookup() | Record() | Send() | Language() | Log():
            return [] if node.next else ["next"]
        case Schedule():
            return [name for name in ("open", "closed") if getattr(node, name) is None]
        case Subflow():
            return [] if node.next or node.outcomes else ["next"]
        case Branch():
            return [] if node.cases or node.otherwise else ["else"]
        case Menu() | Enqueue() | Transfer() | Return() | Hangup():
            return []
        case _:
            assert_never(node)


_AFTER = {
    "next": "after it",
    "open": "during opening hours",
    "closed": "outside opening hours",
    "else": "after it",
}


def _dead_end(node: Node) -> Iterator[Diagnostic]:
    for name in missing_continuations(node):
        message = f"{node.kind} node '{node.id}' has no `{name}`: the call would stop {_AFTER[name]}"
        hint = f"add `{name}: <node>`; end a call on purpose with a `hangup` node"
        yield error("FL304", message, node.span, hint, node)
    if isinstance(node, Branch) and node.cases and node.otherwise is None:
        message = (
            f"branch node '{node.id}' has no `else`: when no case holds, the call ends with the fallback"
        )
        yield warning("FL309", message, node.span, "add `else: <node>`", node)


def _loops(flow: Flow, keyed: frozenset[tuple[str, str]]) -> Iterator[Diagnostic]:
    order = list(flow.nodes)
    extra: dict[str, list[str]] = {}
    for source, target in keyed:
        extra.setdefault(source, []).append(target)
    nxt = lambda n: [*successors(flow, n), *extra.get(n, ())]  # noqa: E731
    trapped: set[str] = set()
    for component in strongly_connected(order, nxt):
        if is_cycle(component, nxt) and _is_trap(flow, component, extra):
            trapped.update(component)
            first = flow.nodes[component[0]]
            message = (
                f"a caller who reaches {_cycle(component)} can never leave: no edge leads out of the loop"
            )
            hint = "give one of these nodes an edge out (e.g. `on_no_input: goodbye`) or a `hangup`"
            yield error("FL305", message, first.span, hint, first)
    instant = [n for n in order if flow.nodes[n].kind in INSTANT_KINDS]
    nxt_instant = lambda n: [s for s in successors(flow, n) if s in instant]  # noqa: E731
    for component in strongly_connected(instant, nxt_instant):
        if is_cycle(component, nxt_instant) and not trapped.intersection(component):
            first = flow.nodes[component[0]]
            message = f"{_cycle(component)} can loop forever without waiting for the caller"
            hint = "count the tries and leave the loop, or put a node that waits for a key in it"
            yield warning("FL306", message, first.span, hint, first)


def _is_trap(flow: Flow, component: list[str], extra: dict[str, list[str]]) -> bool:
    members = set(component)
    for node_id in component:
        node = flow.nodes[node_id]
        if node.kind in EXIT_KINDS or missing_continuations(node):
            return False
        if any(e.target not in members for e in node.edges()):
            return False
        if any(target not in members for target in extra.get(node_id, ())):
            return False
    return True


def _cycle(component: list[str]) -> str:
    names = [f"'{n}'" for n in component]
    return "node " + names[0] if len(names) == 1 else "nodes " + ", ".join(names)
