"""The `MessageChannels` conformance suite: what every message-channel implementation does.

A check gets a fresh `MessageChannels` from the implementation's factory, set up with three
declared channels that all take the e-mail address `ADDRESS`:

    "ok"      its gateway accepts every message        -> wait_delivery: "sent"
    "broken"  its gateway refuses every message for good -> "failed" (dead-lettered)
    "silent"  its gateway never answers                 -> "pending" after the wait

and no channel named "undeclared". `MemoryChannels` passes with `memory_factory`; the
outbox adapter passes over real SMTP servers (tests/adapters/messaging). Checks run on a
real clock; the generous waits only matter when an implementation is broken.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from decimal import Decimal

import trio

from ivr.runtime.ports import DeliveryError, MessageChannels, MessageOrigin
from ivr.runtime.testing.channels import MemoryChannels, ScriptedDelivery

ADDRESS = "li.na@example.com"
SETTLE = Decimal(20)  # the longest a correct implementation may take to answer "ok"/"broken"
SHORT = Decimal("0.3")

ChannelsFactory = Callable[[], AbstractAsyncContextManager[MessageChannels]]
Check = Callable[[ChannelsFactory], Awaitable[None]]


async def send_returns_a_new_delivery_id_per_message(factory: ChannelsFactory) -> None:
    async with factory() as channels:
        origin = MessageOrigin("call-1", "account", "send_email")
        first = await channels.send("ok", ADDRESS, "one", None, origin=origin)
        second = await channels.send("ok", ADDRESS, "two", None)
        assert first and second and first != second


async def an_undeclared_channel_is_refused(factory: ChannelsFactory) -> None:
    async with factory() as channels:
        try:
            await channels.send("undeclared", ADDRESS, "hello", None)
        except DeliveryError as exc:
            assert "undeclared" in str(exc)
        else:
            raise AssertionError("send on an undeclared channel was accepted")


async def a_message_with_nothing_to_send_is_refused(factory: ChannelsFactory) -> None:
    async with factory() as channels:
        try:
            await channels.send("ok", ADDRESS, None, None)
        except DeliveryError as exc:
            assert "nothing to send" in str(exc)
        else:
            raise AssertionError("a message without text or document was accepted")


async def an_accepted_message_waits_to_sent(factory: ChannelsFactory) -> None:
    async with factory() as channels:
        delivery = await channels.send("ok", ADDRESS, "your statement", None)
        assert await channels.wait_delivery(delivery, SETTLE) == "sent"


async def a_refused_message_waits_to_failed(factory: ChannelsFactory) -> None:
    async with factory() as channels:
        delivery = await channels.send("broken", ADDRESS, "your statement", None)
        assert await channels.wait_delivery(delivery, SETTLE) == "failed"


async def a_silent_gateway_waits_to_pending_after_the_timeout(factory: ChannelsFactory) -> None:
    async with factory() as channels:
        delivery = await channels.send("silent", ADDRESS, "your statement", None)
        started = trio.current_time()
        assert await channels.wait_delivery(delivery, SHORT) == "pending"
        waited = trio.current_time() - started
        assert float(SHORT) * 0.9 <= waited < float(SETTLE), waited


async def a_final_result_is_answered_at_once(factory: ChannelsFactory) -> None:
    async with factory() as channels:
        delivery = await channels.send("ok", ADDRESS, "your statement", None)
        assert await channels.wait_delivery(delivery, SETTLE) == "sent"
        with trio.fail_after(float(SETTLE)):  # a zero wait must not report "pending" any more
            assert await channels.wait_delivery(delivery, Decimal(0)) == "sent"


async def an_unknown_delivery_id_is_a_delivery_error(factory: ChannelsFactory) -> None:
    async with factory() as channels:
        try:
            await channels.wait_delivery("no-such-delivery", SHORT)
        except DeliveryError:
            return
        raise AssertionError("wait_delivery of an unknown id did not raise DeliveryError")


async def waiting_is_cancellable(factory: ChannelsFactory) -> None:
    async with factory() as channels:
        delivery = await channels.send("silent", ADDRESS, "your statement", None)
        with trio.move_on_after(float(SHORT)) as scope:
            await channels.wait_delivery(delivery, SETTLE)
        assert scope.cancelled_caught  # a caller who hangs up stops the wait at once


CHECKS: tuple[Check, ...] = (
    send_returns_a_new_delivery_id_per_message,
    an_undeclared_channel_is_refused,
    a_message_with_nothing_to_send_is_refused,
    an_accepted_message_waits_to_sent,
    a_refused_message_waits_to_failed,
    a_silent_gateway_waits_to_pending_after_the_timeout,
    a_final_result_is_answered_at_once,
    an_unknown_delivery_id_is_a_delivery_error,
    waiting_is_cancellable,
)


@asynccontextmanager
async def memory_factory() -> AsyncIterator[MessageChannels]:
    """`MemoryChannels` set up as the checks expect."""
    yield MemoryChannels(
        deliveries={
            "ok": ScriptedDelivery("sent", 0.05),
            "broken": ScriptedDelivery("failed", 0.05),
            "silent": ScriptedDelivery("pending"),
        },
        channels=frozenset({"ok", "broken", "silent"}),
    )


async def run_all(factory: ChannelsFactory) -> None:
    for check in CHECKS:
        await check(factory)
