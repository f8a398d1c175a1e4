"""`transfer`: connect the caller elsewhere through the leg.

A blind transfer that succeeds hands the call off: it ends as "transferred". A bridged
transfer that ends normally takes `next` (or ends as "transferred" without it); a transfer
that does not connect takes `on_failed`.
"""

from __future__ import annotations

from ivr.flowlang.ir import Transfer
from ivr.runtime.context import CallContext, Frame
from ivr.runtime.outcomes import Finished, StepResult, need
from ivr.runtime.steps._eval import evaluate


async def run(node: Transfer, call: CallContext, frame: Frame) -> StepResult:
    destination = str(await evaluate(call, frame, node, node.to))
    connected = await call.leg.transfer(destination, mode=node.mode, timeout=node.timeout)
    await call.event("transfer", node, to=destination, mode=node.mode, connected=connected)
    if not connected:
        return need(node.on_failed, node, "on_failed")
    if node.mode == "blind" or node.next is None:
        return Finished("transferred")
    return node.next
