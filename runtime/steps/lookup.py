"""`lookup`: call a declared data operation; assignments read its answer as `result`.

`OperationTimeout` takes `on_timeout` (or `on_error` without it); `OperationError` and an
`EvaluationError` in the args or assignments take `on_error`. Without the edge, the call
ends with the fallback prompt (see docs/engine.md).
"""

from __future__ import annotations

from ivr.flowlang.expressions import EvaluationError
from ivr.flowlang.ir import Lookup
from ivr.runtime.context import CallContext, Frame
from ivr.runtime.outcomes import StepResult, need
from ivr.runtime.ports import OperationError, OperationTimeout
from ivr.runtime.steps._eval import arguments, evaluate, invoke


async def run(node: Lookup, call: CallContext, frame: Frame) -> StepResult:
    try:
        args = await arguments(call, frame, node, node.args)
        result = await invoke(call, node, node.operation, args)
        values = {
            a.variable: await evaluate(call, frame, node, a.expr, {"result": result}) for a in node.assign
        }
    except OperationTimeout:
        return need(node.on_timeout or node.on_error, node, "on_timeout")
    except (OperationError, EvaluationError):
        return need(node.on_error, node, "on_error")
    frame.variables.update(values)
    return need(node.next, node, "next")
