"""The delivery worker over a scripted gateway: one bad attempt never stops a channel, a
gateway that never answers is in doubt after the channel's timeout, and a shutdown lets
the attempt under way finish instead of leaving it `sending`."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import trio
from gateways import eventually, running, service

from ivr.adapters.messaging import open_messaging
from ivr.adapters.messaging.store import StoredMessage
from ivr.adapters.messaging.testing import ScriptedTransport
from ivr.adapters.messaging.transport import Attempt, Handoff

CHANNEL = "sms: {kind: sms, timeout: 200ms, retry: {attempts: 3, backoff: 50ms}}"


class Broken(ScriptedTransport):
    """Raises on the first attempt (a bug), then delivers."""

    async def deliver(self, message: StoredMessage, handoff: Handoff) -> Attempt:
        if not self.attempts:
            self.attempts.append(message)
            raise ValueError("a bug in the gateway adapter")
        return await super().deliver(message, handoff)


async def test_a_bug_in_a_transport_is_logged_and_retried(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    transport = Broken()
    async with running(tmp_path / "o.db", service(CHANNEL), transports={"sms": transport}) as messaging:
        delivery = await messaging.channels.send("sms", "13800138000", "hi", None)
        assert await messaging.channels.wait_delivery(delivery, Decimal(10)) == "sent"
        attempts = await messaging.outbox.attempts(delivery)
    assert (attempts[0].outcome, attempts[0].detail) == (
        "retry",
        "unexpected error: ValueError: a bug in the gateway adapter",
    )
    assert "a bug in the gateway adapter" in caplog.text


async def test_a_gateway_that_never_answers_is_in_doubt_after_the_timeout(tmp_path: Path) -> None:
    transport = ScriptedTransport(hang=True)
    async with running(tmp_path / "o.db", service(CHANNEL), transports={"sms": transport}) as messaging:
        delivery = await messaging.channels.send("sms", "13800138000", "hi", None)
        assert await messaging.channels.wait_delivery(delivery, Decimal(10)) == "pending"
        stored = await messaging.outbox.get(delivery)
    assert (
        stored is not None and stored.status == "in_doubt" and stored.last_error == "no answer within 1.2 s"
    )


async def test_a_shutdown_lets_the_attempt_under_way_finish(tmp_path: Path) -> None:
    transport = ScriptedTransport(delay=0.5)
    path = tmp_path / "o.db"
    async with open_messaging(path, service(CHANNEL), {}, transports={"sms": transport}) as messaging:
        delivery = await messaging.channels.send("sms", "13800138000", "hi", None)
        async with trio.open_nursery() as nursery:
            await nursery.start(messaging.run)
            await eventually(lambda: transport.attempts)
            nursery.cancel_scope.cancel()  # SIGTERM, while the gateway is being talked to
        stored = await messaging.outbox.get(delivery)
    assert stored is not None and stored.status == "sent" and len(transport.delivered) == 1


async def test_waiters_on_one_message_all_hear_its_result(tmp_path: Path) -> None:
    transport = ScriptedTransport(["retry", "sent"], delay=0.1)
    async with running(tmp_path / "o.db", service(CHANNEL), transports={"sms": transport}) as messaging:
        delivery = await messaging.channels.send("sms", "13800138000", "hi", None)
        results: list[str] = []

        async def wait() -> None:
            results.append(await messaging.channels.wait_delivery(delivery, Decimal(10)))

        async with trio.open_nursery() as nursery:
            for _ in range(3):
                nursery.start_soon(wait)
    assert results == ["sent", "sent", "sent"]
