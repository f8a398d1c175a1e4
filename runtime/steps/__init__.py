"""Steps: one module per node kind; `run_step` dispatches on the node's type.

The `match` ends in `assert_never`, so a node kind added to `ivr.flowlang.ir.Node` is a
type error here until it has a step.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, assert_never

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


def run_step(node: Node, call: CallContext, frame: Frame) -> Coroutine[Any, Any, StepResult]:
    """Run one node (await the result): the edge to follow or how the flow ended.

    Not itself a coroutine: it hands back the step's own, so a waiting call holds one
    coroutine fewer and a node costs one fewer to make."""
    match node:
        case Say():
            return say.run(node, call, frame)
        case Menu():
            return menu.run(node, call, frame)
        case Collect():
            return collect.run(node, call, frame)
        case Confirm():
            return confirm.run(node, call, frame)
        case Branch():
            return branch.run(node, call, frame)
        case Set():
            return set_step.run(node, call, frame)
        case Lookup():
            return lookup.run(node, call, frame)
        case Subflow():
            return subflow.run(node, call, frame)
        case Return():
            return subflow.run_return(node, call, frame)
        case Enqueue():
            return enqueue.run(node, call, frame)
        case Transfer():
            return transfer.run(node, call, frame)
        case Record():
            return record.run(node, call, frame)
        case Send():
            return send.run(node, call, frame)
        case Schedule():
            return schedule.run(node, call, frame)
        case Language():
            return language.run(node, call, frame)
        case Log():
            return log.run(node, call, frame)
        case Hangup():
            return hangup.run(node, call, frame)
        case _:
            assert_never(node)
