"""`lookup`: call a declared data operation; assignments read its answer as `result`.

`OperationTimeout` takes `on_timeout` (or `on_error` without it); `OperationError` and an
`EvaluationError` in the args or assignments take `on_error`. Without the edge, the call
ends with the fallback prompt (see docs/engine.md).
"""

from __future__ import annotations

import math
from decimal import Decimal

import trio

from ivr.flowlang.expressions import EvaluationError
from ivr.flowlang.ir import Lookup
from ivr.runtime.context import CallContext, Frame
from ivr.runtime.outcomes import StepResult, need
from ivr.runtime.ports import OperationError, OperationTimeout
from ivr.runtime.steps._eval import arguments, evaluate, invoke


async def run(node: Lookup, call: CallContext, frame: Frame) -> StepResult:
    try:
        args = await arguments(call, frame, node, node.args)
        finish_by = _finish_by(call, node.operation)
        if finish_by == math.inf:  # stops at once on a hang-up: no scope of its own needed
            result = await invoke(call, node, node.operation, args)
        else:
            with trio.CancelScope(deadline=finish_by, shield=True):
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


def _finish_by(call: CallContext, operation: str) -> float:
    """When a hang-up may cut this operation short. An operation with an `idempotency_key`
    moves money or places an order: it runs to its end (within its own time limits) even
    if the caller hangs up, so its outcome is known and recorded, never left half-way.
    Any other operation stops at once on a hang-up (no shield, no deadline: inf)."""
    service = call.project.service
    decl = service.operations.get(operation) if service else None
    if decl is None or "idempotency_key" not in decl.config:
        return math.inf
    budget = decl.timeout * (decl.retries + 1) + Decimal(5)
    return trio.current_time() + float(budget)
