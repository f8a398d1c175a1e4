"""`enqueue`: hand the caller to the ACD (`AgentRouting`) and follow how it went.

The request carries the screen pop (`data`, masked), the call's language (the queue's
announcements speak it) and the caller's way through the IVR's menus, collects and
confirms (`path`, for the agent). The screen pop also holds, as `ivr_context`, what the
caller did there: each flow's declared `context` (`ivr.runtime.agentcontext`). It also
carries the call's `CallFlowRunner` (the agent may send the caller into a flow and get the
caller back).
"completed" (the agent conversation ended) takes `next`, or ends the call as "agent"
without it; "timeout", "overflow" and "no_agents" take their edges.
"""

from __future__ import annotations

from decimal import Decimal

from ivr.flowlang.ir import Enqueue
from ivr.runtime import agentcontext
from ivr.runtime.agent_flows import CallFlowRunner
from ivr.runtime.context import CallContext, Frame
from ivr.runtime.outcomes import Finished, StepResult, need
from ivr.runtime.ports import QueueRequest
from ivr.runtime.steps._eval import arguments, evaluate


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
    request = QueueRequest(
        node.queue, node.skills, priority, data, node.max_wait, call.language, path, flows, call.channel
    )
    answer = await call.ports.routing.enqueue(call.leg, request)
    await call.event("queue", node, queue=node.queue, outcome=answer, data=data)
    if answer == "completed":
        return node.next or Finished("agent")
    edges = {"timeout": node.on_timeout, "overflow": node.on_overflow, "no_agents": node.on_no_agents}
    return need(edges.get(answer), node, f"on_{answer}")
