"""Helpers for the ACD tests: start queued callers and record how each call went."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import trio

from ivr.runtime.acd import Acd
from ivr.runtime.ports import CallEnded, QueueRequest
from ivr.runtime.testing import MemoryCallLeg


def request(
    *, queue: str = "general", skills: Sequence[str] = (), priority: int = 0, max_wait: float | None = None
) -> QueueRequest:
    wait = None if max_wait is None else Decimal(str(max_wait))
    return QueueRequest(queue, tuple(skills), priority, {"account": "A-1"}, wait)


class Callers:
    """Queued callers started in a nursery; `outcomes` maps call id to the answer (or
    "hung_up" when the caller left)."""

    def __init__(self, acd: Acd, nursery: trio.Nursery) -> None:
        self.acd, self.nursery = acd, nursery
        self.legs: dict[str, MemoryCallLeg] = {}
        self.outcomes: dict[str, str] = {}
        self.ended_at: dict[str, float] = {}

    def start(self, call_id: str, **kwargs: object) -> MemoryCallLeg:
        leg = MemoryCallLeg(call_id=call_id)
        self.legs[call_id] = leg
        self.nursery.start_soon(self._run, leg, request(**kwargs))  # type: ignore[arg-type]
        return leg

    async def _run(self, leg: MemoryCallLeg, queued: QueueRequest) -> None:
        try:
            self.outcomes[leg.call_id] = await self.acd.enqueue(leg, queued)
        except CallEnded:
            self.outcomes[leg.call_id] = "hung_up"
        self.ended_at[leg.call_id] = trio.current_time()
