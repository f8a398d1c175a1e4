"""What an agent is told about the caller: each flow's declared `context`, and the caller's
way through the IVR's menus, collects and confirms.

A flow declares `context:` (what the caller asked for, a stock code, a draft order, why
something failed; docs/language.md). Its values are taken when the flow ends (`capture`,
from the subflow step, so a flow the caller has left still counts) and again for every
running flow when the caller is queued (`screen`). The `enqueue` step puts them into the
queue request's screen data as `ivr_context`, and the way the caller came (`path_summary`:
the menus chosen, the confirmations, the entries that failed or were left with a global
key) into the request's `path` (the ACD shows it as `ivr_path`):

    {"fields": [{"flow": "orders", "name": "draft", "label": {"zh": "委托草稿", "en": "Draft order"},
                 "value": "沪市买入 600519 ..."}, ...]}
    ["main.main_menu:3", "orders.ask_price:on_invalid", "orders.after_order:agent"]

Fields come flow by flow (flat, so a desktop's depth limit for screen data never cuts a
label): the running flows from the entry flow down, then the flows the caller left, the
latest first. Values are read from the masked scope and masked again (the checker rejects
a secret in a context, FL510; this catches a secret copied at run time). A value that
cannot be worked out (a missing field) is left out, never a reason to fail the call; empty
values too.
"""

from __future__ import annotations

import logging

from ivr.flowlang import expressions
from ivr.flowlang.ir import Collect, Confirm, Menu
from ivr.runtime.context import CallContext, Frame

log = logging.getLogger("ivr.runtime.agentcontext")

CONTEXT_KEY = "ivr_context"
MAX_PATH = 20  # steps shown to the agent: the latest ones


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
    when there is nothing to tell."""
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
    return {"fields": shown} if shown else None


def path_summary(call: CallContext) -> tuple[str, ...]:
    """`flow.node:edge` for each menu the caller answered (its edge is the key pressed) and
    each confirm, and for each collect the caller failed (`on_invalid`, `on_no_input`) or
    left with a global key (`agent`, `back`): the latest `MAX_PATH`. A collect that simply
    took its entry is left out (the flows' context says what was entered), and so is what
    was typed, always."""
    steps = []
    for visit in call.path:
        flow = call.project.flows.get(visit.flow)
        node = flow.nodes.get(visit.node) if flow is not None else None
        if visit.edge is None or not isinstance(node, Menu | Collect | Confirm):
            continue
        if isinstance(node, Collect) and visit.edge == "next":
            continue
        steps.append(f"{visit.flow}.{visit.node}:{visit.edge}")
    return tuple(steps[-MAX_PATH:])


def _empty(value: object) -> bool:
    return value is None or value == "" or value == [] or value == {}
