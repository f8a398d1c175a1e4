"""The other node kinds on memory ports: subflow, schedule, record, send, transfer, enqueue."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import trio
from engine_harness import Harness, flow, heard, project
from trio.testing import MockClock

from ivr.runtime import calendars
from ivr.runtime.testing import Fixture, FixtureOperations, MemoryCallLeg, QueueAnswer, VirtualWallClock

MAIN = flow(
    """
    flow: main
    languages: [en, zh]
    variables:
      account: {type: string}
      recording: {type: string}
    start: login
    nodes:
      login:
        type: subflow
        flow: auth
        inputs: {caller: call.caller}
        outputs: {account: account}
        outcomes: {ok: hours, locked: locked}
        on_error: locked
      hours:
        type: schedule
        calendar: desk
        open: chinese
        closed: message
        holiday: holiday
      chinese: {type: language, language: zh, next: note}
      note: {type: log, message: "account {account}", next: agent}
      agent:
        type: enqueue
        queue: general
        data: {account: account}
        next: bye
        on_timeout: expert
      expert:
        type: transfer
        to: "'sip:expert@127.0.0.1'"
        mode: blind
        on_failed: message
      message:
        type: record
        prompt: {en: Leave a message, zh: 请留言}
        into: recording
        max_length: 60s
        stop_key: "#"
        metadata: {account: account}
        next: sms
        on_no_input: bye
      sms:
        type: send
        channel: sms
        to: call.caller
        message: {en: "We got your message", zh: 已收到留言}
        next: bye
        on_error: bye
      holiday: {type: hangup, prompt: {en: Holiday, zh: 假日}}
      locked: {type: hangup, prompt: {en: Locked, zh: 已锁定}}
      bye: {type: hangup, prompt: {en: Bye, zh: 再见}}
    """
)
AUTH = flow(
    """
    flow: auth
    languages: [en]
    inputs:
      caller: {type: string}
    outputs:
      account: {type: string}
    start: check
    nodes:
      check:
        type: branch
        cases:
          - if: caller == '13800000000'
            next: ok
        else: locked
      ok: {type: return, outcome: ok, outputs: {account: "'A-' + caller"}}
      locked: {type: return, outcome: locked}
    """
)
SERVICE = """
service: desk
languages: [en, zh]
queues:
  general: {skills: [general]}
calendars:
  desk:
    timezone: Asia/Shanghai
    hours:
      fri: [["09:00", "17:00"]]
    holidays: ["2026-10-01"]
channels:
  sms: {kind: sms}
