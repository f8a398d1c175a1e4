"""`enqueue`: hand the caller to the ACD (`AgentRouting`) and follow how it went.

The request carries the screen pop (`data`, masked), the call's language (the queue's
announcements speak it) and the caller's way through the IVR's menus, collects and
confirms (`path`, for the agent). The screen pop also holds, as `ivr_context`, what the
caller did there: each flow's declared `context` (`ivr.runtime.agentcontext`). It also
carries the call's `CallFlowRunner` (the agent may send the caller into a flow and get the
caller back).
"completed" (the agent conversation ended) takes `next`, or ends the call as "agent"
without it; "timeout", "overflow" and "no_agents" take their edges. With `callback:` the
request carries the rendered offer; "callback" (the caller pressed its key and keeps their
place) plays the confirmation and ends the call as "callback".
"""

from __future__ import annotations

from decimal import Decimal

from ivr.flowlang.ir import Enqueue, QueueCallback
from ivr.runtime import agentcontext
from ivr.runtime.agent_flows import CallFlowRunner
from ivr.runtime.context import CallContext, Frame
from ivr.runtime.outcomes import Finished, StepResult, need
from ivr.runtime.ports import CallbackOffer, QueueRequest, SpokenPrompt
from ivr.runtime.steps._eval import arguments, evaluate
from ivr.runtime.steps._prompts import render

# What a callback offer says when the flow gives no prompt of its own, by language.
_OFFER = {
    "zh": "如需保留排队位置并由我们回电，请按{key}。",
    "en": "To keep your place in the queue and be called back, press {key}.",
}
_CONFIRM = {
    "zh": "好的，我们会在坐席空闲时给您回电，您的排队位置已保留。再见。",
    "en": "Thank you. We will call you back when an agent is free; your place is kept. Goodbye.",
}


async def run(node: Enqueue, call: CallContext, frame: Frame) -> StepResult:
    priority = 0
    if node.priority is not None:
        priority = int(Decimal(str(await evaluate(call, frame, node, node.priority))))
    # The checker rejects secrets in `data`; masking again here means a secret value copied
    # into an innocently named variable still never reaches an agent's screen.
    data = call.mask_mapping(await arguments(call, frame, node, node.data))
    context = agentcontext.screen(call)
    if context is not None:
        data[agentcontext.CONTEXT_KEY] = context
    path = agentcontext.path_summary(call)
    flows = CallFlowRunner(call)
    offer = await _callback_offer(node, call, frame)
    request = QueueRequest(
        node.queue,
        node.skills,
        priority,
        data,
        node.max_wait,
        call.language,
        path,
        flows,
        offer,
        call.channel,
    )
    answer = await call.ports.routing.enqueue(call.leg, request)
    await call.event("queue", node, queue=node.queue, outcome=answer, data=data)
    if answer == "callback" and node.callback is not None:
        confirm = await _spoken(node, node.callback, call, frame, confirm=True)
        await call.event("prompt", node, text=confirm.text, language=confirm.language, audio=confirm.audio)
        await call.leg.play(confirm, barge_in=False)
        return Finished("callback")
    if answer == "completed":
        return node.next or Finished("agent")
    edges = {"timeout": node.on_timeout, "overflow": node.on_overflow, "no_agents": node.on_no_agents}
    return need(edges.get(answer), node, f"on_{answer}")


async def _callback_offer(node: Enqueue, call: CallContext, frame: Frame) -> CallbackOffer | None:
    """The rendered offer; none without `callback:` or without a number to call back."""
    if node.callback is None or not call.leg.caller.strip():
        return None
    prompt = await _spoken(node, node.callback, call, frame, confirm=False)
    return CallbackOffer(node.callback.key, node.callback.after, prompt, call.leg.caller)


async def _spoken(
    node: Enqueue, offer: QueueCallback, call: CallContext, frame: Frame, *, confirm: bool
) -> SpokenPrompt:
    own = offer.confirm if confirm else offer.prompt
    if own is not None:
        return await render(call, frame, node, own)
    language = call.language if call.language in _OFFER else "en"
    text = (_CONFIRM if confirm else _OFFER)[language]
    return SpokenPrompt(text.format(key=offer.key), language)
