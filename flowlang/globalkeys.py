"""Global keys: which keys work at an input node, and what each does there.

A service declares keys that work in every menu, collect and confirm (`global_keys`); a flow
and then a node may turn one off, change it, or add their own. `layers` merges the three
levels in that order; `active_keys` keeps the entries that are complete (a key and what it
does). The checker (`ivr.flowlang.checks.globalkeys`) reports what is incomplete or clashes,
and the runtime (`ivr.runtime.steps._keys`) acts on `active_keys`. Pure: no I/O.

What a key means in a collect: only an entry made of that key alone (`0` then the
terminator or a pause; the terminator pressed first) is the global key. So `0` still types
the zero of 000001, and `*` still types a decimal point after digits. `could_be_entry` says
whether such an entry could also be an answer of the collect (a conflict).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

from ivr.flowlang import expressions
from ivr.flowlang.diagnostics import Span
from ivr.flowlang.ir import Collect, Confirm, Edge, Flow, GlobalKey, InputNode, KeyAction, Menu, Service

# The valid check is judged with a fixed clock: a check that depends on the time of day is
# unusual for an entry, and judging it at one moment only decides whether to warn.
_JUDGED_AT = dt.datetime(2026, 1, 5, 10, 0)


@dataclass(frozen=True)
class Level:
    """Where a declaration was made: "service", "flow" or "node"."""

    name: str
    keys: tuple[GlobalKey, ...]


@dataclass(frozen=True)
class Merged:
    """One global key after merging the levels; `declared` lists its declarations in order."""

    name: str
    key: str | None = None
    action: KeyAction | None = None
    goto: Edge | None = None
    declared: tuple[tuple[str, GlobalKey], ...] = field(default_factory=tuple)

    @property
    def complete(self) -> bool:
        return self.key is not None and self.action is not None and (self.action != "goto" or bool(self.goto))

    @property
    def last(self) -> tuple[str, GlobalKey]:
        return self.declared[-1]


@dataclass(frozen=True)
class ActiveKey:
    """A global key in force at one input node: the key, what it does, and for `goto` the
    node of the running flow it goes to (`target`)."""

    name: str
    key: str
    action: KeyAction
    target: str | None
    span: Span


def levels(service: Service | None, flow: Flow, node: InputNode | None) -> list[Level]:
    found = [Level("service", service.global_keys if service else ()), Level("flow", flow.global_keys)]
    if node is not None:
        found.append(Level("node", node.global_keys))
    return found


def merge(layers: Iterable[Level]) -> dict[str, Merged]:
    """The keys after each level has turned keys off, changed them or added its own."""
    merged: dict[str, Merged] = {}
    for level in layers:
        for decl in level.keys:
            if decl.off:
                merged.pop(decl.name, None)
                continue
            merged[decl.name] = _apply(merged.get(decl.name, Merged(decl.name)), level.name, decl)
    return merged


def _apply(base: Merged, level: str, decl: GlobalKey) -> Merged:
    action = decl.action or base.action
    goto = decl.goto if decl.action == "goto" else (base.goto if decl.action is None else None)
    return replace(
        base,
        key=decl.key or base.key,
        action=action,
        goto=goto if action == "goto" else None,
        declared=(*base.declared, (level, decl)),
    )


def active_keys(service: Service | None, flow: Flow, node: InputNode) -> tuple[ActiveKey, ...]:
    """The complete global keys at `node` of `flow`, in declaration order."""
    return tuple(_active(merge(levels(service, flow, node)).values()))


def _active(merged: Iterable[Merged]) -> Iterator[ActiveKey]:
    for item in merged:
        if item.key is None or item.action is None or not item.complete:
            continue
        target = item.goto.target if item.goto is not None else None
        yield ActiveKey(item.name, item.key, item.action, target, item.last[1].span)


def goto_edges(service: Service | None, flow: Flow) -> dict[str, set[str]]:
    """Target node -> the input nodes from which a global key's `goto` leads there (also
    for a key not yet complete, FL312: it shows where it was meant to go). A node's own
    `goto` is an edge of that node already; this adds the service's and the flow's."""
    found: dict[str, set[str]] = {}
    for node in flow.nodes.values():
        if isinstance(node, Menu | Collect | Confirm):
            for key in merge(levels(service, flow, node)).values():
                if key.goto is not None and key.goto.target in flow.nodes:
                    found.setdefault(key.goto.target, set()).add(node.id)
    return found


def could_be_entry(node: Collect, key: str) -> bool:
    """Whether the entry made of `key` alone (for the terminator: nothing before it) could be
    an answer of the collect; True when the `valid` check cannot be judged without a call."""
    keys = "" if key == node.terminator else key
    value = node.entry(keys)
    if value is None:
        return False
    if node.valid is None:
        return True
    if {name.name for name in expressions.names_used(node.valid)} - {node.into}:
        return True  # it reads other variables: whether it passes cannot be told here
    try:
        verdict = expressions.evaluate(node.valid, {node.into: value}, now=_JUDGED_AT)
    except expressions.EvaluationError:
        return False  # this entry makes the check fail: it is never an answer
    return expressions.truthy(verdict)
