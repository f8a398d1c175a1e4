"""Graph helpers shared by the checks: strongly connected components and reachability.

Iterative (no recursion), so a flow with thousands of nodes cannot hit Python's stack limit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence


def strongly_connected(nodes: Sequence[str], successors: Callable[[str], Iterable[str]]) -> list[list[str]]:
    """Tarjan's components, each listed in the order of `nodes`; only known nodes count."""
    known = set(nodes)
    position = {node: i for i, node in enumerate(nodes)}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    for root in nodes:
        if root in index:
            continue
        work: list[tuple[str, list[str]]] = [(root, [s for s in successors(root) if s in known])]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, pending = work[-1]
            if pending:
                nxt = pending.pop()
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, [s for s in successors(nxt) if s in known]))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                components.append(sorted(component, key=position.__getitem__))
    return components


def is_cycle(component: Sequence[str], successors: Callable[[str], Iterable[str]]) -> bool:
    """A component is a cycle when it has two or more nodes, or one node pointing at itself."""
    return len(component) > 1 or component[0] in set(successors(component[0]))


def reachable(start: str, successors: Callable[[str], Iterable[str]]) -> set[str]:
    seen = {start}
    todo = [start]
    while todo:
        for nxt in successors(todo.pop()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen
