"""`record` on MockClock: how a recording ends (key, max_length, silence, hang-up) and when
it is stored."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from decimal import Decimal

import pytest
import trio
from engine_harness import Harness, flow, heard, project
from trio.testing import MockClock

from ivr.runtime.ports import Recording
from ivr.runtime.testing import MemoryCallLeg, MemoryCallRecords

VOICEMAIL = flow(
    """
    flow: voicemail
    languages: [en]
    variables:
      message: {type: string}
    start: record
    nodes:
      record:
        type: record
        prompt: Speak after the tone
        into: message
        max_length: 60s
        stop_key: "#"
        next: saved
        on_no_input: nothing
      saved: {type: hangup, prompt: Your message is saved}
      nothing: {type: hangup, prompt: We did not hear a message}
    """
)


async def _after_prompt(leg: MemoryCallLeg) -> None:
    await leg.wait_for(lambda: leg.recording)


async def run(leg: MemoryCallLeg, caller: Callable[[], Awaitable[None]] | None = None) -> tuple[Harness, str]:
    harness = Harness(project(VOICEMAIL))
    async with trio.open_nursery() as nursery:
        if caller is not None:
            nursery.start_soon(caller)
        outcome = await harness.run(leg)
    return harness, outcome.how


async def test_stop_key_ends_the_recording_and_it_is_stored(autojump_clock: MockClock) -> None:
    leg = MemoryCallLeg(seconds_per_char=0)

    async def caller() -> None:
        await _after_prompt(leg)
        leg.speak(12)
        await trio.sleep(12)
        leg.press("#")

    harness, how = await run(leg, caller)
    [stored] = harness.records.recordings
    assert stored.recording.ended_by == "key" and stored.recording.duration == 12
    assert heard(leg)[-1] == "Your message is saved" and how == "completed"


async def test_max_length_ends_a_long_message(autojump_clock: MockClock) -> None:
    leg = MemoryCallLeg(seconds_per_char=0)
    leg.speak(500)
    harness, _ = await run(leg)
    [stored] = harness.records.recordings
    assert stored.recording.ended_by == "max_length" and stored.recording.duration == 60


async def test_silence_from_the_start_takes_on_no_input_and_stores_nothing(autojump_clock: MockClock) -> None:
    leg = MemoryCallLeg(seconds_per_char=0, record_silence=5)
    harness, how = await run(leg)
    assert harness.records.recordings == []
    assert heard(leg)[-1] == "We did not hear a message" and how == "completed"
    assert trio.current_time() == pytest.approx(5)
    [empty] = harness.records.of("call-1", "input")
    assert dict(empty.detail) == {"outcome": "no_input", "ended_by": "silence"}


async def test_silence_after_speech_ends_the_recording_without_the_trailing_silence(
    autojump_clock: MockClock,
) -> None:
    leg = MemoryCallLeg(seconds_per_char=0, record_silence=5)

    async def caller() -> None:
        await _after_prompt(leg)
        await trio.sleep(1)
        leg.speak(8)

    harness, _ = await run(leg, caller)
    [stored] = harness.records.recordings
    assert stored.recording.ended_by == "silence" and stored.recording.duration == 9  # 1 s + 8 s spoken
    assert trio.current_time() == pytest.approx(14)  # 9 s, then 5 s of silence
    assert heard(leg)[-1] == "Your message is saved"


async def test_a_stop_key_typed_ahead_makes_an_empty_recording(autojump_clock: MockClock) -> None:
    leg = MemoryCallLeg(seconds_per_char=0)
    leg.press("#")
    harness, _ = await run(leg)
    assert harness.records.recordings == [] and heard(leg)[-1] == "We did not hear a message"


async def test_empty_recording_without_on_no_input_fails_the_call(autojump_clock: MockClock) -> None:
    strict = flow(
        """
        flow: strict
        languages: [en]
        variables:
          message: {type: string}
        start: record
        nodes:
          record: {type: record, into: message, max_length: 30s, next: bye}
          bye: {type: hangup}
        """
    )
    leg = MemoryCallLeg(seconds_per_char=0, record_silence=5)
    outcome = await Harness(project(strict)).run(leg)
    assert outcome.how == "failed" and "on_no_input" in (outcome.failure or "")


class SlowDurableRecords(MemoryCallRecords):
    """A store that takes a while (a disk sync): the hang-up must not cut it short."""

    def __init__(self) -> None:
        super().__init__()
        self.journal: list[str] = []

    async def store_recording(
        self, call_id: str, recording: Recording, metadata: Mapping[str, object]
    ) -> None:
        await trio.sleep(2)
        await super().store_recording(call_id, recording, metadata)
        self.journal.append("stored")

    async def call_ended(self, call_id: str, *, how: str, at: datetime) -> None:
        self.journal.append(f"ended:{how}")
        await super().call_ended(call_id, how=how, at=at)


async def test_hangup_while_recording_stores_the_message_before_the_call_ends(
    autojump_clock: MockClock,
) -> None:
    leg = MemoryCallLeg(seconds_per_char=0)
    records = SlowDurableRecords()
    harness = Harness(project(VOICEMAIL), records=records)

    async def caller() -> None:
        await _after_prompt(leg)
        leg.speak(7)
        await trio.sleep(7)
        leg.hang_up()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(caller)
        outcome = await harness.run(leg)
    assert outcome.how == "caller_hangup"
    assert records.journal == ["stored", "ended:caller_hangup"]
    [stored] = records.recordings
    assert stored.recording.ended_by == "hangup" and stored.recording.duration == Decimal(7)
    assert outcome.variables["message"] == stored.recording.recording_id
    [event] = records.of("call-1", "recording")
    assert event.detail["ended_by"] == "hangup"


async def test_hangup_during_the_record_prompt_stores_nothing(autojump_clock: MockClock) -> None:
    leg = MemoryCallLeg(seconds_per_char=1.0)

    async def caller() -> None:
        await trio.sleep(3)
        leg.hang_up()

    harness, how = await run(leg, caller)
    assert how == "caller_hangup" and harness.records.recordings == []
