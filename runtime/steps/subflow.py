"""`subflow` and `return`: run another flow on the call stack, then continue by its outcome.

The child gets a fresh `Frame` with the evaluated inputs; on `return`, the node's
`outputs` assignments read the child's outputs, and the outcome picks the edge (else
`next`). When the global `back` key leads from the child into this flow (`BackTo`), this
flow continues at that node; the child's `context` is kept for an agent either way
(`ivr.runtime.agentcontext`). A child that fails unexpectedly, a missing flow or a stack deeper than
`MAX_DEPTH` takes `on_error` when the node has it; otherwise the failure ends the call.
"""

from __future__ import annotations

import logging

from ivr.flowlang import expressions
from ivr.flowlang.ir import Edge, Return, Subflow
from ivr.runtime import agentcontext
from ivr.runtime.context import CallContext, Frame
from ivr.runtime.outcomes import BackTo, FlowFailure, MissingEdge, Returned, StepResult, need
from ivr.runtime.steps._eval import arguments

MAX_DEPTH = 16
log = logging.getLogger("ivr.runtime.subflow")


async def run(node: Subflow, call: CallContext, frame: Frame) -> StepResult:
    flow = call.project.flows.get(node.flow)
    if flow is None or len(call.stack) >= MAX_DEPTH:
        reason = "is not loaded" if flow is None else f"would nest deeper than {MAX_DEPTH} flows"
        log.warning("%s:%s: subflow '%s' %s", frame.flow.file, node.span.line, node.flow, reason)
        return need(node.on_error, node, "on_error")
    try:
        inputs = await arguments(call, frame, node, node.inputs)
        call.stack.append(Frame.start(flow, inputs))
        try:
            ending = await call.runner(call, call.frame)
        finally:
            agentcontext.capture(call, call.frame)  # what the caller did there stays known
            call.pop_frame()
        if isinstance(ending, BackTo) and ending.frame is frame:
            return Edge(ending.label, ending.node, node.span)
        if not isinstance(ending, Returned):
            return ending
        return _continue(node, call, frame, ending)
    except (FlowFailure, MissingEdge, expressions.EvaluationError) as failure:
        if node.on_error is None:
            raise
        reason = call.mask_text(str(failure))  # a FlowFailure is masked already; inputs are not
        log.warning("%s:%s: subflow '%s' failed: %s", frame.flow.file, node.span.line, node.flow, reason)
        return node.on_error


def _continue(node: Subflow, call: CallContext, frame: Frame, ending: Returned) -> StepResult:
    scope = {**ending.outputs, "call": call.call_info()}
    for assignment in node.outputs:
        frame.variables[assignment.variable] = expressions.evaluate(assignment.expr, scope, now=call.now())
    for edge in node.outcomes:
        if edge.label == ending.outcome:
            return edge
    return need(node.next, node, "next")


async def run_return(node: Return, call: CallContext, frame: Frame) -> StepResult:
    """The flow's declared outputs as they stand, overridden by the node's `outputs`."""
    outputs = {d.name: frame.variables.get(d.name) for d in frame.flow.outputs}
    outputs.update(await arguments(call, frame, node, node.outputs))
    return Returned(node.outcome, outputs)
