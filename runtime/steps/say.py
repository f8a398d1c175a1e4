"""`say`: speak a prompt and go on; a digit may cut it and is kept for the next input."""

from __future__ import annotations

from ivr.flowlang.ir import Say
from ivr.runtime.context import CallContext, Frame
from ivr.runtime.outcomes import StepResult, need
from ivr.runtime.steps._prompts import speak


async def run(node: Say, call: CallContext, frame: Frame) -> StepResult:
    await speak(call, frame, node, (node.prompt,), barge_in=node.barge_in)
    return need(node.next, node, "next")
