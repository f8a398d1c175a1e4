"""Queue callbacks, driven on the trio clock: the offer while a caller holds, the kept
place's journal, and the call back to the customer when their place reaches an agent.

Place: a part of `ivr.runtime.acd.service.Acd`, kept apart to keep each module small. The
core keeps the place (`ivr.runtime.acd.places`); this module reaches the world only through
ports: the `Dialer` (the trunk dialer, with its idle-capacity rule) and the
`CallbackJournal` (durable places and their steps).

When a kept place is offered an agent (free now, or `wrap_up_lead` seconds before its
wrap-up ends: `AcdSettings.callback_lead`), the agent is reserved (nobody else gets it) and the
customer is dialled through `trunk`, if the trunk has an idle channel (otherwise the agent
is released and the place is tried again after `no_channel_wait`). Answered, the customer
is connected to that agent like any caller; not answered (busy, no answer, failed), the
agent is released and the place waits `retry_after` out of routing, up to `attempts`
calls; then it is given up and journaled as such.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import trio

from ivr.runtime.acd.offer import offer_callback, offer_due
from ivr.runtime.ports import CallbackJournal, CallbackOffer, CallbackStep, CallLeg, Dialer, DialOutcome

UNREACHED: dict[DialOutcome, CallbackStep] = {
    "answered": "no_answer",  # up, but gone before the flow could start
    "machine": "machine",
    "busy": "busy",
    "no_answer": "no_answer",
    "failed": "failed",
    "yielded": "yielded",
}


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class CallbackSettings:
    """How kept places are called back: through `trunk` of `dialer`, each call ringing up to
    `ring_timeout`, at most `attempts` calls `retry_after` seconds apart."""

    dialer: Dialer
    journal: CallbackJournal
    trunk: str
    ring_timeout: Decimal = Decimal(30)
    attempts: int = 3
    retry_after: float = 120.0
    no_channel_wait: float = 5.0
    wrap_up_lead: float = 10.0  # an agent whose wrap-up ends this soon may be reserved already
    wall_clock: Callable[[], datetime] = field(default=_utc_now)


async def hold_offering(
    leg: CallLeg,
    offer: CallbackOffer | None,
    due: float,
    hold: Callable[[], Awaitable[None]],
    offered: Callable[[], Awaitable[None]],
) -> bool:
    """Hold (`hold()` never returns) until `due`, then play the offer once: True when the
    caller pressed its key; otherwise hold on until cancelled."""
    if offer is not None:
        with trio.move_on_at(due):
            await hold()
        await offered()
        if await offer_callback(leg, offer):
            return True
    await hold()
    return False


__all__ = ["UNREACHED", "CallbackSettings", "hold_offering", "offer_due"]
