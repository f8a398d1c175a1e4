"""`record`: prompt, record the caller, and store the recording durably before going on.

`store_recording` returns only when the recording is durable, so the next prompt ("thank
you, your message is saved") is never a lie. A recording cut by a hang-up is stored too,
then the call ends as "caller_hangup". An empty recording takes `on_no_input`.
"""

from __future__ import annotations

from ivr.flowlang.ir import Record
from ivr.runtime.context import CallContext, Frame
from ivr.runtime.outcomes import StepResult, need
from ivr.runtime.ports import CallEnded
from ivr.runtime.steps._eval import arguments
from ivr.runtime.steps._prompts import speak


async def run(node: Record, call: CallContext, frame: Frame) -> StepResult:
    metadata = await arguments(call, frame, node, node.metadata)
    await speak(call, frame, node, [node.prompt], barge_in=False)
    recording_id = f"{call.leg.call_id}-{node.id}-{len(call.path)}"
    recording = await call.leg.record(
        max_length=node.max_length, stop_key=node.stop_key, beep=node.beep, recording_id=recording_id
    )
    if recording.duration <= 0 and recording.ended_by != "hangup":
        return need(node.on_no_input, node, "on_no_input")
    await call.ports.records.store_recording(call.leg.call_id, recording, call.mask_mapping(metadata))
    frame.variables[node.into] = recording.recording_id
    await call.event("recording", node, id=recording.recording_id, duration=str(recording.duration))
    if recording.ended_by == "hangup":
        raise CallEnded("the caller hung up while recording")
    return need(node.next, node, "next")
