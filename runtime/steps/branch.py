"""`branch`: the first case whose condition is truthy, else `else`."""

from __future__ import annotations

from ivr.flowlang import expressions
from ivr.flowlang.ir import Branch
from ivr.runtime.context import CallContext, Frame
from ivr.runtime.outcomes import StepResult, need
from ivr.runtime.steps._eval import evaluate


async def run(node: Branch, call: CallContext, frame: Frame) -> StepResult:
    for case in node.cases:
        if expressions.truthy(await evaluate(call, frame, node, case.condition)):
            return case.edge
    return need(node.otherwise, node, "else")
