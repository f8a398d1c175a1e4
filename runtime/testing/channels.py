"""`MemoryChannels` (the `MessageChannels` port: an outbox list) and `ScriptedRouting`
(the `AgentRouting` port: each queue answers as configured, after a virtual wait)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import trio

from ivr.runtime.ports import CallLeg, DeliveryError, QueueOutcome, QueueRequest


@dataclass(frozen=True, slots=True)
class SentMessage:
    channel: str
    to: str
    message: str | None
    document: object | None
    delivery_id: str


@dataclass(slots=True, eq=False)
class MemoryChannels:
    """Delivers to `outbox`; channels named in `failing` raise `DeliveryError`."""

    outbox: list[SentMessage] = field(default_factory=list)
    failing: frozenset[str] = frozenset()

    async def send(self, channel: str, to: str, message: str | None, document: object | None) -> str:
        await trio.lowlevel.checkpoint()
        if channel in self.failing:
            raise DeliveryError(f"channel '{channel}' is down (fixture)")
        delivery_id = f"msg-{len(self.outbox) + 1}"
        self.outbox.append(SentMessage(channel, to, message, document, delivery_id))
        return delivery_id


@dataclass(frozen=True, slots=True)
class QueueAnswer:
    outcome: QueueOutcome = "completed"
    wait: float = 0.0


@dataclass(slots=True, eq=False)
class ScriptedRouting:
    """Each queue answers `QueueAnswer` (default: an agent takes the call at once)."""

    answers: Mapping[str, QueueAnswer] = field(default_factory=dict)
    requests: list[QueueRequest] = field(default_factory=list)

    async def enqueue(self, leg: CallLeg, request: QueueRequest) -> QueueOutcome:
        self.requests.append(request)
        answer = self.answers.get(request.queue, QueueAnswer())
        await trio.sleep(answer.wait)
        return answer.outcome
