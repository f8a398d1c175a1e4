"""`Conversations`: the bookkeeping behind `CallControl`, shared by the agent connectors.

Place: used by `ivr.adapters.sip.agents.SipAgentConnector` and the in-memory
`ivr.adapters.cti.testing.DeskConnector`. A connector opens a `Conversation` when it rings
an agent and closes it when its bridge returns; the CTI's `hangup` and `hand_over` only set
flags and events here, and the connector's own task acts on them (so a desktop never
touches media or SIP directly, and a failing desktop cannot break the call).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import trio

from ivr.adapters.cti.calls import HandOver, NotConnected
from ivr.runtime.ports import CallEnded, CallLeg


@dataclass(slots=True, eq=False)
class Conversation:
    call_id: str
    end: trio.Event = field(default_factory=trio.Event)  # the agent side must end now
    talking: bool = False
    then: HandOver | None = None  # what the caller does next, after a hand-over
    released: trio.Event = field(default_factory=trio.Event)  # the agent side has ended
    next_scope: trio.CancelScope | None = None


class Conversations:
    def __init__(self) -> None:
        self._open: dict[str, Conversation] = {}

    def open(self, call_id: str) -> Conversation:
        conversation = self._open[call_id] = Conversation(call_id)
        return conversation

    def get(self, call_id: str) -> Conversation | None:
        return self._open.get(call_id)

    def close(self, conversation: Conversation) -> None:
        conversation.released.set()
        if self._open.get(conversation.call_id) is conversation:
            del self._open[conversation.call_id]

    async def hangup(self, call_id: str) -> None:
        conversation = self._open.get(call_id)
        if conversation is None:
            raise NotConnected(f"no agent is ringing or talking on call {call_id}")
        if conversation.next_scope is not None:
            conversation.next_scope.cancel()  # ends a transfer in progress too
        conversation.end.set()
        await trio.lowlevel.checkpoint()

    async def hand_over(self, call_id: str, then: HandOver) -> None:
        conversation = self._open.get(call_id)
        if conversation is None or not conversation.talking or conversation.end.is_set():
            raise NotConnected(f"call {call_id} is not talking to an agent")
        conversation.then = then
        conversation.end.set()
        await conversation.released.wait()

    @staticmethod
    async def run_next(conversation: Conversation, leg: CallLeg) -> None:
        """After the agent side ended: the hand-over's next step, if any (a caller hanging
        up there is the normal end of the bridge)."""
        conversation.released.set()
        then = conversation.then
        if then is None:
            return
        with trio.CancelScope() as scope:
            conversation.next_scope = scope
            try:
                await then(leg)
            except CallEnded:
                return
