"""`hangup`: say goodbye (not cut by keys) and end the call as "completed"."""

from __future__ import annotations

from ivr.flowlang.ir import Hangup
from ivr.runtime.context import CallContext, Frame
from ivr.runtime.outcomes import Finished, StepResult
from ivr.runtime.steps._prompts import speak


async def run(node: Hangup, call: CallContext, frame: Frame) -> StepResult:
    await speak(call, frame, node, (node.prompt,), barge_in=False)
    await call.leg.hangup()
    return Finished("completed")
