"""Global-key checks (FL310-FL314): every global key in force is complete, keys do not
clash with each other or with what a node needs its keys for, and `goto` reaches a node.

- FL310: at a menu, collect or confirm, a global key is also a menu option, a confirm key,
  or (in a collect) an entry the collect could accept: the key alone, or for the
  terminator, an empty entry.
- FL311: two global keys at one node use the same key.
- FL312: a global key without a key or without saying what it does.
- FL313: `goto` names no node of the flow (for the service's, of a flow where it works).
- FL314 (warning): a flow or node turns off a global key nobody declared.

Each problem is reported where it was made: at the service entry, the flow's `global_keys`
or the node's, or at the option / node that needs the key.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from ivr.flowlang.checks.context import Checking, error, listing, warning
from ivr.flowlang.diagnostics import Diagnostic, Span, did_you_mean
from ivr.flowlang.globalkeys import ActiveKey, Level, Merged, active_keys, could_be_entry, levels, merge
from ivr.flowlang.ir import Collect, Confirm, Flow, GlobalKey, InputNode, Menu, Node, Service

_DOES = {"back": "goes back", "repeat": "repeats the prompt"}


def does(key: ActiveKey | Merged) -> str:
    """What a key does, in words: "goes to 'to_agent'", "goes back"."""
    if key.action == "goto":
        target = key.target if isinstance(key, ActiveKey) else (key.goto.target if key.goto else "?")
        return f"goes to '{target}'"
    return _DOES.get(str(key.action), "does nothing")


def check_service(c: Checking) -> Iterator[Diagnostic]:
    """The service's own declarations (once per project)."""
    service = c.project.service
    if service is None or not c.whole_project:
        return
    merged = merge([Level("service", service.global_keys)])
    yield from _incomplete(merged, "service", {})
    yield from _duplicates(merged, "service", None)


def check_flow(flow: Flow, c: Checking) -> Iterator[Diagnostic]:
    service = c.project.service
    inherited = merge(levels(service, flow, None)[:1])
    in_flow = merge(levels(service, flow, None))
    yield from _turned_off(flow.global_keys, inherited, "flow", None)
    yield from _incomplete(in_flow, "flow", inherited)
    yield from _duplicates(in_flow, "flow", None)
    yield from _flow_targets(flow, in_flow, c)
    missing: dict[str, tuple[Merged, Node]] = {}
    for node in flow.nodes.values():
        if isinstance(node, Menu | Collect | Confirm):
            yield from _node(flow, node, service, in_flow, c, missing)
    for name, (item, node) in missing.items():
        yield _service_target_missing(flow, name, item, node)


def _node(
    flow: Flow,
    node: InputNode,
    service: Service | None,
    in_flow: Mapping[str, Merged],
    c: Checking,
    missing: dict[str, tuple[Merged, Node]],
) -> Iterator[Diagnostic]:
    merged = merge(levels(service, flow, node))
    yield from _turned_off(node.global_keys, in_flow, "node", node)
    yield from _incomplete(merged, "node", in_flow, node)
    yield from _duplicates(merged, "node", node)
    omitted = c.gaps_of(flow).omitted
    for item in merged.values():
        target = item.goto.target if item.goto is not None else None
        level = item.last[0]
        if target is not None and target not in flow.nodes and target not in omitted and level == "service":
            missing.setdefault(item.name, (item, node))
    keys = [k for k in active_keys(service, flow, node) if k.target is None or k.target in flow.nodes]
    yield from _clashes(node, keys, merged)


def _turned_off(
    decls: tuple[GlobalKey, ...], inherited: Mapping[str, Merged], level: str, node: Node | None
) -> Iterator[Diagnostic]:
    """FL314: `name: false` where no key of that name is in force."""
    for decl in decls:
        if decl.off and decl.name not in inherited:
            known = list(inherited)
            hint = did_you_mean(decl.name, known) or (
                f"global keys here: {listing(known)}" if known else "no global key is declared above this"
            )
            message = f"the {level} turns off global key '{decl.name}', which is not declared"
            yield warning("FL314", message, decl.span, hint, node)


def _incomplete(
    merged: Mapping[str, Merged], level: str, inherited: Mapping[str, Merged], node: Node | None = None
) -> Iterator[Diagnostic]:
    """FL312 for keys whose last declaration was made at `level` and that are incomplete."""
    for item in merged.values():
        where, decl = item.last
        if where != level or item.complete:
            continue
        if item.key is None:
            meant = did_you_mean(item.name, list(inherited)) if item.name not in inherited else None
            hint = meant or f'give it a key: `{item.name}: {{key: "0", ...}}`'
            message = f"global key '{item.name}' has no key"
            if level != "service" and item.name not in inherited:
                message += " (it is not declared by the service or the flow)"
        else:
            hint = f"add `action: back`, `action: repeat` or `goto: <node>` to '{item.name}'"
            message = f"global key '{item.name}' ('{item.key}') does not say what it does"
        yield error("FL312", message, decl.span, hint, node)