"""


def harness(at: str) -> Harness:
    return Harness(
        project(MAIN, AUTH, service_text=SERVICE), clock=VirtualWallClock(datetime.fromisoformat(at))
    )


async def test_subflow_outputs_and_outcome_then_queue_in_the_new_language(autojump_clock: MockClock) -> None:
    h = harness("2026-11-27T10:00:00+08:00")
    leg = MemoryCallLeg()
    outcome = await h.run(leg, "main")
    assert outcome.variables["account"] == "A-13800000000"
    assert [v.node for v in outcome.path] == [
        "login",
        "check",
        "ok",
        "hours",
        "chinese",
        "note",
        "agent",
        "bye",
    ]
    assert h.routing.requests[0].data == {"account": "A-13800000000"}
    assert heard(leg) == ["再见"]
    assert h.records.of("call-1", "log")[0].detail["message"] == "account A-13800000000"


async def test_subflow_outcome_without_outputs_takes_its_edge(autojump_clock: MockClock) -> None:
    leg = MemoryCallLeg(caller="999")
    outcome = await harness("2026-11-27T10:00:00+08:00").run(leg, "main")
    assert outcome.last_node == "locked" and heard(leg) == ["Locked"]


async def test_queue_timeout_then_blind_transfer_ends_transferred(autojump_clock: MockClock) -> None:
    h = harness("2026-11-27T10:00:00+08:00")
    h.routing.answers = {"general": QueueAnswer("timeout", wait=180)}
    leg = MemoryCallLeg()
    outcome = await h.run(leg, "main")
    assert outcome.how == "transferred" and leg.transfers[0].destination == "sip:expert@127.0.0.1"
    assert trio.current_time() >= 180


async def test_closed_schedule_records_a_message_before_confirming_it(autojump_clock: MockClock) -> None:
    h = harness("2026-11-27T20:00:00+08:00")
    leg = MemoryCallLeg()

    async def speak_then_stop() -> None:
        await leg.wait_for(lambda: len(leg.prompts) >= 1 and leg.prompts[0].ended is not None)
        await trio.sleep(20)
        assert not h.channels.outbox
        leg.press("#")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(speak_then_stop)
        outcome = await h.run(leg, "main")
    [stored] = h.records.recordings
    assert stored.recording.duration == 20 and stored.metadata == {"account": "A-13800000000"}
    assert outcome.variables["recording"] == stored.recording.recording_id
    assert h.channels.outbox[0].message == "We got your message"
    assert h.channels.outbox[0].to == "13800000000"


async def test_holiday_takes_the_holiday_edge(autojump_clock: MockClock) -> None:
    leg = MemoryCallLeg()
    outcome = await harness("2026-10-01T10:00:00+08:00").run(leg, "main")
    assert outcome.last_node == "holiday"


async def test_hangup_while_recording_stores_the_recording(autojump_clock: MockClock) -> None:
    h = harness("2026-11-27T20:00:00+08:00")
    leg = MemoryCallLeg()
    leg.speak(60)  # talking when the caller hangs up

    async def hang_up_later() -> None:
        await trio.sleep(30)
        leg.hang_up()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(hang_up_later)
        outcome = await h.run(leg, "main")
    assert outcome.how == "caller_hangup"
    assert h.records.recordings[0].recording.ended_by == "hangup"


def test_calendar_uses_its_own_time_zone() -> None:
    assert desk_status("2026-11-27T01:30:00+00:00") == calendars.OPEN  # 09:30 in Shanghai
    assert desk_status("2026-11-27T09:00:00+00:00") == calendars.CLOSED  # 17:00: end excluded


def desk_status(at: str) -> str:
    service = project(MAIN, service_text=SERVICE).service
    assert service is not None
    return calendars.status(service.calendars["desk"], datetime.fromisoformat(at).astimezone(UTC))


async def test_a_secret_value_never_reaches_the_agent_screen_under_another_name(
    autojump_clock: MockClock,
) -> None:
    """The checker stops `data: {pin: pin}`; a PIN copied by value (here: an operation that
    echoes it back) is still masked before the ACD sees the screen data."""
    leaky = flow(
        """
        flow: leaky
        languages: [en]
        variables:
          pin: {type: string, secret: true}
          echoed: {type: string}
        start: ask
        nodes:
          ask:
            type: collect
            prompt: Your PIN
            into: pin
            max_length: 6
            next: echo
            on_no_input: bye
            on_invalid: bye
          echo:
            type: lookup
            operation: echo
            args: {value: "'x'"}
            assign: {echoed: result.value}
            next: agent
            on_error: bye
          agent:
            type: enqueue
            queue: general
            data: {note: echoed}
            next: bye
          bye: {type: hangup}
        """
    )
    h = Harness(project(leaky), FixtureOperations({"echo": [Fixture(result={"value": "246813"})]}))
    leg = MemoryCallLeg()

    async def caller() -> None:
        await leg.wait_for(lambda: leg.secret_active)
        leg.press("246813#")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(caller)
        outcome = await h.run(leg, "leaky")
    assert [v.node for v in outcome.path] == ["ask", "echo", "agent", "bye"], outcome
    data = h.routing.requests[0].data
    assert data["note"] == "***" and "246813" not in str(data)


async def test_an_audio_prompt_is_found_relative_to_its_flow_file(autojump_clock: MockClock) -> None:
    greeting = flow(
        """
        flow: greeting
        languages: [zh]
        start: hello
        nodes:
          hello:
            type: say
            prompt: {zh: {audio: prompts/hello.wav, text: 您好}}
            next: bye
          bye:
            type: hangup
        """,
        file="tenant/flows/greeting.yaml",
    )
    h = Harness(project(greeting))
    leg = MemoryCallLeg()
    await h.run(leg, "greeting")
    assert leg.prompts[0].audio == str(Path("tenant/flows/prompts/hello.wav"))
