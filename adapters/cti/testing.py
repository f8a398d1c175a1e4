"""`DeskConnector`: an in-memory agent connector with call control, shipped as real code.

Place: beside the CTI adapter, for tests, demos and the simulator: it implements the ACD's
`AgentConnector` port and the CTI's `CallControl` without SIP. The agent's "phone" answers
after `answer_after` seconds (trio clock) unless the desktop hangs up (declines) first; the
conversation lasts until the caller or the desktop hangs up, or the desktop transfers it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import trio

from ivr.adapters.cti.calls import HandOver
from ivr.adapters.cti.control import Conversations
from ivr.runtime.ports import AgentEndpoint, CallEnded, CallLeg, HangupWatch


@dataclass(slots=True, eq=False)
class DeskConnector:
    answer_after: float = 0.5
    conversations: Conversations = field(default_factory=Conversations)
    offers: list[tuple[str, str, dict[str, object]]] = field(default_factory=list)  # call, agent, screen
    bridged: list[tuple[str, str]] = field(default_factory=list)

    async def ring(
        self, leg: CallLeg, agent: AgentEndpoint, *, ring_timeout: Decimal, screen: Mapping[str, object]
    ) -> str:
        self.offers.append((leg.call_id, agent.agent_id, dict(screen)))
        conversation = self.conversations.open(leg.call_id)
        left = False
        with trio.move_on_after(min(self.answer_after, float(ring_timeout))):
            left = await _first_of(conversation.end, leg)
        answered = not conversation.end.is_set() and self.answer_after <= float(ring_timeout)
        if left:
            self.conversations.close(conversation)
            raise CallEnded(leg.call_id)
        if not answered:
            self.conversations.close(conversation)
            return "no_answer"
        return "answered"

    async def bridge(self, leg: CallLeg, agent: AgentEndpoint) -> None:
        conversation = self.conversations.get(leg.call_id) or self.conversations.open(leg.call_id)
        conversation.talking = True
        self.bridged.append((leg.call_id, agent.agent_id))
        try:
            if not await _first_of(conversation.end, leg):
                await self.conversations.run_next(conversation, leg)
        finally:
            self.conversations.close(conversation)

    async def hangup(self, call_id: str) -> None:
        await self.conversations.hangup(call_id)

    async def hand_over(self, call_id: str, then: HandOver) -> None:
        await self.conversations.hand_over(call_id, then)


async def _first_of(event: trio.Event, leg: CallLeg) -> bool:
    """Until `event` is set or the caller hangs up (on legs that can tell): True if the
    caller did."""
    left = False
    async with trio.open_nursery() as nursery:

        async def caller_left() -> None:
            nonlocal left
            if isinstance(leg, HangupWatch):
                await leg.wait_ended()
                left = True
                nursery.cancel_scope.cancel()

        nursery.start_soon(caller_left)
        await event.wait()
        nursery.cancel_scope.cancel()
    return left
