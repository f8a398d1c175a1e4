"""`send`: queue a message (SMS, e-mail, fax of a document) on a named channel, and
optionally wait a bounded time for the gateway's answer.

Queueing is shielded from the call's hang-up notice and bounded by `QUEUE_LIMIT`: a message
being queued when the caller hangs up is still queued (a confirmation is not lost because
the caller hung up first). Without `wait` the flow goes on (`next`) once the message is
durable, so the flow may truthfully say "will be sent". With `wait` it waits up to that
long: `next` when the gateway accepted it, `on_pending` when no answer came in time (the
outbox keeps trying), `on_error` when it failed for good. A refusal (`DeliveryError`: bad
address, unknown channel), a queue that does not answer in time and an `EvaluationError` in
`to` / `document` take `on_error`. The wait is not shielded: a hang-up ends it at once.
"""

from __future__ import annotations

import trio

from ivr.flowlang.expressions import EvaluationError
from ivr.flowlang.ir import Send
from ivr.runtime.context import CallContext, Frame
from ivr.runtime.outcomes import StepResult, need
from ivr.runtime.ports import DeliveryError, DeliveryResult, MessageOrigin
from ivr.runtime.steps._eval import evaluate
from ivr.runtime.steps._prompts import render

QUEUE_LIMIT = 30.0


async def run(node: Send, call: CallContext, frame: Frame) -> StepResult:
    origin = MessageOrigin(call.leg.call_id, frame.flow.name, node.id)
    try:
        to = str(await evaluate(call, frame, node, node.to))
        text = (await render(call, frame, node, node.message)).text if node.message else None
        document = await evaluate(call, frame, node, node.document) if node.document else None
        with trio.CancelScope(shield=True), trio.fail_after(QUEUE_LIMIT):
            delivery = await call.ports.channels.send(node.channel, to, text, document, origin=origin)
    except (DeliveryError, EvaluationError, trio.TooSlowError) as problem:
        error = str(problem) or f"the outbox did not answer within {QUEUE_LIMIT:g} s"
        await call.event("message", node, channel=node.channel, outcome="error", error=error)
        return need(node.on_error, node, "on_error")
    await call.event(
        "message", node, channel=node.channel, to=call.mask(to), outcome="queued", delivery=delivery
    )
    if node.wait is None:
        return need(node.next, node, "next")
    result = await _wait(call, delivery, node)
    await call.event("message_result", node, channel=node.channel, delivery=delivery, result=result)
    match result:
        case "sent":
            return need(node.next, node, "next")
        case "pending":
            return need(node.on_pending, node, "on_pending")
        case "failed":
            return need(node.on_error, node, "on_error")


async def _wait(call: CallContext, delivery: str, node: Send) -> DeliveryResult:
    assert node.wait is not None
    try:
        return await call.ports.channels.wait_delivery(delivery, node.wait)
    except DeliveryError:
        return "pending"  # the message is queued; not knowing its state is not a failure
