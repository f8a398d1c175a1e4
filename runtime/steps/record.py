"""`record`: prompt, record the caller, and store the recording durably before going on.

The recording ends at the stop key, at `max_length`, when the caller has said nothing for
the leg's silence limit, or at the hang-up (`Recording.ended_by`). `store_recording`
returns only when the recording is durable, so the next prompt ("thank you, your message
is saved") is never a lie.

A hang-up must end the recording through the leg (`ended_by="hangup"`), not cancel it: the
recording and its storing are shielded from the call's hang-up notice, so a message cut by
a hang-up is stored first, and only then does the call end as "caller_hangup". An empty
recording (the caller said nothing) is not stored and takes `on_no_input`.

A web chat carries no voice: there the node takes `on_chat` at once when the flow gives
one (nothing is said or recorded); without it the chat leg records silence (`on_no_input`).
"""

from __future__ import annotations

import trio

from ivr.flowlang.ir import Record
from ivr.runtime.context import CallContext, Frame
from ivr.runtime.outcomes import StepResult, need
from ivr.runtime.ports import CallEnded, Recording
from ivr.runtime.steps._eval import arguments
from ivr.runtime.steps._prompts import speak

GRACE = 30.0  # seconds beyond max_length for the leg to finish, and for the store


async def run(node: Record, call: CallContext, frame: Frame) -> StepResult:
    if node.on_chat is not None and call.channel == "chat":
        return node.on_chat
    metadata = call.mask_mapping(await arguments(call, frame, node, node.metadata))
    await speak(call, frame, node, [node.prompt], barge_in=False)
    recording_id = f"{call.leg.call_id}-{node.id}-{len(call.path)}"
    with trio.CancelScope(shield=True):
        with trio.fail_after(float(node.max_length) + GRACE):
            recording = await call.leg.record(
                max_length=node.max_length, stop_key=node.stop_key, beep=node.beep, recording_id=recording_id
            )
        stored = recording.duration > 0
        if stored:
            await _store(call, node, recording, metadata)
            frame.variables[node.into] = recording.recording_id
        else:
            await call.event("input", node, outcome="no_input", ended_by=recording.ended_by)
    if recording.ended_by == "hangup":
        raise CallEnded("the caller hung up while recording")
    if not stored:
        return need(node.on_no_input, node, "on_no_input")
    return need(node.next, node, "next")


async def _store(call: CallContext, node: Record, recording: Recording, metadata: dict[str, object]) -> None:
    with trio.fail_after(GRACE):
        await call.ports.records.store_recording(call.leg.call_id, recording, metadata)
    await call.event(
        "recording",
        node,
        id=recording.recording_id,
        duration=str(recording.duration),
        ended_by=recording.ended_by,
    )
