"""`Transport`: how a delivery worker hands one message to one gateway, and what came back.

Place: the seam between `worker` (claims, retries, records) and the gateways (`smtp`,
`sms`; `testing.ScriptedTransport` in tests). A transport makes one attempt and says how it
went as an `Attempt`, never by raising for a gateway's answer:

    sent      the gateway accepted the message (SMTP 250 after DATA, HTTP 2xx + success rule)
    retry     it did not take the message, but may later (4xx SMTP reply, HTTP 5xx/429,
              connection refused, a timeout before the hand-over)
    failed    it refused the message for good (5xx SMTP reply, HTTP 4xx, a document that
              cannot be rendered): no retry
    in_doubt  the answer was lost after the hand-over began (timeout, dropped connection):
              the gateway may have the message

The transport calls `handoff()` just before the first byte that can deliver the message
leaves (SMTP: before DATA, once the server took sender and recipient; HTTP: before the
request): the worker makes that durable, so a crash after it is known to be "in doubt".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from ivr.adapters.messaging.store import StoredMessage

AttemptOutcome = Literal["sent", "retry", "failed", "in_doubt"]
Handoff = Callable[[], Awaitable[None]]
MAX_DETAIL = 300


@dataclass(frozen=True)
class Attempt:
    """How one attempt went; `detail` is for operators (never a secret, never the text)."""

    outcome: AttemptOutcome
    detail: str
    gateway_ref: str | None = None

    @classmethod
    def of(cls, outcome: AttemptOutcome, detail: str, gateway_ref: str | None = None) -> Attempt:
        text = " ".join(detail.split())
        return cls(outcome, text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 1] + "…", gateway_ref)


class Transport(Protocol):
    """One gateway. `deliver` makes one attempt; it must return within its own timeout."""

    async def deliver(self, message: StoredMessage, handoff: Handoff) -> Attempt: ...

    async def aclose(self) -> None: ...
