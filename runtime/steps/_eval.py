"""Expressions at run time: data-operation calls inside an expression are awaited first.

The evaluator (`ivr.flowlang.expressions`) is pure and synchronous, so a step never hands
it I/O: `evaluate` finds the `Call`s that name a declared data operation (`calls_made`,
inner calls first), awaits each through `invoke` (which writes the "operation" record with
outcome and latency), then evaluates with the answers as `call_results`. Which calls an
expression makes is found once per expression (`calls_in`), not on every evaluation.
"""

from __future__ import annotations

from collections.abc import Mapping

import trio

from ivr.flowlang import expressions
from ivr.flowlang.expressions.ast import Call, Expr, Template
from ivr.flowlang.ir import Argument, Node
from ivr.runtime.context import CallContext, Frame
from ivr.runtime.memo import IdentityMemo
from ivr.runtime.ports import OperationTimeout


async def evaluate(
    call: CallContext, frame: Frame, node: Node, expr: Expr, extra: Mapping[str, object] | None = None
) -> object:
    """The value of `expr` in the frame (plus `extra` names such as `result`)."""
    # Most expressions call no data operation: no `prefetch` coroutine for them.
    results = await prefetch(call, frame, node, expr, extra) if calls_in(expr) else None
    scope = call.scope(frame, extra)
    return expressions.evaluate(expr, scope, call_results=results, now=call.now())


async def arguments(
    call: CallContext, frame: Frame, node: Node, args: tuple[Argument, ...]
) -> dict[str, object]:
    """`name: expression` pairs evaluated in order."""
    return {a.name: await evaluate(call, frame, node, a.expr) for a in args}


async def prefetch(
    call: CallContext,
    frame: Frame,
    node: Node,
    source: Expr | Template,
    extra: Mapping[str, object] | None = None,
) -> dict[Call, object] | None:
    """Answers of the data operations that `source` calls, keyed by their `Call` node."""
    service = call.project.service
    calls = calls_in(source)
    if service is None or not calls:
        return None
    results: dict[Call, object] = {}
    for found in calls:
        decl = service.operations.get(found.function)
        if decl is None or found in results:
            continue
        scope = call.scope(frame, extra)
        values = [expressions.evaluate(a, scope, call_results=results, now=call.now()) for a in found.args]
        results[found] = await invoke(
            call, node, found.function, dict(zip(decl.params, values, strict=False))
        )
    return results or None


def _calls_made(source: Expr | Template) -> tuple[Call, ...]:
    return tuple(expressions.calls_made(source))


# Every prompt and condition is evaluated on every call: walking its AST each time to find
# the operations it calls cost a tenth of the engine's time.
calls_in = IdentityMemo(_calls_made)


async def invoke(call: CallContext, node: Node, name: str, args: Mapping[str, object]) -> object:
    """Run a data operation and record its outcome and latency (arguments masked): "ok",
    "error", "timeout", or "cancelled" when the caller hung up meanwhile."""
    start = trio.current_time()
    outcome = "cancelled"
    try:
        result = await call.ports.data.invoke(name, args)
        outcome = "ok"
        return result
    except OperationTimeout:
        outcome = "timeout"
        raise
    except Exception:  # OperationError, or a bug in the adapter
        outcome = "error"
        raise
    finally:
        with trio.CancelScope(shield=True):
            latency = call.elapsed_since(start)
            await call.event(
                "operation",
                node,
                name=name,
                args=call.mask_mapping(args),
                outcome=outcome,
                latency_ms=latency,
            )
