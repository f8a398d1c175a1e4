"""`set`: assign variables in order; a later assignment sees an earlier one."""

from __future__ import annotations

from ivr.flowlang.ir import Set
from ivr.runtime.context import CallContext, Frame
from ivr.runtime.outcomes import StepResult, need
from ivr.runtime.steps._eval import evaluate


async def run(node: Set, call: CallContext, frame: Frame) -> StepResult:
    for assignment in node.assignments:
        frame.variables[assignment.variable] = await evaluate(call, frame, node, assignment.expr)
    return need(node.next, node, "next")
