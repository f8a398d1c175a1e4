"""The `send` node: queued means "will be sent"; with `wait` the gateway's answer picks the
edge (sent: next, no answer in time: on_pending, failed for good: on_error)."""

from __future__ import annotations

from decimal import Decimal

import pytest
import trio
from engine_harness import Harness, flow, heard, project
from trio.testing import MockClock

from ivr.runtime.testing import MemoryCallLeg, MemoryChannels, ScriptedDelivery

SENDER = flow(
    """
    flow: sender
    languages: [en]
    start: send
    nodes:
      send:
        type: send
        channel: email
        to: "'li.na@example.com'"
        message: "Statement {call.caller}"
        document: "'statement'"
        wait: 20s
        next: sent
        on_pending: later
        on_error: failed
      sent: {type: hangup, prompt: Sent}
      later: {type: hangup, prompt: Will be sent}
      failed: {type: hangup, prompt: Failed}
    """
)

QUEUE_ONLY = flow(
    """
    flow: queue_only
    languages: [en]
    start: send
    nodes:
      send:
        type: send
        channel: sms
        to: call.caller
        message: Your order is placed
        next: queued
        on_error: failed
      queued: {type: hangup, prompt: You will get a text}
      failed: {type: hangup, prompt: Failed}
    """
)


def harness(*deliveries: tuple[str, ScriptedDelivery]) -> Harness:
    return Harness(project(SENDER, QUEUE_ONLY), channels=MemoryChannels(deliveries=dict(deliveries)))


@pytest.mark.parametrize(
    ("delivery", "prompt", "waited"),
    [
        (ScriptedDelivery("sent", 3), "Sent", 3),
        (ScriptedDelivery("failed", 5), "Failed", 5),
        (ScriptedDelivery("sent", 25), "Will be sent", 20),
        (ScriptedDelivery("pending"), "Will be sent", 20),
    ],
)
async def test_a_waiting_send_takes_the_edge_of_the_gateways_answer_within_the_wait(
    autojump_clock: MockClock, delivery: ScriptedDelivery, prompt: str, waited: float
) -> None:
    h = harness(("email", delivery))
    leg = MemoryCallLeg()
    outcome = await h.run(leg, "sender")
    assert heard(leg) == [prompt] and outcome.how == "completed"
    [queued] = h.records.of("call-1", "message")
    [result] = h.records.of("call-1", "message_result")
    assert (result.at - queued.at).total_seconds() == pytest.approx(waited)
    assert queued.detail["outcome"] == "queued" and queued.detail["delivery"] == "msg-1"
    assert result.detail["result"] == {"Sent": "sent", "Failed": "failed"}.get(prompt, "pending")


async def test_a_send_without_wait_goes_on_once_queued(autojump_clock: MockClock) -> None:
    h = harness(("sms", ScriptedDelivery("pending")))
    leg = MemoryCallLeg("call-1", "13800138000")
    await h.run(leg, "queue_only")
    assert heard(leg) == ["You will get a text"] and trio.current_time() < 1
    [message] = h.channels.outbox
    assert (message.channel, message.to, message.message) == ("sms", "13800138000", "Your order is placed")
    assert not h.records.of("call-1", "message_result")


async def test_a_queued_message_records_where_it_came_from(autojump_clock: MockClock) -> None:
    h = harness()
    await h.run(MemoryCallLeg("call-7"), "sender")
    [message] = h.channels.outbox
    assert message.origin is not None
    assert (message.origin.call_id, message.origin.flow, message.origin.node) == ("call-7", "sender", "send")


async def test_a_refused_message_takes_on_error_without_waiting(autojump_clock: MockClock) -> None:
    h = Harness(project(SENDER), channels=MemoryChannels(failing=frozenset({"email"})))
    leg = MemoryCallLeg()
    await h.run(leg, "sender")
    assert heard(leg) == ["Failed"] and trio.current_time() < 1
    [message] = h.records.of("call-1", "message")
    assert message.detail["outcome"] == "error" and "down" in str(message.detail["error"])


async def test_a_hang_up_ends_the_wait_but_the_message_stays_queued(autojump_clock: MockClock) -> None:
    h = harness(("email", ScriptedDelivery("pending")))
    leg = MemoryCallLeg()

    async def hang_up_soon() -> None:
        await trio.sleep(2)
        leg.hang_up()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(hang_up_soon)
        outcome = await h.run(leg, "sender")
    assert outcome.how == "caller_hangup" and trio.current_time() == pytest.approx(2, abs=0.5)
    assert len(h.channels.outbox) == 1 and h.channels.result_of("msg-1") == "pending"


async def test_memory_channels_answer_a_final_result_again_at_once(autojump_clock: MockClock) -> None:
    channels = MemoryChannels(deliveries={"email": ScriptedDelivery("failed", 1)})
    delivery = await channels.send("email", "a@b.c", "hi", None)
    assert await channels.wait_delivery(delivery, Decimal(5)) == "failed"
    before = trio.current_time()
    assert await channels.wait_delivery(delivery, Decimal(5)) == "failed"
    assert trio.current_time() == before
