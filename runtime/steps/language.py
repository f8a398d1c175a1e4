"""`language`: switch the prompt language for the rest of the call (subflows included)."""

from __future__ import annotations

from ivr.flowlang.ir import Language
from ivr.runtime.context import CallContext, Frame
from ivr.runtime.outcomes import StepResult, need


async def run(node: Language, call: CallContext, frame: Frame) -> StepResult:
    call.language = node.language
    return need(node.next, node, "next")
