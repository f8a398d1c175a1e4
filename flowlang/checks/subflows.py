"""Subflow checks (FL606-FL610 and FL308): a `subflow` node calls a flow of the project
with the inputs it declares, reads only outputs it declares, and maps outcomes it returns;
and no chain of subflow calls leads back to a flow already running (unbounded recursion).
"""

from __future__ import annotations

from collections.abc import Iterator

from ivr.flowlang.checks.context import Checking, error, listing, warning
from ivr.flowlang.checks.traversal import is_cycle, strongly_connected
from ivr.flowlang.diagnostics import Diagnostic, did_you_mean
from ivr.flowlang.expressions import names_used
from ivr.flowlang.ir import Flow, Return, Subflow
from ivr.flowlang.suggestions import label_hint


def subflow_nodes(flow: Flow) -> Iterator[Subflow]:
    return (n for n in flow.nodes.values() if isinstance(n, Subflow))


def check_flow(flow: Flow, c: Checking) -> Iterator[Diagnostic]:
    for node in subflow_nodes(flow):
        callee = c.project.flows.get(node.flow)
        if callee is None:
            if c.whole_project and node.flow not in c.unreadable_flows:
                flows = list(c.project.flows)
                hint = did_you_mean(node.flow, flows) or f"flows of the project: {listing(flows)}"
                yield error(
                    "FL606", f"subflow '{node.flow}' is not a flow of the project", node.flow_span, hint, node
                )
            continue
        yield from _inputs(node, callee)
        yield from _outputs(node, callee)
        yield from _outcomes(node, callee)


def _inputs(node: Subflow, callee: Flow) -> Iterator[Diagnostic]:
    declared = [d.name for d in callee.inputs]
    for arg in node.inputs:
        if arg.name not in declared:
            hint = did_you_mean(arg.name, declared) or f"its inputs: {', '.join(declared) or 'none'}"
            message = f"flow '{callee.name}' has no input '{arg.name}'"
            yield error("FL607", message, arg.span, hint, node)
    given = {a.name for a in node.inputs}
    for decl in callee.inputs:
        if decl.required and decl.name not in given:
            message = f"flow '{callee.name}' needs the input '{decl.name}'"
            hint = f"add `inputs: {{{decl.name}: ...}}`, or declare it `required: false` in '{callee.name}'"
            yield error("FL608", message, node.flow_span, hint, node)


def _outputs(node: Subflow, callee: Flow) -> Iterator[Diagnostic]:
    declared = [d.name for d in callee.outputs]
    for assignment in node.outputs:
        for name in names_used(assignment.expr):
            if name.name not in declared:
                hint = did_you_mean(name.name, declared) or f"its outputs: {', '.join(declared) or 'none'}"
                message = f"flow '{callee.name}' has no output '{name.name}'"
                yield error("FL609", message, name.span, hint, node)


def returned_outcomes(flow: Flow) -> set[str | None]:
    """The outcomes a flow's `return` nodes give (None: a return with no outcome)."""
    return {n.outcome for n in flow.nodes.values() if isinstance(n, Return)}


def _outcomes(node: Subflow, callee: Flow) -> Iterator[Diagnostic]:
    returned = returned_outcomes(callee)
    names = sorted(o for o in returned if o is not None)
    for edge in node.outcomes:
        if edge.label not in returned:
            hint = label_hint(edge.label, names) or f"it returns: {', '.join(names) or 'no named outcome'}"
            message = f"flow '{callee.name}' never returns the outcome '{edge.label}'"
            yield warning("FL610", message, edge.span, hint, node)
    if node.next is None and node.outcomes:
        mapped = {e.label for e in node.outcomes}
        unmapped = sorted(o or "(no outcome)" for o in returned if o not in mapped)
        if unmapped:
            returns = ", ".join(unmapped)
            when = f"when '{callee.name}' returns {returns}"
            message = f"subflow node '{node.id}' has no `next`: the call would stop {when}"
            yield error("FL304", message, node.span, "add `next: <node>` for the other outcomes", node)


def check_recursion(c: Checking) -> Iterator[Diagnostic]:
    """FL308: a cycle in the graph of subflow calls can nest calls without end."""
    flows = c.project.flows

    def callees(name: str) -> list[str]:
        flow = flows.get(name)
        return [n.flow for n in subflow_nodes(flow) if n.flow in flows] if flow else []

    for component in strongly_connected(list(flows), callees):
        if not is_cycle(component, callees):
            continue
        members = set(component)
        chain = " -> ".join(f"'{n}'" for n in [*component, component[0]])
        for name in component:
            for node in subflow_nodes(flows[name]):
                if node.flow in members:
                    message = (
                        f"flow '{name}' calls '{node.flow}', and the calls can nest without end ({chain})"
                    )
                    hint = "go back with a `return` and an outcome instead of calling the flow again"
                    yield error("FL308", message, node.flow_span, hint, node)
