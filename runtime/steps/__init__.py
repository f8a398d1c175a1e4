"""Steps: one module per node kind; `run_step` dispatches on the node's type.

The `match` ends in `assert_never`, so a node kind added to `ivr.flowlang.ir.Node` is a
type error here until it has a step.
"""

from __future__ import annotations

from typing import assert_never

from ivr.flowlang.ir import (
    Branch,
    Collect,
    Confirm,
    Enqueue,
    Hangup,
    Language,
    Log,
    Lookup,
    Menu,
    Node,
    Record,
    Return,
    Say,
    Schedule,
    Send,
    Set,
    Subflow,
    Transfer,
)
from ivr.runtime.context import CallContext, Frame
from ivr.runtime.outcomes import StepResult
from ivr.runtime.steps import (
    branch,
    collect,
    confirm,
    enqueue,
    hangup,
    language,
    log,
    lookup,
    menu,
    record,
    say,
    schedule,
    send,
    subflow,
    transfer,
)
from ivr.runtime.steps import set as set_step


async def run_step(node: Node, call: CallContext, frame: Frame) -> StepResult:
    """Run one node; the result is the edge to follow or how the flow ended."""
    match node:
        case Say():
            return await say.run(node, call, frame)
        case Menu():
            return await menu.run(node, call, frame)
        case Collect():
            return await collect.run(node, call, frame)
        case Confirm():
            return await confirm.run(node, call, frame)
        case Branch():
            return await branch.run(node, call, frame)
        case Set():
            return await set_step.run(node, call, frame)
        case Lookup():
            return await lookup.run(node, call, frame)
        case Subflow():
            return await subflow.run(node, call, frame)
        case Return():
            return await subflow.run_return(node, call, frame)
        case Enqueue():
            return await enqueue.run(node, call, frame)
        case Transfer():
            return await transfer.run(node, call, frame)
        case Record():
            return await record.run(node, call, frame)
        case Send():
            return await send.run(node, call, frame)
        case Schedule():
            return await schedule.run(node, call, frame)
        case Language():
            return await language.run(node, call, frame)
        case Log():
            return await log.run(node, call, frame)
        case Hangup():
            return await hangup.run(node, call, frame)
        case _:
            assert_never(node)