def _duplicates(merged: Mapping[str, Merged], level: str, node: Node | None) -> Iterator[Diagnostic]:
    """FL311 for two keys with the same key, reported at a declaration made at `level`."""
    by_key: dict[str, Merged] = {}
    for item in merged.values():
        if item.key is None:
            continue
        first = by_key.setdefault(item.key, item)
        if first is item:
            continue
        blamed = item if item.last[0] == level else first if first.last[0] == level else None
        if blamed is None:
            continue
        other = first if blamed is item else item
        message = f"global keys '{other.name}' and '{blamed.name}' both use the key '{item.key}'"
        hint = f"give '{blamed.name}' a key of its own, or turn one off with `{blamed.name}: false`"
        yield error("FL311", message, blamed.last[1].span, hint, node)


def _flow_targets(flow: Flow, merged: Mapping[str, Merged], c: Checking) -> Iterator[Diagnostic]:
    """FL313 for a flow-level `goto` to a node the flow does not have."""
    omitted = c.gaps_of(flow).omitted
    for item in merged.values():
        where, decl = item.last
        if where != "flow" or decl.goto is None:
            continue
        target = decl.goto.target
        if target in flow.nodes or target in omitted:
            continue
        hint = did_you_mean(target, flow.nodes) or f"nodes of this flow: {listing(list(flow.nodes))}"
        message = f"global key '{item.name}' goes to '{target}', which is not a node of this flow"
        yield error("FL313", message, decl.goto.span, hint)


def _service_target_missing(flow: Flow, name: str, item: Merged, node: Node) -> Diagnostic:
    target = item.goto.target if item.goto else "?"
    declared = item.last[1].span
    message = (
        f"the service's global key '{name}' ('{item.key}') goes to node '{target}', "
        f"which flow '{flow.name}' does not have"
    )
    hint = (
        f"add a node '{target}' (declared at {_at(declared)}), say where it goes in this flow "
        f"(`global_keys: {{{name}: {{goto: <node>}}}}`), or turn it off (`{name}: false`)"
    )
    return error("FL313", message, node.span, hint, node)


def _at(span: Span) -> str:
    return f"{span.file}:{span.line}"


def _clashes(node: InputNode, keys: list[ActiveKey], merged: Mapping[str, Merged]) -> Iterator[Diagnostic]:
    """FL310: a global key that the node needs for something else."""
    for key in keys:
        own = merged[key.name].last[0] == "node"
        for span, need in _needs(node, key.key):
            where = merged[key.name].last[1].span if own else span
            message = f"{need}, but '{key.key}' is also the global key '{key.name}' (it {does(key)})"
            yield error("FL310", message, where, _clash_hint(node, key, own), node)


def _needs(node: InputNode, key: str) -> Iterator[tuple[Span, str]]:
    """Where the node itself needs `key`: (span, words)."""
    match node:
        case Menu():
            for option in node.options:
                if option.key == key:
                    yield option.edge.span, f"menu node '{node.id}' offers option '{key}'"
        case Confirm():
            roles = {"confirm": node.confirm_key, "re-enter": node.reenter_key, "cancel": node.cancel_key}
            for role, own in roles.items():
                if own == key:
                    yield node.span, f"confirm node '{node.id}' takes '{key}' to {role}"
        case Collect():
            if could_be_entry(node, key):
                if key == node.terminator:
                    yield node.span, f"collect node '{node.id}' accepts an empty entry ended by '{key}'"
                else:
                    yield node.span, f"collect node '{node.id}' could accept '{key}' alone as its entry"


def _clash_hint(node: InputNode, key: ActiveKey, own: bool) -> str:
    off = f"turn it off here with `global_keys: {{{key.name}: false}}`"
    if own:
        return f"give the node's global key '{key.name}' another key, or remove it"
    match node:
        case Menu():
            return f"remove the option (the global key already {does(key)} from here), or {off}"
        case Confirm():
            return f"give this confirm another key, or {off}"
        case Collect():
            if key.key == node.terminator:
                return f"set `min_length: 1` so an empty entry is not an answer, or {off}"
            return f"make '{key.key}' alone invalid (`min_length: 2`, or a `valid:` check), or {off}"
