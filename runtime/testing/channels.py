"""`MemoryChannels` (the `MessageChannels` port: an outbox list whose channels answer as
scripted, on the trio clock) and `ScriptedRouting` (the `AgentRouting` port: each queue
answers as configured, after a virtual wait)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import trio

from ivr.runtime.acd.offer import offer_callback
from ivr.runtime.ports import (
    CallLeg,
    DeliveryError,
    DeliveryResult,
    MessageOrigin,
    QueueOutcome,
    QueueRequest,
)


@dataclass(frozen=True, slots=True)
class SentMessage:
    """One message `MemoryChannels.send` queued (`queued_at`: trio clock seconds)."""

    channel: str
    to: str
    message: str | None
    document: object | None
    delivery_id: str
    origin: MessageOrigin | None = None
    queued_at: float = 0.0


@dataclass(frozen=True, slots=True)
class ScriptedDelivery:
    """How a channel's gateway answers a queued message: `result` once `after` seconds have
    passed since it was queued; "pending" never answers."""

    result: DeliveryResult = "sent"
    after: float = 0.0


@dataclass(slots=True, eq=False)
class MemoryChannels:
    """Queues to `outbox`. Channels in `failing` refuse at `send` (`DeliveryError`); each
    channel's gateway answers per `deliveries` (default: "sent" at once). With `channels`
    given, any other channel name is refused, as a real outbox refuses an undeclared one."""

    outbox: list[SentMessage] = field(default_factory=list)
    failing: frozenset[str] = frozenset()
    deliveries: Mapping[str, ScriptedDelivery] = field(default_factory=dict)
    channels: frozenset[str] | None = None

    async def send(
        self,
        channel: str,
        to: str,
        message: str | None,
        document: object | None,
        *,
        origin: MessageOrigin | None = None,
    ) -> str:
        await trio.lowlevel.checkpoint()
        if self.channels is not None and channel not in self.channels:
            raise DeliveryError(f"no channel {channel!r} (the service declares {sorted(self.channels)})")
        if channel in self.failing:
            raise DeliveryError(f"channel '{channel}' is down (fixture)")
        if message is None and document is None:
            raise DeliveryError(f"nothing to send on channel {channel!r}: no message and no document")
        delivery_id = f"msg-{len(self.outbox) + 1}"
        queued = SentMessage(channel, to, message, document, delivery_id, origin, trio.current_time())
        self.outbox.append(queued)
        return delivery_id

    async def wait_delivery(self, delivery_id: str, timeout: Decimal) -> DeliveryResult:
        message = self._find(delivery_id)
        script = self.deliveries.get(message.channel, ScriptedDelivery())
        remaining = message.queued_at + script.after - trio.current_time()
        if script.result == "pending" or remaining > float(timeout):
            await trio.sleep(float(timeout))
            return "pending"
        await trio.sleep(max(0.0, remaining))
        return script.result

    def result_of(self, delivery_id: str) -> DeliveryResult:
        """The message's result at this moment on the trio clock (for tests)."""
        message = self._find(delivery_id)
        script = self.deliveries.get(message.channel, ScriptedDelivery())
        if script.result == "pending" or trio.current_time() < message.queued_at + script.after:
            return "pending"
        return script.result

    def _find(self, delivery_id: str) -> SentMessage:
        for message in self.outbox:
            if message.delivery_id == delivery_id:
                return message
        raise DeliveryError(f"no message with delivery id {delivery_id!r}")


@dataclass(frozen=True, slots=True)
class QueueAnswer:
    outcome: QueueOutcome = "completed"
    wait: float = 0.0


@dataclass(slots=True, eq=False)
class ScriptedRouting:
    """Each queue answers `QueueAnswer` (default: an agent takes the call at once). A
    request with a callback offer whose `after` the scripted wait reaches hears the offer
    then (as in the live queue); pressing its key answers "callback"."""

    answers: Mapping[str, QueueAnswer] = field(default_factory=dict)
    requests: list[QueueRequest] = field(default_factory=list)

    async def enqueue(self, leg: CallLeg, request: QueueRequest) -> QueueOutcome:
        self.requests.append(request)
        answer = self.answers.get(request.queue, QueueAnswer())
        offer = request.callback
        if offer is not None and answer.wait >= float(offer.after):
            started = trio.current_time()
            await trio.sleep(float(offer.after))
            if await offer_callback(leg, offer):
                return "callback"
            await trio.sleep_until(started + answer.wait)
            return answer.outcome
        await trio.sleep(answer.wait)
        return answer.outcome
