"""What an agent is told about the caller: each flow's declared `context` and the caller's
way through the IVR's menus, collects and confirms.

A flow declares `context:` (what the caller asked for, a stock code, a draft order, why
something failed; docs/language.md). Its values are taken when the flow ends (`capture`,
from the subflow step, so a flow the caller has left still counts) and again for every
running flow when the caller is queued (`screen`). The `enqueue` step puts the result into
the queue request's screen data as `ivr_context`:

    {"fields": [{"flow": "orders", "name": "draft", "label": {"zh": "委托草稿", "en": "Draft order"},
                 "value": "沪市买入 600519 ..."}, ...],
     "path": ["main.main_menu:3", "orders.ask_price:on_invalid", "orders.after_order:agent"]}

Fields come flow by flow (flat, so a desktop's depth limit for screen data never cuts a
label): the running flows from the entry flow down, then the flows the caller left, the
latest first.

Values are read from the masked scope and masked again (the checker rejects a secret in a
context, FL510; this catches a secret copied at run time). A value that cannot be worked
out (a missing field) is left out, never a reason to fail the call; empty values too.
"""

from __future__ import annotations

import logging

from ivr.flowlang import expressions
from ivr.flowlang.ir import Collect, Confirm, Menu
from ivr.runtime.context import CallContext, Frame

log = logging.getLogger("ivr.runtime.agentcontext")

CONTEXT_KEY = "ivr_context"
MAX_PATH = 30  # input nodes shown to the agent: the latest ones


def capture(call: CallContext, frame: Frame) -> None:
    """Take `frame`'s flow context now, as the latest of that flow."""
    flow = frame.flow
    if not flow.context:
        return
    scope = call.masked_scope(frame)
    fields = []
    for item in flow.context:
        try:
            value = expressions.evaluate(item.value, scope, now=call.now())
        except expressions.EvaluationError as problem:
            log.info("%s: context '%s' left out: %s", flow.file, item.name, call.mask_text(str(problem)))
            continue
        fields.append((item, call.mask(value)))
    call.contexts.pop(flow.name, None)
    call.contexts[flow.name] = fields


def screen(call: CallContext) -> dict[str, object] | None:
    """The context for an agent's screen, with every running flow's context taken now; None
    when there is nothing to tell (no context declared, no menu answered)."""
    for frame in call.stack:
        capture(call, frame)
    running = list(dict.fromkeys(frame.flow.name for frame in call.stack))
    left = [name for name in reversed(call.contexts) if name not in running]
    shown = [
        {"flow": name, "name": item.name, "label": dict(item.label), "value": value}
        for name in running + left
        for item, value in call.contexts.get(name, [])
        if not _empty(value)
    ]
    path = path_summary(call)
    return {"fields": shown, "path": path} if shown or path else None


def path_summary(call: CallContext) -> list[str]:
    """`flow.node:edge` for each menu, collect and confirm the caller answered (or failed,
    or left with a global key), the latest `MAX_PATH`. Never what was typed."""
    steps = []
    for visit in call.path:
        node = (
            call.project.flows[visit.flow].nodes.get(visit.node) if visit.flow in call.project.flows else None
        )
        if isinstance(node, Menu | Collect | Confirm) and visit.edge is not None:
            steps.append(f"{visit.flow}.{visit.node}:{visit.edge}")
    return steps[-MAX_PATH:]


def _empty(value: object) -> bool:
    return value is None or value == "" or value == [] or value == {}
