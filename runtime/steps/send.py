"""`send`: deliver a message (SMS, e-mail, fax document) through a named channel.

`DeliveryError`, a channel that does not answer within `DELIVERY_LIMIT` seconds and an
`EvaluationError` in `to` / `document` take `on_error`. A message that is being handed to
its channel when the caller hangs up is still sent (the delivery is shielded from the
call's hang-up notice): a confirmation is not lost because the caller hung up first.
"""

from __future__ import annotations

import trio

from ivr.flowlang.expressions import EvaluationError
from ivr.flowlang.ir import Send
from ivr.runtime.context import CallContext, Frame
from ivr.runtime.outcomes import StepResult, need
from ivr.runtime.ports import DeliveryError
from ivr.runtime.steps._eval import evaluate
from ivr.runtime.steps._prompts import render

DELIVERY_LIMIT = 30.0


async def run(node: Send, call: CallContext, frame: Frame) -> StepResult:
    try:
        to = str(await evaluate(call, frame, node, node.to))
        text = (await render(call, frame, node, node.message)).text if node.message else None
        document = await evaluate(call, frame, node, node.document) if node.document else None
        with trio.CancelScope(shield=True), trio.fail_after(DELIVERY_LIMIT):
            delivery = await call.ports.channels.send(node.channel, to, text, document)
    except (DeliveryError, EvaluationError, trio.TooSlowError) as problem:
        error = str(problem) or f"no answer from the channel within {DELIVERY_LIMIT:g} s"
        await call.event("message", node, channel=node.channel, outcome="error", error=error)
        return need(node.on_error, node, "on_error")
    await call.event(
        "message", node, channel=node.channel, to=call.mask(to), outcome="sent", delivery=delivery
    )
    return need(node.next, node, "next")
