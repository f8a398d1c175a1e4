"""Agent-flow checks (FL630-FL632): the flows a service lets agents send callers into.

`agent_flows:` in the service names flows by their own name. Each must be a flow of the
project (FL630); the outcomes it words must be ones the flow returns (FL631); and it must
give the call back, so neither it nor a subflow it runs may hang up, queue or transfer the
caller away from the agent waiting for it (FL632).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from ivr.flowlang.checks.context import Checking, error, listing, warning
from ivr.flowlang.checks.subflows import returned_outcomes
from ivr.flowlang.diagnostics import Diagnostic, did_you_mean
from ivr.flowlang.ir import AgentFlowDecl, Enqueue, Flow, Hangup, Node, Subflow, Transfer
from ivr.flowlang.suggestions import label_hint


def check_agent_flows(c: Checking) -> Iterator[Diagnostic]:
    service = c.project.service
    if service is None or not c.whole_project:
        return
    for decl in service.agent_flows.values():
        flow = c.project.flows.get(decl.flow)
        if flow is None:
            if decl.flow not in c.unreadable_flows:
                yield _unknown(decl, list(c.project.flows))
            continue
        yield from _outcomes(decl, flow)
        yield from _keeps_the_call(decl, flow, c.project.flows)


def _unknown(decl: AgentFlowDecl, flows: list[str]) -> Diagnostic:
    hint = did_you_mean(decl.flow, flows) or (f"flows: {listing(flows)}" if flows else "no flows were loaded")
    return error("FL630", f"agents may be given flow '{decl.flow}', which does not exist", decl.span, hint)


def _outcomes(decl: AgentFlowDecl, flow: Flow) -> Iterator[Diagnostic]:
    returned = returned_outcomes(flow)
    names = sorted(o for o in returned if o is not None)
    for outcome in decl.outcomes:
        if outcome not in returned:
            hint = label_hint(outcome, names) or f"it returns: {', '.join(names) or 'no named outcome'}"
            yield warning(
                "FL631", f"flow '{flow.name}' never returns the outcome '{outcome}'", decl.span, hint
            )


def _keeps_the_call(decl: AgentFlowDecl, flow: Flow, flows: Mapping[str, Flow]) -> Iterator[Diagnostic]:
    """Every node that would take the caller away, in the flow or any subflow it runs."""
    for path, node in _nodes_run_by(flow, flows):
        if isinstance(node, Hangup | Enqueue | Transfer):
            what = {"hangup": "hangs up", "enqueue": "queues the caller", "transfer": "transfers the caller"}
            through = "".join(f" (in subflow '{name}')" for name in path[1:][-1:])
            message = (
                f"agent flow '{flow.name}'{through} {what[node.kind]} at node '{node.id}': an agent is "
                "waiting to get the caller back"
            )
            hint = "end it with a `return` and an outcome; the agent decides what happens next"
            yield error("FL632", message, node.span, hint, node)


def _nodes_run_by(flow: Flow, flows: Mapping[str, Flow]) -> Iterator[tuple[tuple[str, ...], Node]]:
    """The nodes of `flow` and of the subflows it runs (each flow once), with the chain of
    flow names that leads to each."""
    seen = {flow.name}
    pending: list[tuple[tuple[str, ...], Flow]] = [((flow.name,), flow)]
    while pending:
        path, current = pending.pop()
        for node in current.nodes.values():
            yield path, node
            if isinstance(node, Subflow) and node.flow not in seen and node.flow in flows:
                seen.add(node.flow)
                pending.append(((*path, node.flow), flows[node.flow]))
