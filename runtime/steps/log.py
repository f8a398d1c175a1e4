"""`log`: one line in the call record's trace, rendered with secrets masked."""

from __future__ import annotations

import logging

from ivr.flowlang import expressions
from ivr.flowlang.ir import Log
from ivr.runtime.context import CallContext, Frame
from ivr.runtime.outcomes import StepResult, need
from ivr.runtime.steps._eval import prefetch

logger = logging.getLogger("ivr.flow")


async def run(node: Log, call: CallContext, frame: Frame) -> StepResult:
    results = await prefetch(call, frame, node, node.message)
    text = expressions.render_template(
        node.message, call.masked_scope(frame), language=call.language, call_results=results, now=call.now()
    )
    logger.info("%s %s:%s: %s", call.leg.call_id, frame.flow.file, node.span.line, text)
    await call.event("log", node, message=text)
    return need(node.next, node, "next")
