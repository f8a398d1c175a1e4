"""`send`: deliver a message (SMS, e-mail, fax document) through a named channel.

`DeliveryError` and an `EvaluationError` in `to` / `document` take `on_error`.
"""

from __future__ import annotations

from ivr.flowlang.expressions import EvaluationError
from ivr.flowlang.ir import Send
from ivr.runtime.context import CallContext, Frame
from ivr.runtime.outcomes import StepResult, need
from ivr.runtime.ports import DeliveryError
from ivr.runtime.steps._eval import evaluate
from ivr.runtime.steps._prompts import render


async def run(node: Send, call: CallContext, frame: Frame) -> StepResult:
    try:
        to = str(await evaluate(call, frame, node, node.to))
        text = (await render(call, frame, node, node.message)).text if node.message else None
        document = await evaluate(call, frame, node, node.document) if node.document else None
        delivery = await call.ports.channels.send(node.channel, to, text, document)
    except (DeliveryError, EvaluationError) as problem:
        await call.event("message", node, channel=node.channel, outcome="error", error=str(problem))
        return need(node.on_error, node, "on_error")
    await call.event(
        "message", node, channel=node.channel, to=call.mask(to), outcome="sent", delivery=delivery
    )
    return need(node.next, node, "next")
